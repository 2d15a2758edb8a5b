"""``leanorm migrate SOURCE TARGET`` copies every class between backends and reports per class."""
import subprocess
import sys

import leanorm


def test_migrate_command_copies_every_class(tmp_path):
    source_url, target_url = f"local://{tmp_path}/source.sqlite3", f"local://{tmp_path}/target.sqlite3"
    source = leanorm.connect(source_url, default=False)
    with leanorm.using_master():
        ids = [source.request("POST", "classes/Note", body={"text": t})["objectId"] for t in ("a", "b")]
        source.request("POST", "classes/Tag", body={"name": "x"})
    source.close()

    done = subprocess.run([sys.executable, "-m", "leanorm.cli", "migrate", source_url, target_url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Note: 2 copied, 0 failed" in done.stdout and "Tag: 1 copied, 0 failed" in done.stdout

    target = leanorm.connect(target_url, default=False)
    with leanorm.using_master():
        rows = target.request("GET", "classes/Note", {"order": "objectId"})["results"]
    assert sorted(ids) == [r["objectId"] for r in rows] and sorted(r["text"] for r in rows) == ["a", "b"]
    target.close()


def test_every_command_takes_the_classes_in_one_spelling(tmp_path):
    """``--classes A,B`` limits migrate and inspect as it does import, export and verify; the former
    ``--class A`` (repeatable) still works."""
    source_url = f"local://{tmp_path}/source.sqlite3"
    source = leanorm.connect(source_url, default=False)
    with leanorm.using_master():
        for name in ("Note", "Tag", "Other"):
            source.request("POST", f"classes/{name}", body={"text": name})
    source.close()

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "leanorm.cli", *args], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    copied = run("migrate", source_url, f"local://{tmp_path}/target.sqlite3", "--classes", "Note,Tag")
    assert "Note: 1 copied" in copied and "Tag: 1 copied" in copied and "Other" not in copied
    inspected = run("inspect", source_url, "--class", "Note", "--class", "Other")
    assert "class Note(Model)" in inspected and "class Other(Model)" in inspected and "class Tag" not in inspected
