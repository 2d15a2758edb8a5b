"""Issue 18, finding 15: an upload declared ``text/xsl`` was served inline, and a browser ran its script in
the API's origin. Downloads are inline only for passive types (raster images, audio, video, plain text);
every other type is an attachment; every file response is unsniffed and sandboxed."""
from typing import Any, Dict
from urllib.parse import urlsplit

import pytest
import requests

from tests.security.raw_http import DIALECTS, Raw
from tests.security.test_files_security import download, upload
from tests.served import Served, served  # noqa: F401 (fixture)

PAGE = b"<?xml version='1.0'?><x:stylesheet xmlns:x='http://www.w3.org/1999/XSL/Transform'><script>alert(1)</script>"
#: types a browser renders as a document that can run script (or hands to a viewer that can), as declared
ACTIVE = ["text/xsl", "text/html", "TEXT/HTML; charset=utf-8", "image/svg+xml", "application/xhtml+xml",
          "text/xml", "application/xml", "application/xslt+xml", "application/pdf", "text/javascript",
          "application/x-shockwave-flash", "multipart/x-mixed-replace", "application/octet-stream", "text/css",
          "application/json", "text/vtt", "image/svg+xml; charset=utf-8", "text/plain+html"]
PASSIVE = ["image/png", "image/jpeg", "image/gif", "image/webp", "audio/mpeg", "video/mp4",
           "text/plain; charset=utf-8", "IMAGE/PNG"]
#: on Parse, a file's type is what its name says
PARSE_ACTIVE = ["page.html", "style.xsl", "pic.svg", "doc.xhtml", "feed.xml", "doc.pdf", "app.js", "blob"]
PARSE_PASSIVE = ["pic.png", "photo.jpg", "clip.mp4", "notes.txt"]


def sandboxed(got: requests.Response) -> None:
    """Never sniffed, and rendered (if at all) in an origin of its own with nothing allowed."""
    assert got.status_code == 200, got.text
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    policy = [part.strip() for part in got.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in policy and "default-src 'none'" in policy


def attachment(got: requests.Response) -> bool:
    return got.headers.get("Content-Disposition", "").startswith("attachment")


@pytest.mark.parametrize("mime", ACTIVE)
def test_a_declared_active_type_is_an_attachment(served: Served, mime: str) -> None:  # noqa: F811
    got = download(served, upload(Raw(served, "leancloud"), "f", PAGE, mime=mime)["url"])
    sandboxed(got)
    assert attachment(got), got.headers


@pytest.mark.parametrize("mime", PASSIVE)
def test_a_passive_type_is_shown_in_place_in_a_sandbox(served: Served, mime: str) -> None:  # noqa: F811
    got = download(served, upload(Raw(served, "leancloud"), "f", b"\x89PNG\r\n", mime=mime)["url"])
    sandboxed(got)
    assert not attachment(got) and got.headers["Content-Type"] == mime


@pytest.mark.parametrize("name", PARSE_ACTIVE + PARSE_PASSIVE)
def test_parse_uploads_follow_the_same_rule(served: Served, name: str) -> None:  # noqa: F811
    got = download(served, upload(Raw(served, "parse"), name, PAGE)["url"])
    sandboxed(got)
    assert attachment(got) == (name in PARSE_ACTIVE), got.headers


def test_base64_uploads_and_keyed_files_follow_the_same_rule(served: Served) -> None:  # noqa: F811
    api = Raw(served, "leancloud")
    encoded: Dict[str, Any] = api.ok("POST", "files/x.xsl", {"base64": "PGI+eDwvYj4=", "mime_type": "text/xsl"})
    got = download(served, encoded["url"])
    sandboxed(got)
    assert attachment(got)
    keyed = api.ok("POST", "fileTokens", {"name": "landing", "key": "landing.xsl", "mime_type": "text/xsl"},
                   master=True)
    assert requests.put(served.base_url + urlsplit(keyed["upload_url"]).path, data=PAGE, timeout=30).ok
    got = requests.get(f"{served.base_url}/landing.xsl", timeout=30)
    assert got.content == PAGE
    sandboxed(got)
    assert attachment(got)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_head_request_says_the_same(served: Served, dialect: str) -> None:  # noqa: F811
    url = upload(Raw(served, dialect), "page.html", PAGE, mime="text/html")["url"]
    got = requests.head(served.base_url + urlsplit(url).path, timeout=30)
    sandboxed(got)
    assert attachment(got)
