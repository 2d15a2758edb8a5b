"""Issue 9, items 12 and 16 (files): nobody but its owner changes a file, an upload address takes one
upload, downloads never run as this server's pages, and file URLs are not the client's to choose.
"""
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import pytest
import requests

from tests.security.raw_http import DIALECTS, Raw, refused
from tests.served import Served, serve, served  # noqa: F401 (fixture)


def upload(api: Raw, name: str, data: bytes, session: Optional[str] = None, mime: Optional[str] = None,
           headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """A file uploaded the way the dialect's SDKs do; answers what the client is told (``url``, and on
    LeanCloud ``objectId`` and the spent ``upload_url``)."""
    extra = headers or {}
    if api.dialect == "parse":
        status, answer = api.call("POST", f"files/{name}", data=data, session=session,
                                  headers={"Content-Type": mime or "application/octet-stream", **extra})
        assert status == 201, answer
        return answer
    token = api.ok("POST", "fileTokens", {"name": name, **({"mime_type": mime} if mime else {})},
                   session=session, headers=extra)
    assert requests.put(api.served.base_url + urlsplit(token["upload_url"]).path, data=data, timeout=30).ok
    api.ok("POST", "fileCallback", {"token": token["token"], "result": True})
    return token


def download(served: Served, url: str) -> requests.Response:  # noqa: F811 (fixture)
    return requests.get(served.base_url + urlsplit(url).path, timeout=30)


def leancloud(served: Served) -> Raw:  # noqa: F811 (fixture)
    return Raw(served, "leancloud")


def attempts(api: Raw, file_id: str, session: Optional[str]) -> Tuple[Tuple[int, Any], ...]:
    """Every way a client could drop or repoint a file."""
    return (api.call("DELETE", f"files/{file_id}", session=session),
            api.call("DELETE", f"classes/_File/{file_id}", session=session),
            api.call("PUT", f"classes/_File/{file_id}", {"url": "https://evil.example/x"}, session=session))


def test_an_anonymous_upload_is_changed_by_the_master_key_only(served) -> None:  # noqa: F811
    api = leancloud(served)
    token = upload(api, "notes.txt", b"mine")
    stranger = api.signup()["sessionToken"]
    for session in (None, stranger):
        for answer in attempts(api, token["objectId"], session):
            refused(answer, 404, 101)
    stored = api.ok("GET", f"classes/_File/{token['objectId']}", master=True)
    assert stored["url"] == token["url"] and download(served, token["url"]).content == b"mine"
    api.ok("DELETE", f"files/{token['objectId']}", master=True)
    assert download(served, token["url"]).status_code == 404


def test_a_users_upload_is_changed_by_that_user_only(served) -> None:  # noqa: F811
    api = leancloud(served)
    owner, stranger = api.signup()["sessionToken"], api.signup()["sessionToken"]
    token = upload(api, "avatar.png", b"\x89PNG owner's", session=owner)
    for session in (None, stranger):
        for answer in attempts(api, token["objectId"], session):
            refused(answer, 404, 101)
    assert download(served, token["url"]).content == b"\x89PNG owner's"
    api.ok("DELETE", f"files/{token['objectId']}", session=owner)
    assert download(served, token["url"]).status_code == 404


def test_an_upload_address_takes_one_upload(served) -> None:  # noqa: F811
    api = leancloud(served)
    token = api.ok("POST", "fileTokens", {"name": "once.txt"})
    address = served.base_url + urlsplit(token["upload_url"]).path
    assert requests.put(address, data=b"first", timeout=30).status_code == 200
    second = requests.put(address, data=b"overwritten", timeout=30)
    assert second.status_code == 403 and second.json()["code"] == 1
    api.ok("POST", "fileCallback", {"token": token["token"], "result": True})
    assert requests.put(address, data=b"after the callback", timeout=30).status_code == 403
    assert download(served, token["url"]).content == b"first"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name, mime, active", [
    ("page.html", "text/html", True), ("pic.svg", "image/svg+xml", True), ("feed.xml", "application/xml", True),
    ("app.js", "text/javascript", True), ("notes.txt", "text/plain", False), ("pic.png", "image/png", False)])
def test_downloads_are_never_sniffed_and_active_content_is_an_attachment(served, dialect: str, name: str,  # noqa
                                                                         mime: str, active: bool) -> None:
    answer = upload(Raw(served, dialect), name, b"<script>alert(document.cookie)</script>", mime=mime)
    got = download(served, answer["url"])
    assert got.status_code == 200 and got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Type"].startswith(mime)
    disposition = got.headers.get("Content-Disposition", "")
    assert disposition.startswith("attachment") if active else disposition == ""


def test_a_declared_mime_type_cannot_add_headers(served) -> None:  # noqa: F811
    answer = upload(leancloud(served), "x.bin", b"data", mime="text/plain\r\nSet-Cookie: a=b")
    got = download(served, answer["url"])
    assert got.headers["Content-Type"] == "application/octet-stream" and "Set-Cookie" not in got.headers


FORWARDED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_forwarded_headers_do_not_choose_file_urls(served, dialect: str) -> None:  # noqa: F811
    answer = upload(Raw(served, dialect), "a.txt", b"a", headers=FORWARDED)
    assert answer["url"].startswith(f"http://127.0.0.1:{served.port}/files/")
    if dialect == "leancloud":
        assert answer["upload_url"].startswith(f"http://127.0.0.1:{served.port}/uploads/")


def test_a_host_that_is_not_an_address_is_not_put_in_urls(served) -> None:  # noqa: F811
    api = leancloud(served)
    for host in ("evil.example/phish?", "a\x7fb", "x y"):
        # the HTTP server may refuse such a request itself (an empty 400); if it passes, the URL ignores it
        answer = requests.post(f"{served.base_url}/1.1/fileTokens", json={"name": "h.txt"}, timeout=30,
                               headers={"Host": host, "X-LC-Id": served.app_id, "X-LC-Key": served.app_key})
        assert answer.status_code == 400 or answer.json()["url"].startswith("http://localhost/files/"), answer.text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_public_url_and_trusted_proxy_choose_file_urls(tmp_path, dialect: str) -> None:
    with serve(tmp_path / "public.sqlite3", "--public-url", "https://files.example.com/") as public:
        answer = upload(Raw(public, dialect), "a.txt", b"public", headers=FORWARDED)
        assert answer["url"].startswith("https://files.example.com/files/")
        assert download(public, answer["url"]).content == b"public"
    with serve(tmp_path / "proxied.sqlite3", "--trust-proxy") as proxied:
        answer = upload(Raw(proxied, dialect), "a.txt", b"proxied", headers=FORWARDED)
        assert answer["url"].startswith("https://evil.example/files/")
