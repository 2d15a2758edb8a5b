"""Issue 18, finding 17: the captcha's code was plain text inside its SVG image, so a script read it off
and passed the captcha. The image is now a distorted raster in which no byte spells the code; a person
(here: the test, reading the server's outbox) still trades the code for the token ``requestSmsCode``
takes."""
import base64
import io
import random

import pytest
from PIL import Image

from tests.security.authz_client import outbox_code
from tests.security.raw_http import Raw, refused
from tests.served import Served, served  # noqa: F401 (fixture)

PNG_DATA_URL = "data:image/png;base64,"


def leancloud(served: Served) -> Raw:  # noqa: F811 (fixture)
    return Raw(served, "leancloud")


def spellings(code: str) -> list:
    """Every way the code's characters could sit in a file as text."""
    return [code.encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le")] + \
        [code.lower().encode(), " ".join(code).encode(), base64.b64encode(code.encode()).rstrip(b"=")]


def png_chunks(png: bytes) -> list:
    """A PNG file's chunks, (type, data) in order."""
    chunks, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        chunks.append((png[at + 4:at + 8], png[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


@pytest.mark.parametrize("size, width, height", [(4, None, None), (6, 200, 100), (3, 60, 20)])
def test_the_image_is_a_raster_that_does_not_spell_the_code(served: Served, size, width, height) -> None:  # noqa: F811
    params = {"size": str(size), **({"width": str(width), "height": str(height)} if width else {})}
    answer = leancloud(served).ok("GET", "requestCaptcha", params=params)
    assert set(answer) == {"captcha_token", "captcha_url"}  # LeanCloud's answer
    code = outbox_code(served, answer["captcha_token"], "captcha")
    assert len(code) == size
    url = answer["captcha_url"]
    assert url.startswith(PNG_DATA_URL)
    png = base64.b64decode(url[len(PNG_DATA_URL):], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # text could only ride in a chunk beside the pixels (compressed pixel data, or its base64, holds any
    # short run of letters by chance: the URL held a 3-letter code about once in a hundred images)
    chunks = png_chunks(png)
    assert {kind for kind, _ in chunks} <= {b"IHDR", b"PLTE", b"IDAT", b"IEND"}, [kind for kind, _ in chunks]
    assert not any(spelled in data for kind, data in chunks if kind != b"IDAT" for spelled in spellings(code))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (width or 85, height or 30)
    assert sum(1 for count in image.convert("L").histogram() if count) > 16  # noise, not a flat card


def test_two_captchas_of_one_code_length_are_different_images(served: Served) -> None:  # noqa: F811
    api = leancloud(served)
    urls = {api.ok("GET", "requestCaptcha")["captcha_url"] for _ in range(3)}
    assert len(urls) == 3


def test_the_code_read_by_a_person_opens_sms_codes(served: Served) -> None:  # noqa: F811
    api = leancloud(served)
    number = f"+8613{random.randrange(10 ** 9):09d}"
    captcha = api.ok("GET", "requestCaptcha")
    status, answer = api.call("POST", "verifyCaptcha", {"captcha_token": captcha["captcha_token"],
                                                        "captcha_code": "WRONG"})
    refused((status, answer), 400, 603)
    captcha = api.ok("GET", "requestCaptcha")
    code = outbox_code(served, captcha["captcha_token"], "captcha")
    token = api.ok("POST", "verifyCaptcha", {"captcha_token": captcha["captcha_token"],
                                             "captcha_code": code})["validate_token"]
    api.ok("POST", "requestSmsCode", {"mobilePhoneNumber": number, "validate_token": token})
    assert len(outbox_code(served, number, "sms")) == 6
    again = api.call("POST", "requestSmsCode", {"mobilePhoneNumber": number, "validate_token": token})
    refused(again, 400, 603)  # one use
