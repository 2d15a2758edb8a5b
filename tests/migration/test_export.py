"""``leanorm export``: a backend's data in the export layout, which ``leanorm import`` takes back whole."""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import leanorm
from leanorm.transfer.exporter import export_backend
from leanorm.transfer.importer import import_export
from leanorm.transfer.verify import verify
from tests.served import serve

from .test_migrate import _source_with_users_and_files

ROOT = Path(__file__).resolve().parents[2]


def test_export_then_import_gives_the_same_data(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    with serve(tmp_path / "source.sqlite3") as src, serve(tmp_path / "copy.sqlite3") as dst:
        source = leanorm.connect(src.leanorm_url, default=False)
        _source_with_users_and_files(source, tag)
        with leanorm.using_master():
            source.request("POST", f"classes/MigShelf{tag}", body={"objectId": f"s1{tag}", "docs": {
                "__op": "AddRelation", "objects": [{"__type": "Pointer", "className": f"MigDoc{tag}",
                                                    "objectId": f"d1{tag}"}]}})
        done = subprocess.run([sys.executable, "-m", "leanorm.cli", "export", src.leanorm_url, str(tmp_path / "out"),
                               "--no-progress"], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert "exported without password hashes" in done.stdout
        out = tmp_path / "out"
        assert (out / f"_Join:docs:MigShelf{tag}.jsonl").read_text().strip() == \
            f'{{"owningId": "s1{tag}", "relatedId": "d1{tag}"}}'
        assert sorted(p.read_bytes() for p in (out / "files").iterdir()) == [b"document bytes", b"\x89PNG logo bytes"]

        again = export_backend(source, out)  # resumes: everything is there
        assert all("earlier run" in " ".join(r.notes) for r in again.values())
        assert export_backend(source, tmp_path / "recent", since="2999-01-01T00:00:00.000Z")[f"MigDoc{tag}"].copied == 0

        target = leanorm.connect(dst.leanorm_url, default=False)
        reports = import_export(out, target)
        assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
        assert {n: c.differences for n, c in verify(source, target).items() if c.differences} == {}
        source.close()
        target.close()
