"""A synthetic LeanCloud console export, built from the documented formats (LeanCloud's dashboard guide):
JSON Lines per class, ``_User`` rows with ``password`` + ``salt``, ``_Join:<key>:<Owner>.jsonl`` relation
rows, ``_File`` rows whose bytes are under ``files/`` or at a ``url`` (served by a local HTTP server).

Every name carries a tag so that several imports can share one Parse Server.
"""
from __future__ import annotations

import http.server
import json
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List

from leanorm.legacy_password import leancloud_hash
from leanorm.transfer.fetch import FetchPolicy

#: LeanCloud's documented test vector
VECTOR_SALT = "h60d8x797d3oa0naxybxxv9bn7xpt2yiowz68mpiwou7gwr2"
VECTOR_HASH = "tA7BLW+NK0UeARng0693gCaVnljkglCB9snqlpCSUKjx2RgYp8VZZOQt0S5iUtlDrkJXfT3gknS4rRqjYsd/Ug=="
CREATED, UPDATED = "2021-03-04T05:06:07.089Z", "2022-06-07T08:09:10.111Z"
LOCAL_BYTES, REMOTE_BYTES = b"\x89PNG local bytes \x00\xff", b"remote bytes served over http"
#: the export's remote files are on the test's loopback server: fetched as an operator's private file
#: server is, with the opt-in (an export's urls are otherwise fetched from public addresses only)
PRIVATE_SOURCES = FetchPolicy(allow_private=True)


@contextmanager
def file_host(files: Dict[str, bytes]) -> Iterator[str]:
    """A local HTTP server answering ``GET /<name>`` with ``files[name]``; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ConsoleExport:
    """The export's directory, and the names and ids it holds."""

    folder: Path
    tag: str
    ids: Dict[str, str] = field(default_factory=dict)

    @property
    def post(self) -> str:
        return f"MigPost{self.tag}"

    @property
    def tag_class(self) -> str:
        return f"MigTag{self.tag}"

    def name(self, base: str) -> str:
        return f"{base}{self.tag}"

    def archive(self, kind: str) -> Path:
        """The same export as a ``.tar.gz`` or ``.zip`` (in a top folder, as the console delivers it)."""
        target = self.folder.parent / f"export-{self.tag}.{kind}"
        members = sorted(p for p in self.folder.rglob("*") if p.is_file())
        if kind == "tar.gz":
            with tarfile.open(target, "w:gz") as tar:
                for path in members:
                    tar.add(path, arcname=f"export/{path.relative_to(self.folder).as_posix()}")
        else:
            with zipfile.ZipFile(target, "w") as archive:
                for path in members:
                    archive.write(path, f"export/{path.relative_to(self.folder).as_posix()}")
        return target


def _write(path: Path, rows: List[Any], bad_line: bool = False) -> None:
    lines = [json.dumps(row) for row in rows]
    if bad_line:
        lines.insert(1, '{"objectId": "broken", ')
    path.write_text("\n".join(lines) + "\n")


def _date(iso: str) -> Dict[str, str]:
    return {"__type": "Date", "iso": iso}


def build(folder: Path, tag: str, file_base_url: str, posts: int = 3) -> ConsoleExport:
    """Write the export under ``folder``: 3 users (alice with the documented vector, bob with his own
    hash, carol without one), 2 roles (alice in admins, bob in staff, admins inherit staff), 2 files
    (one in ``files/``, one at ``file_base_url``), ``posts`` posts pointing at alice and both files, with
    ACLs and a relation to tags, one installation, and one unreadable line in the posts file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "files").mkdir(exist_ok=True)
    export = ConsoleExport(folder, tag)
    i = export.ids
    i.update(alice=f"ua{tag}", bob=f"ub{tag}", carol=f"uc{tag}", admins=f"ra{tag}", staff=f"rs{tag}",
             local_file=f"fl{tag}", remote_file=f"fr{tag}", installation=f"in{tag}")
    stamps = {"createdAt": CREATED, "updatedAt": UPDATED}
    _write(folder / "_User.jsonl", [
        {"objectId": i["alice"], "username": export.name("alice"), "email": f"alice{tag}@example.com",
         "password": VECTOR_HASH, "salt": VECTOR_SALT, "emailVerified": True, "ACL": {"*": {"read": True}},
         **stamps},
        {"objectId": i["bob"], "username": export.name("bob"), "password": leancloud_hash("bob-secret", "bobsalt"),
         "salt": "bobsalt", "ACL": {"*": {"read": True}}, **stamps},
        {"objectId": i["carol"], "username": export.name("carol"), "ACL": {"*": {"read": True}}, **stamps}])
    relation = {"__type": "Relation"}
    _write(folder / "_Role.jsonl", [
        {"objectId": i["admins"], "name": export.name("admins"), "ACL": {"*": {"read": True}},
         "users": {**relation, "className": "_User"}, "roles": {**relation, "className": "_Role"}, **stamps},
        {"objectId": i["staff"], "name": export.name("staff"), "ACL": {"*": {"read": True}},
         "users": {**relation, "className": "_User"}, "roles": {**relation, "className": "_Role"}, **stamps}])
    _write(folder / "_Join:users:_Role.jsonl", [{"owningId": i["admins"], "relatedId": i["alice"]},
                                                {"owningId": i["staff"], "relatedId": i["bob"]}])
    _write(folder / "_Join:roles:_Role.jsonl", [{"owningId": i["staff"], "relatedId": i["admins"]}])
    (folder / "files" / i["local_file"]).write_bytes(LOCAL_BYTES)
    _write(folder / "_File.jsonl", [
        {"objectId": i["local_file"], "name": "logo.png", "mime_type": "image/png", "key": f"k{tag}.png",
         "url": f"https://files.example.invalid/k{tag}.png", "metaData": {"owner": i["alice"], "size": len(LOCAL_BYTES)},
         **stamps},
        {"objectId": i["remote_file"], "name": "notes.txt", "mime_type": "text/plain", "key": f"r{tag}.txt",
         "url": f"{file_base_url}/remote-{tag}.txt", "metaData": {"size": len(REMOTE_BYTES)}, **stamps}])
    tags = [{"objectId": f"t{n}{tag}", "label": f"tag {n}", **stamps} for n in range(2)]
    _write(folder / f"{export.tag_class}.jsonl", tags)
    posts_rows = [{
        "objectId": f"p{n}{tag}", "title": f"post {n}", "score": n, "published": _date(CREATED),
        "author": {"__type": "Pointer", "className": "_User", "objectId": i["alice"]},
        "image": {"__type": "File", "id": i["local_file"], "name": "logo.png",
                  "url": f"https://files.example.invalid/k{tag}.png"},
        "attachment": {"__type": "Pointer", "className": "_File", "objectId": i["remote_file"]},
        "tags": {"__type": "Relation", "className": export.tag_class},
        "ACL": {i["alice"]: {"read": True, "write": True}, f"role:{export.name('admins')}": {"read": True}},
        **stamps} for n in range(posts)]
    _write(folder / f"{export.post}.jsonl", posts_rows, bad_line=True)
    _write(folder / f"_Join:tags:{export.post}.jsonl",
           [{"owningId": f"p{n}{tag}", "relatedId": t["objectId"]} for n in range(posts) for t in tags])
    _write(folder / "_Installation.jsonl", [
        {"objectId": i["installation"], "deviceType": "android", "installationId": f"install-{tag}",
         "channels": ["news"], **stamps}])
    return export
