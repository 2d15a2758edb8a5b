"""The layout of a data export, read from a directory, a ``.tar.gz`` or a ``.zip``.

One file per class: ``<Class>.jsonl`` (JSON Lines, LeanCloud's console export and ``leanorm export``:
read line by line, in constant memory) or ``<Class>.json`` (a JSON array or ``{"results": [...]}``,
which the console's import also takes: read whole). Relation members are in
``_Join:<key>:<OwnerClass>.jsonl`` with ``{"owningId", "relatedId"}`` rows. File bytes, when the export
has them, are under ``files/`` named by the ``_File`` row's objectId (``leanorm export``), key or name.
Rows are REST-shaped (``objectId``, ``createdAt``, ``updatedAt``, ``ACL``, ``__type`` values).

>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "Note.jsonl").write_text(json.dumps({"objectId": "n1"}) + "\\nnot json\\n")
>>> export = open_export(folder)
>>> [(row.where, row.data, row.error) for row in export.rows(export.classes()["Note"])]
[('Note.jsonl:1', {'objectId': 'n1'}, None), ('Note.jsonl:2', None, 'not a JSON object: Expecting value')]
"""
from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Dict, Iterator, List, Optional, Tuple, Union, cast

__all__ = ["Row", "Join", "Export", "open_export", "JOIN_PREFIX", "FILES_DIR", "part_of_a_file_name"]

JOIN_PREFIX = "_Join:"
FILES_DIR = "files"
_SUFFIXES = (".jsonl", ".json")


def part_of_a_file_name(name: Any) -> str:
    """``name`` (a class, field or file name a backend answered) as it goes into the name of a file of the
    export; ValueError when it could lead out of its folder or is no name at all (a separator, ``..``,
    NUL), as a hostile or broken source may answer.

    >>> part_of_a_file_name("Post")
    'Post'
    >>> part_of_a_file_name("../../home/me/.bashrc")
    Traceback (most recent call last):
    ...
    ValueError: '../../home/me/.bashrc' is not a name a file of the export can carry
    """
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError(f"{name!r} is not a name a file of the export can carry")
    return name


@dataclass(frozen=True)
class Row:
    """One object of an export: its ``data``, or the ``error`` that made the line unreadable, and
    ``where`` it is (``file:line``)."""

    where: str
    data: Optional[Dict[str, Any]]
    error: Optional[str] = None


@dataclass(frozen=True)
class Join:
    """A relation file: the members of ``owner``'s relation field ``key``."""

    key: str
    owner: str
    member: str


class Export:
    """An export's files, whatever holds them (see the module)."""

    def __init__(self, source: Union[str, "os.PathLike[str]"]) -> None:
        self.source = Path(source)
        self._tar: Optional[tarfile.TarFile] = None
        self._zip: Optional[zipfile.ZipFile] = None
        self._members: Dict[str, str] = {}  # path inside the export (no leading folder) -> how to open it
        if self.source.is_dir():
            for path in self.source.rglob("*"):
                if path.is_file():
                    self._members[path.relative_to(self.source).as_posix()] = str(path)
        elif zipfile.is_zipfile(self.source):
            self._zip = zipfile.ZipFile(self.source)
            self._members = {n: n for n in self._zip.namelist() if not n.endswith("/")}
        elif tarfile.is_tarfile(self.source):
            self._tar = tarfile.open(self.source)
            self._members = {m.name: m.name for m in self._tar.getmembers() if m.isfile()}
        else:
            raise ValueError(f"{source}: not a directory, .tar.gz or .zip export")
        self._members = _without_common_folder(self._members)

    def open(self, name: str) -> BinaryIO:
        """The bytes of one file of the export (``name`` as :meth:`classes` gives it)."""
        where = self._members[name]
        if self._zip is not None:
            return cast(BinaryIO, self._zip.open(where))
        if self._tar is not None:
            handle = self._tar.extractfile(where)
            assert handle is not None  # members are regular files
            return cast(BinaryIO, handle)
        return open(where, "rb")

    def classes(self) -> Dict[str, str]:
        """Class name -> its file, for every object file (relation files are :meth:`joins`)."""
        out: Dict[str, str] = {}
        for name in sorted(self._members):
            base = name.rsplit("/", 1)[-1]
            if "/" in name or base.startswith((JOIN_PREFIX, ".")):  # dot files: an export's own progress log
                continue
            for suffix in _SUFFIXES:
                if base.endswith(suffix) and len(base) > len(suffix):
                    out.setdefault(base[:-len(suffix)], name)
        return out

    def joins(self) -> List[Tuple[Join, str]]:
        """Every relation file, as (:class:`Join` without the member class, file name); the member class
        comes from the owner's Relation values or the target's schema."""
        out = []
        for name in sorted(self._members):
            if name.startswith(JOIN_PREFIX) and name.endswith(_SUFFIXES):
                stem = name[:-len(".jsonl")] if name.endswith(".jsonl") else name[:-len(".json")]
                _, key, owner = stem.split(":", 2) if stem.count(":") >= 2 else (None, "", "")
                if key and owner:
                    out.append((Join(key, owner, ""), name))
        return out

    def file_named(self, *names: Optional[str]) -> Optional[str]:
        """The export's file under ``files/`` for the first of ``names`` that is there (for :meth:`open`)."""
        for name in names:
            if name and f"{FILES_DIR}/{name}" in self._members:
                return f"{FILES_DIR}/{name}"
        return None

    def rows(self, name: str) -> Iterator[Row]:
        """The objects of one file, in order; a line that is not a JSON object is a :class:`Row` with
        its error (so it is reported, never dropped)."""
        with self.open(name) as raw:
            if name.endswith(".json"):
                yield from _document_rows(name, raw)
                return
            for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), 1):
                if line.strip():
                    yield _row(f"{name}:{number}", line)

    def close(self) -> None:
        for archive in (self._tar, self._zip):
            if archive is not None:
                archive.close()

    def __enter__(self) -> "Export":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _row(where: str, text: str) -> Row:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Row(where, None, f"not a JSON object: {str(exc).split(':')[0]}")
    if not isinstance(data, dict):
        return Row(where, None, f"not a JSON object: a {type(data).__name__}")
    return Row(where, data)


def _document_rows(name: str, raw: IO[bytes]) -> Iterator[Row]:
    text = raw.read().decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:  # a .json file holding JSON Lines
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield _row(f"{name}:{number}", line)
        return
    items = document.get("results") if isinstance(document, dict) else document
    if not isinstance(items, list):
        yield Row(f"{name}:1", None, 'expected a JSON array or {"results": [...]}')
        return
    for index, item in enumerate(items):
        where = f"{name}:[{index}]"
        yield Row(where, item) if isinstance(item, dict) else \
            Row(where, None, f"not a JSON object: a {type(item).__name__}")


def _without_common_folder(members: Dict[str, str]) -> Dict[str, str]:
    """An archive of ``export/Note.jsonl ...`` reads as ``Note.jsonl ...``."""
    tops = {name.split("/", 1)[0] for name in members}
    if len(tops) == 1 and all("/" in name for name in members):
        return {name.split("/", 1)[1]: where for name, where in members.items()}
    return members


def open_export(source: Union[str, "os.PathLike[str]"]) -> Export:
    """The export at ``source`` (a directory, ``.tar.gz`` or ``.zip``)."""
    return Export(source)
