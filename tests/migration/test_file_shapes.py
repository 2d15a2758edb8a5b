"""A file column in both shapes (issue 19, item 4): LeanCloud lets one column hold File values in some rows
and Pointers to ``_File`` in others. The import writes the column in one shape, and a ``FileField`` reads
either as a ``File``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import leanorm
from leanorm import File, FileField, Model
from leanorm.transfer.file_copies import download
from leanorm.transfer.importer import import_export


class ShapePost(Model):
    image: Optional[File] = FileField()


def _export(folder: Path, images: List[Dict[str, Any]]) -> Path:
    (folder / "files").mkdir(parents=True)
    for number in range(len(images)):
        (folder / "files" / f"f{number}").write_bytes(b"bytes of file %d" % number)
    (folder / "_File.jsonl").write_text("".join(json.dumps({"objectId": f"f{n}", "name": f"img{n}.png"}) + "\n"
                                                for n in range(len(images))))
    (folder / "ShapePost.jsonl").write_text("".join(json.dumps({"objectId": f"p{n}", "image": image}) + "\n"
                                                    for n, image in enumerate(images)))
    return folder


def _file(number: int) -> Dict[str, Any]:
    return {"__type": "File", "id": f"f{number}", "name": f"img{number}.png", "url": f"https://old.example/f{number}"}


def _pointer(number: int) -> Dict[str, Any]:
    return {"__type": "Pointer", "className": "_File", "objectId": f"f{number}"}


def test_a_column_of_file_values_and_pointers_imports_whole(tmp_path: Path) -> None:
    export = _export(tmp_path / "export", [_file(0), _pointer(1), _file(2), _pointer(3)])
    target = leanorm.connect("local://:memory:", default=False)
    reports = import_export(export, target)
    assert reports["ShapePost"].copied == 4 and not reports["ShapePost"].failed, reports["ShapePost"].lines()
    with leanorm.using(target):
        posts = sorted(ShapePost.objects.all(), key=lambda post: post.id)
        assert [type(post.image) for post in posts] == [File] * 4
        assert [download(post.image.url, client=target).read() for post in posts] == [
            b"bytes of file %d" % n for n in range(4)]
    target.close()


def test_a_file_field_reads_a_column_of_pointers_as_files(tmp_path: Path) -> None:
    export = _export(tmp_path / "export", [_pointer(0), _pointer(1)])
    target = leanorm.connect("local://:memory:", default=False)
    assert all(r.ok for r in import_export(export, target).values())
    with leanorm.using_master():
        stored = target.request("GET", "classes/ShapePost/p0")["image"]
    assert stored["__type"] == "Pointer"  # the column keeps the shape it had
    with leanorm.using(target):
        post = ShapePost.objects.get(id="p0")
        assert isinstance(post.image, File)
        assert post.image.name == "img0.png"
        assert download(post.image.url, client=target).read() == b"bytes of file 0"
    target.close()
