"""Issue 19 §6: ``leanorm index`` recreates the indexes an import does not carry (by name, or from the
``metadata.json`` files of LeanCloud's backup export, a mongodump)."""
import json

import pytest

import leanorm
from leanorm.cli import main
from leanorm.errors import DuplicateValue


def _duplicate_refused(url: str, class_name: str, field: str) -> bool:
    client = leanorm.connect(url, default=False)
    try:
        with leanorm.using(client):
            client.request("POST", f"classes/{class_name}", body={field: "same"})
            try:
                client.request("POST", f"classes/{class_name}", body={field: "same"})
            except DuplicateValue:
                return True
            return False
    finally:
        client.close()


def test_leanorm_index_makes_a_unique_index(tmp_path, capsys):
    url = f"local://{tmp_path / 'app.sqlite3'}"
    assert main(["index", url, "Link.code", "--unique"]) == 0
    assert "Link.code: unique index" in capsys.readouterr().out
    assert _duplicate_refused(url, "Link", "code")
    assert not _duplicate_refused(url, "Link", "other")


def test_leanorm_index_reads_a_backup_exports_metadata(tmp_path, capsys):
    backup = tmp_path / "backup" / "appdb"
    backup.mkdir(parents=True)
    (backup / "Link.metadata.json").write_text(json.dumps({"collectionName": "Link", "indexes": [
        {"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"},
        {"v": {"$numberInt": "2"}, "key": {"code": {"$numberInt": "1"}}, "name": "code_1", "unique": True},
        {"v": 2, "key": {"owner": 1, "code": -1}, "name": "owner_1_code_-1"},
        {"v": 2, "key": {"_p_owner": 1}, "name": "_p_owner_1"},
    ]}))
    url = f"local://{tmp_path / 'app.sqlite3'}"
    assert main(["index", url, "--from-backup", str(tmp_path / "backup")]) == 0
    out = capsys.readouterr().out
    assert "Link.code: unique index" in out and "Link.owner: index" in out
    assert "skipped: Link index owner_1_code_-1: compound" in out
    assert _duplicate_refused(url, "Link", "code")


def test_leanorm_index_needs_a_field(tmp_path):
    with pytest.raises(SystemExit, match="Class.field"):
        main(["index", f"local://{tmp_path / 'app.sqlite3'}"])


def test_leanorm_index_says_what_a_backend_cannot_do(tmp_path):
    url = f"local://{tmp_path / 'app.sqlite3'}"
    client = leanorm.connect(url, default=False)
    with leanorm.using(client):
        for _ in range(2):
            client.request("POST", "classes/Link", body={"code": "same"})
    client.close()
    with pytest.raises(SystemExit, match=r"Link.code: \[137\]"):
        main(["index", url, "Link.code", "--unique"])
