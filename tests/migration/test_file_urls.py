"""Issue 19 §3: a database moved to another address keeps every file link. Files this server hosts get
their URL from the serving address when they are read (``--public-url``, else the request's own
address); external files keep the URL they were given."""
from __future__ import annotations

import json
from typing import Any, Dict, List
from urllib.parse import urlsplit

import requests

from tests.security.raw_http import Raw
from leanorm import FileField, Model
from leanorm.cli import main
from leanorm.engine import Engine
from leanorm.embedded import EmbeddedServer
from tests.served import APP_ID, APP_KEY, MASTER_KEY, serve

OLD = "https://old.example"
EXTERNAL = "https://cdn.example.net/logo.png"


def _file_values(value: Any, found: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every dict with a ``url`` in an answer (File values and ``_File`` objects)."""
    if isinstance(value, list):
        for item in value:
            _file_values(item, found)
    elif isinstance(value, dict):
        if isinstance(value.get("url"), str):
            found.append(value)
        for item in value.values():
            _file_values(item, found)
    return found


def _write_under_the_old_address(tmp_path) -> Dict[str, Any]:
    with serve(tmp_path / "app.sqlite3", "--public-url", OLD) as old:
        lc, parse = Raw(old, "leancloud"), Raw(old, "parse")
        token = lc.ok("POST", "fileTokens", {"name": "hello.txt"})
        assert requests.put(old.base_url + urlsplit(token["upload_url"]).path, data=b"hello", timeout=30).ok
        lc.ok("POST", "fileCallback", {"token": token["token"], "result": True})
        keyed = lc.ok("POST", "fileTokens", {"name": "qr.png", "key": "qr/abc.png"}, master=True)
        assert requests.put(old.base_url + urlsplit(keyed["upload_url"]).path, data=b"qr", timeout=30).ok
        status, parse_file = parse.call("POST", "files/p.txt", data=b"parse bytes",
                                         headers={"Content-Type": "text/plain"})
        assert status == 201, parse_file
        external = lc.ok("POST", "files/logo.png", {"name": "logo.png", "url": EXTERNAL,
                                                     "metaData": {"__source": "external"}})
        assert token["url"].startswith(OLD) and keyed["url"] == f"{OLD}/qr/abc.png"
        doc = lc.ok("POST", "classes/Doc", {
            "attachment": {"__type": "File", "id": token["objectId"]},
            "qr": {"__type": "Pointer", "className": "_File", "objectId": keyed["objectId"]},
            "logo": {"__type": "File", "id": external["objectId"]},
            "list": [{"__type": "File", "id": token["objectId"]}]})
        parse_doc = parse.ok("POST", "classes/Doc", {"attachment": {"__type": "File", **parse_file}})
    return {"doc": doc["objectId"], "parse_doc": parse_doc["objectId"], "file": token["objectId"],
            "keyed": keyed["objectId"]}


def test_file_urls_follow_the_serving_address(tmp_path) -> None:
    ids = _write_under_the_old_address(tmp_path)
    with serve(tmp_path / "app.sqlite3") as new:
        lc, parse = Raw(new, "leancloud"), Raw(new, "parse")
        answers = {
            "get": lc.ok("GET", f"classes/Doc/{ids['doc']}", params={"include": "qr"}),
            "find": lc.ok("GET", "classes/Doc", params={"include": "qr"}),
            "file": lc.ok("GET", f"files/{ids['file']}"),
            "_File": lc.ok("GET", "classes/_File", master=True),
            "batch": lc.ok("POST", "batch", {"requests": [
                {"method": "GET", "path": f"/1.1/classes/Doc/{ids['doc']}"}]}),
            "cql": lc.ok("GET", "cloudQuery", params={"cql": "select * from Doc"}),
            "write": lc.ok("PUT", f"classes/Doc/{ids['doc']}", {"n": 1}, params={"fetchWhenSave": "true"}),
            "parse find": parse.ok("GET", "classes/Doc"),
        }
        seen = 0
        for how, answer in answers.items():
            for value in _file_values(answer, []):
                if value["url"] == EXTERNAL:
                    continue  # an external file keeps its own address
                assert value["url"].startswith(new.base_url + "/"), (how, value)
                got = requests.get(value["url"], timeout=30)
                assert got.status_code == 200 and got.content in (b"hello", b"qr", b"parse bytes"), (how, value)
                seen += 1
        assert seen >= 12
        logo = lc.ok("GET", f"classes/Doc/{ids['doc']}")["logo"]
        assert logo["url"] == EXTERNAL
        public = "https://files.example.org"
    with serve(tmp_path / "app.sqlite3", "--public-url", public) as moved:
        got = Raw(moved, "leancloud").ok("GET", f"classes/Doc/{ids['doc']}", params={"include": "qr"})
        assert got["attachment"]["url"].startswith(f"{public}/files/{ids['file']}/")
        assert got["qr"]["url"] == f"{public}/qr/abc.png"
        assert requests.get(moved.base_url + "/qr/abc.png", timeout=30).content == b"qr"


def test_an_imported_database_served_answers_file_urls_of_its_address(tmp_path) -> None:
    """The report's case: ``leanorm import EXPORT local://app.sqlite3`` (in-process: no address), then
    ``leanorm serve``: the files answer under the served address, and download."""
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "f1").write_bytes(b"qr bytes")
    rows = {"_File": {"objectId": "f1", "name": "qr.png", "key": "qrkey.png", "mime_type": "image/png",
                      "url": "http://lc-old.example.com/qrkey.png", "metaData": {"size": 8}},
            "Link": {"objectId": "l1", "code": "abc", "qr": {"__type": "File", "id": "f1"}}}
    for name, row in rows.items():
        (export / f"{name}.jsonl").write_text(json.dumps(row) + "\n")
    database = tmp_path / "app.sqlite3"
    target = f"local://{database}?app_id={APP_ID}&app_key={APP_KEY}&master_key={MASTER_KEY}"
    assert main(["import", str(export), target, "--no-progress", "--state", str(tmp_path / "state")]) == 0
    with serve(database) as served:
        link = Raw(served, "leancloud").ok("GET", "classes/Link/l1")
        assert link["qr"]["url"].startswith(served.base_url + "/"), link
        assert requests.get(link["qr"]["url"], timeout=30).content == b"qr bytes"


seen_by_hook: List[str] = []
hook_engine = Engine()


class HookedDoc(Model):
    attachment: FileField = FileField()


@hook_engine.after_save(HookedDoc)
def _record_url(doc: HookedDoc) -> None:
    assert doc.attachment is not None
    seen_by_hook.append(doc.attachment.url or "")


def test_hooks_see_file_urls_of_the_address_being_served() -> None:
    """The Engine's hook objects leave the server too: their files follow the request's address."""
    server = EmbeddedServer(engine=hook_engine)
    try:
        def call(method: str, path: str, host: str, body: Any) -> Dict[str, Any]:
            headers = {"X-LC-Id": server.settings.app_id, "X-LC-Key": server.settings.app_key, "Host": host,
                       "Content-Type": "application/json"}
            answer = server.handle(method, path, headers=headers, body=json.dumps(body).encode())
            assert answer.status < 300, answer.body
            return json.loads(answer.body)

        uploaded = call("POST", "/1.1/files/a.txt", "old.example:8080", {"base64": "aGVsbG8="})
        assert uploaded["url"].startswith("http://old.example:8080/files/")
        call("POST", "/1.1/classes/HookedDoc", "new.example",
             {"attachment": {"__type": "File", "id": uploaded["objectId"], "url": uploaded["url"]}})
        assert seen_by_hook == [uploaded["url"].replace("old.example:8080", "new.example")]
    finally:
        server.close()
