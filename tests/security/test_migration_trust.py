"""Migration tools trust no export (issue 18, findings 8 and 9, and the audit of the same class).

An export, and a source backend's File values, are anyone's data. ``leanorm import`` fetches a ``_File``
url only when it resolves to a public address (every redirect checked, the connection made to the
address checked), capped in size and time; ``leanorm export`` writes only under its folder. No test
here reaches a non-loopback network: addresses other than loopback are judged through a resolver the
test gives, and refused before any connection.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import leanorm
from leanorm.cli import _fetch_policy, build_parser
from leanorm.transfer.checkpoint import Checkpoint
from leanorm.transfer.export_format import open_export
from leanorm.transfer.exporter import export_backend
from leanorm.transfer.file_copies import download
from leanorm.transfer.fetch import FetchPolicy, RefusedURL, check_url, fetch
from leanorm.transfer.importer import import_export
from tests.served import serve

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def web(handle: Handler) -> Iterator[Tuple[str, List[Tuple[str, str]]]]:
    """A loopback HTTP server answering every GET with ``handle``; yields its base URL and the
    (path, Host header) of each request it received."""
    seen: List[Tuple[str, str]] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            seen.append((self.path, self.headers.get("Host", "")))
            try:
                handle(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def body(data: bytes) -> Handler:
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
    return handle


def redirect(location: Callable[[str], str]) -> Handler:
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(302)
        request.send_header("Location", location(request.path))
        request.send_header("Content-Length", "0")
        request.end_headers()
    return handle


def resolving(table: Dict[str, List[str]]) -> Callable[[str, int], List[str]]:
    return lambda host, port: table[host]


# -- finding 8: the importer fetches only public addresses -------------------------------------------

def _export_with_file_urls(folder: Path, urls: List[str]) -> Path:
    folder.mkdir()
    rows = [{"objectId": f"f{i}", "name": f"leak{i}.txt", "url": url} for i, url in enumerate(urls)]
    (folder / "_File.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "Post.jsonl").write_text(json.dumps({"objectId": "p1", "attachment": {
        "__type": "File", "id": "f0", "name": "leak0.txt", "url": urls[0]}}) + "\n")
    return folder


def test_import_refuses_file_urls_on_loopback_addresses(tmp_path: Path) -> None:
    with web(body(b"internal admin answer")) as (base, seen):
        port = base.rsplit(":", 1)[1]
        export = _export_with_file_urls(tmp_path / "export", [
            f"{base}/latest/meta-data/", f"http://localhost:{port}/admin", f"http://[::1]:{port}/admin",
            f"http://0.0.0.0:{port}/admin", f"http://2130706433:{port}/admin"])
        target = leanorm.connect("local://:memory:", default=False)
        reports = import_export(export, target)
        assert seen == []
    files = reports["_File"]
    assert files.copied == 0 and len(files.failed) == 5
    assert all("not a public address" in str(why) for _, why in files.failed), files.failed
    with leanorm.using_master():
        assert target.request("GET", "classes/_File")["results"] == []
        post = target.request("GET", "classes/Post/p1")
    assert post["attachment"]["url"] == f"{base}/latest/meta-data/"  # left as it was: nothing published


def test_private_sources_are_fetched_when_the_operator_says_so(tmp_path: Path) -> None:
    with web(body(b"the operator's own file server")) as (base, seen):
        export = _export_with_file_urls(tmp_path / "export", [f"{base}/report.pdf"])
        target = leanorm.connect("local://:memory:", default=False)
        reports = import_export(export, target, fetch_policy=FetchPolicy(allow_private=True))
    assert reports["_File"].copied == 1 and not reports["_File"].failed
    assert [path for path, _ in seen] == ["/report.pdf"]


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.5", "172.16.3.4", "192.168.1.1",       # loopback, private
    "169.254.169.254", "100.100.100.200", "192.0.0.192", "fd00:ec2::254",    # AWS/GCP/Azure, Alibaba, Oracle, AWS v6
    "100.64.0.1", "198.18.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",  # CGNAT, reserved...
    "::1", "::", "fe80::1", "fe80::1%2", "fc00::1", "fec0::1", "ff02::1",  # IPv6 loopback, local, multicast
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",  # v4 inside v6
])
def test_a_name_resolving_to_an_internal_address_is_refused(address: str) -> None:
    policy = FetchPolicy(resolver=resolving({"files.example": [address]}))
    with pytest.raises(RefusedURL, match="not a public address"):
        check_url("https://files.example/latest/meta-data/iam", policy)


def test_a_name_resolving_to_public_and_internal_addresses_is_refused() -> None:
    policy = FetchPolicy(resolver=resolving({"files.example": ["93.184.216.34", "10.1.2.3"]}))
    with pytest.raises(RefusedURL, match="10.1.2.3"):
        check_url("http://files.example/a.png", policy)


def test_public_addresses_pass_the_check() -> None:
    policy = FetchPolicy(resolver=resolving({"cdn.example": ["93.184.216.34", "2606:4700::1111"]}))
    assert check_url("https://cdn.example/a.png", policy) == ("cdn.example", 443, "93.184.216.34")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example/a", "gopher://127.0.0.1:6379/_INFO",
                                 "http:///nohost"])
def test_only_http_urls_with_a_host_are_fetched(url: str) -> None:
    with pytest.raises(RefusedURL):
        check_url(url, FetchPolicy(allow_private=True))


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """The host is resolved once, through the policy's resolver, and the connection made to that answer
    (a second lookup, which a rebinding name server would answer differently, never happens): a name no
    real name server knows is fetched from the loopback address the resolver gave."""
    asked: List[str] = []

    def resolver(host: str, port: int) -> List[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with web(body(b"pinned")) as (base, seen):
        port = base.rsplit(":", 1)[1]
        out = io.BytesIO()
        fetch(f"http://files.invalid:{port}/a.txt", out, FetchPolicy(allow_private=True, resolver=resolver))
    assert out.getvalue() == b"pinned"
    assert asked == ["files.invalid"]
    assert seen == [("/a.txt", f"files.invalid:{port}")]


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused() -> None:
    with web(body(b"internal secret")) as (internal, internal_seen):
        with web(redirect(lambda path: f"{internal}/secret")) as (allowed, _):
            policy = FetchPolicy().trusting(allowed)  # e.g. the source backend named on the command line
            with pytest.raises(RefusedURL, match="not a public address"):
                fetch(f"{allowed}/file.png", io.BytesIO(), policy)
        assert internal_seen == []


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
                                      "http://[::ffff:127.0.0.1]:1/"])
def test_a_redirect_to_an_internal_or_non_http_url_is_refused(location: str) -> None:
    with web(redirect(lambda path: location)) as (allowed, _):
        with pytest.raises(RefusedURL):
            fetch(f"{allowed}/file.png", io.BytesIO(), FetchPolicy().trusting(allowed))


def test_redirects_are_followed_a_bounded_number_of_times() -> None:
    with web(redirect(lambda path: f"/{int(path.strip('/') or 0) + 1}")) as (allowed, seen):
        with pytest.raises(RefusedURL, match="more than 5 redirects"):
            fetch(f"{allowed}/0", io.BytesIO(), FetchPolicy().trusting(allowed))
    assert len(seen) == 6


def test_a_redirect_within_an_allowed_origin_is_followed() -> None:
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        (body(b"moved bytes") if request.path == "/new" else redirect(lambda path: "/new"))(request)

    with web(handle) as (allowed, _):
        out = io.BytesIO()
        fetch(f"{allowed}/old", out, FetchPolicy().trusting(allowed))
    assert out.getvalue() == b"moved bytes"


def test_a_file_over_the_size_limit_is_refused() -> None:
    def unannounced(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Connection", "close")  # no Content-Length: the size shows only while reading
        request.end_headers()
        for _ in range(64):
            request.wfile.write(b"x" * 65536)

    policy = FetchPolicy(allow_private=True, max_bytes=1 << 20)
    for handle in (body(b"x" * (2 << 20)), unannounced):
        with web(handle) as (base, _):
            out = io.BytesIO()
            with pytest.raises(RefusedURL, match="1048576-byte limit"):
                fetch(f"{base}/big", out, policy)
        assert len(out.getvalue()) <= 1 << 20


def test_a_trickling_answer_ends_at_the_deadline() -> None:
    stop = threading.Event()

    def trickle(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(1 << 20))
        request.end_headers()
        while not stop.is_set():  # a byte well within any read timeout, forever
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(0.05)

    with web(trickle) as (base, _):
        try:
            with pytest.raises(RefusedURL, match="not fetched within 0.5 s"):
                fetch(f"{base}/slow", io.BytesIO(), FetchPolicy(allow_private=True, deadline=0.5))
        finally:
            stop.set()


# -- finding 9: the exporter writes only under its folder --------------------------------------------

def test_export_writes_a_files_bytes_under_its_folder_whatever_its_name(tmp_path: Path) -> None:
    """A Parse client stores a File value named ``../../../evil.txt``; the export keeps its bytes inside the
    folder, and an import gives the object a file with those bytes and that name."""
    out = tmp_path / "a" / "b" / "out"
    names = ["../../../evil.txt", f"{tmp_path}/evil-absolute.txt", ".bashrc", "..", "x" * 300]
    with serve(tmp_path / "src.sqlite3") as src:
        url = f"parse+http://{src.app_id}:{src.app_key}@127.0.0.1:{src.port}/parse/?master_key={src.master_key}"
        source = leanorm.connect(url, default=False)
        for number, name in enumerate(names):
            uploaded = leanorm.File("evil.txt", b"attacker bytes %d" % number).save(client=source)
            source.request("POST", "classes/Note", body={"n": number, "doc": {
                "__type": "File", "name": name, "url": uploaded.url}})
        reports = export_backend(source, out)
        source.close()
    assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
    assert not (tmp_path / "a" / "evil.txt").exists() and not (tmp_path / "evil-absolute.txt").exists()
    written = [path for path in (p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
               if not path.startswith("src.sqlite3")]  # the source server's own database and files
    assert all(p.startswith("a/b/out/") for p in written), written
    assert not any(p.name.startswith(".") for p in (out / "files").iterdir())

    target = leanorm.connect("local://:memory:", default=False)
    imported = import_export(out, target)
    assert all(r.ok for r in imported.values()), {n: r.lines() for n, r in imported.items()}
    with leanorm.using_master():
        rows = target.request("GET", "classes/Note", {"order": "n"})["results"]
    assert [row["doc"]["name"] for row in rows] == names
    assert [download(row["doc"]["url"], client=target).read() for row in rows] == [
        b"attacker bytes %d" % number for number in range(len(names))]


def test_export_never_writes_through_a_symlink_in_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "files").symlink_to(outside)  # planted before the export (a shared folder, a reused one)
    (out / "Note.jsonl").symlink_to(outside / "notes-elsewhere")
    source = leanorm.connect("local://:memory:", default=False)
    with leanorm.using_master():
        source.request("POST", "classes/Note", body={"objectId": "n1", "text": "hi"})
        uploaded = leanorm.File("a.txt", b"bytes").save(client=source)
        source.request("POST", "classes/Doc", body={"objectId": "d1", "f": uploaded.to_wire()})
    with pytest.raises(ValueError, match="symlink"):
        export_backend(source, out, ["Note"])
    reports = export_backend(source, out, ["_File"])
    assert reports["_File"].failed and "symlink" in str(reports["_File"].failed[0][1])
    assert list(outside.iterdir()) == []


# -- the audit: the rest of the importer trusts its export no more ----------------------------------

def test_a_symlink_in_an_export_folder_is_not_part_of_the_export(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "avatar.png").symlink_to(secret)
    (export / "_File.jsonl").write_text(json.dumps({"objectId": "f1", "name": "avatar.png"}) + "\n")
    target = leanorm.connect("local://:memory:", default=False)
    reports = import_export(export, target)
    assert reports["_File"].copied == 0 and "no bytes" in str(reports["_File"].failed[0][1])
    with leanorm.using_master():
        assert target.request("GET", "classes/_File")["results"] == []


def test_names_that_would_go_into_a_request_path_are_refused(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "Evil?where=x.jsonl").write_text(json.dumps({"objectId": "e1"}) + "\n")
    (export / "Note.jsonl").write_text(json.dumps({"objectId": "n1", "tags": {"__type": "Relation",
                                                                             "className": "Tag"}}) + "\n")
    (export / "_Join:tags:Note.jsonl").write_text(json.dumps({"owningId": "../_User/u1", "relatedId": "t1"}) + "\n")
    target = leanorm.connect("local://:memory:", default=False)
    reports = import_export(export, target)
    assert "not a class name" in str(reports["Evil?where=x"].failed)
    assert "plain id" in str(reports["_Join:tags:Note"].failed)
    with leanorm.using_master():
        assert target.request("GET", "classes/Evil")["results"] == []
        assert [r["objectId"] for r in target.request("GET", "classes/Note")["results"]] == ["n1"]


def test_an_overlong_line_is_reported_without_being_read_whole(tmp_path: Path) -> None:
    (tmp_path / "Note.jsonl").write_bytes(b'{"objectId": "' + b"x" * 10_000 + b'"}\n{"objectId": "n2"}\n')
    (tmp_path / "Tag.json").write_bytes(b'[' + b'{"objectId": "t"},' * 1000 + b'{}]')
    export = open_export(tmp_path, max_line_bytes=1024, max_document_bytes=4096)
    rows = [(row.where, row.data, row.error) for row in export.rows("Note.jsonl")]
    assert rows == [("Note.jsonl:1", None, "a line longer than 1024 bytes"), ("Note.jsonl:2", {"objectId": "n2"}, None)]
    assert [row.error for row in export.rows("Tag.json")] == [
        "a .json file longer than 4096 bytes: give it as JSON Lines (.jsonl)"]


def test_a_checkpoint_line_of_the_wrong_shape_is_never_used(tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    state.write_text(json.dumps({"file": "f1", "ref": "javascript:alert(1)"}) + "\n"
                     + json.dumps({"class": "Note", "cursor": 7}) + "\n")
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "f1").write_bytes(b"real bytes")
    (export / "_File.jsonl").write_text(json.dumps({"objectId": "f1", "name": "a.txt"}) + "\n")
    (export / "Note.jsonl").write_text(json.dumps({"objectId": "n1", "f": {"__type": "File", "id": "f1"}}) + "\n")
    assert Checkpoint(str(state)).files == {}
    target = leanorm.connect("local://:memory:", default=False)
    reports = import_export(export, target, state=str(state))
    assert all(r.ok for r in reports.values()), {n: r.lines() for n, r in reports.items()}
    with leanorm.using_master():
        note = target.request("GET", "classes/Note/n1")
    assert note["f"]["__type"] == "File" and note["f"]["name"] == "a.txt"


def test_the_state_file_of_an_export_is_not_written_through_a_symlink(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("unchanged")
    os.symlink(victim, out / ".leanorm-export.jsonl")
    with pytest.raises(ValueError, match="symlink"):
        export_backend(leanorm.connect("local://:memory:", default=False), out)
    assert victim.read_text() == "unchanged"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_an_https_url_is_fetched_only_with_a_certificate_for_its_host(tmp_path: Path) -> None:
    """Connecting to the checked address keeps TLS whole: the certificate must be one a CA vouches for,
    for the url's host name (a self-signed one for that very name is refused)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=files.example", "-addext", "subjectAltName=DNS:files.example",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        policy = FetchPolicy(allow_private=True, resolver=resolving({"files.example": ["127.0.0.1"]}))
        with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch(f"https://files.example:{server.server_port}/", io.BytesIO(), policy)
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_row_of_the_wrong_shape_is_reported_not_a_crash(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    rows = [{"objectId": "f1", "name": 5}, {"objectId": "f2", "metaData": [1]}, {"objectId": "f3", "key": {"a": 1}},
            {"objectId": "f4", "url": ["http://x"]}, {"objectId": "ok", "name": "fine.txt"}]
    for row in rows:
        (export / "files" / row["objectId"]).write_bytes(b"bytes")
    (export / "_File.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    state = tmp_path / "state.jsonl"
    state.write_text(json.dumps({"class": "_File", "cursor": "not-a-line-number"}) + "\n")
    reports = import_export(export, leanorm.connect("local://:memory:", default=False), state=str(state))
    assert reports["_File"].copied == 1
    assert [(where, str(why).split(" must")[0]) for where, why in reports["_File"].failed] == [
        ("_File.jsonl:1", "a _File row's name"), ("_File.jsonl:2", "a _File row's metaData"),
        ("_File.jsonl:3", "a _File row's key"), ("_File.jsonl:4", "a _File row's url")]


def test_every_command_that_fetches_takes_the_fetch_flags() -> None:
    for command in (["import", "export.tar.gz", "local://t.sqlite3"], ["export", "local://s.sqlite3", "out"],
                    ["migrate", "local://s.sqlite3", "local://t.sqlite3"], ["verify", "out", "local://t.sqlite3"]):
        default = _fetch_policy(build_parser().parse_args(command))
        assert (default.allow_private, default.max_bytes, default.deadline) == (False, 1 << 30, 600.0)
        chosen = _fetch_policy(build_parser().parse_args(
            [*command, "--allow-private-file-urls", "--max-file-size", "200M", "--file-deadline", "30"]))
        assert (chosen.allow_private, chosen.max_bytes, chosen.deadline) == (True, 200 << 20, 30.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["import", "e", "t", "--max-file-size", "lots"])


def test_an_exported_files_metadata_cannot_pass_its_copy_off_as_another_files(tmp_path: Path) -> None:
    """``metaData.importedFrom`` marks the copy of an exported file on the target. A user's own file whose
    metadata names the app's logo (LeanCloud lets an uploader set metaData) must never be taken for the
    logo's copy, even when the import could not mark it as its own."""
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "evil").write_bytes(b"attacker bytes")
    (export / "files" / "logo").write_bytes(b"the app's logo")
    (export / "_File.jsonl").write_text(json.dumps({"objectId": "evil", "name": "me.png",
                                                    "metaData": {"importedFrom": "logo"}}) + "\n"
                                        + json.dumps({"objectId": "logo", "name": "logo.png"}) + "\n")
    (export / "Brand.jsonl").write_text(json.dumps({"objectId": "b1", "logo": {"__type": "File", "id": "logo"}}) + "\n")
    target = leanorm.connect("local://:memory:", default=False)
    send = target._send

    def refusing_to_mark_the_first_copy(request: Any, json_answer: bool = True) -> Any:
        if request.method == "PUT" and "_File" in request.path and not marked:
            marked.append(request.path)
            raise leanorm.errors.LeanCloudError(1001, "refused")  # e.g. a hook of the target
        return send(request, json_answer)

    marked: List[str] = []
    target._send = refusing_to_mark_the_first_copy  # type: ignore[method-assign]
    import_export(export, target, batch_size=1)
    assert marked
    with leanorm.using_master():
        logo = target.request("GET", "classes/Brand/b1")["logo"]
    assert download(logo["url"], client=target).read() == b"the app's logo"


def test_a_clients_file_on_the_target_is_never_taken_for_an_imported_copy(tmp_path: Path) -> None:
    """A client of the target (already serving while the import runs) uploads a file whose metadata claims
    to be the copy of the app's logo: the import uploads the logo all the same."""
    export = tmp_path / "export"
    (export / "files").mkdir(parents=True)
    (export / "files" / "logo").write_bytes(b"the app's logo")
    (export / "_File.jsonl").write_text(json.dumps({"objectId": "logo", "name": "logo.png"}) + "\n")
    (export / "Brand.jsonl").write_text(json.dumps({"objectId": "b1", "logo": {"__type": "File", "id": "logo"}}) + "\n")
    target = leanorm.connect("local://:memory:", default=False)
    with leanorm.using(target):
        forged = leanorm.File("logo.png", b"attacker bytes")
        forged.metadata = {"importedFrom": "logo", "importSeal": "0" * 32}
        forged.save()
    reports = import_export(export, target)
    assert reports["_File"].copied == 1
    with leanorm.using_master():
        logo = target.request("GET", "classes/Brand/b1")["logo"]
    assert download(logo["url"], client=target).read() == b"the app's logo"
