"""Captchas: ``requestCaptcha`` makes one (its image a ``data:`` URL, its code in the outbox),
``verifyCaptcha`` trades the right code for a ``validate_token`` that ``requestSmsCode`` accepts.

The image is a distorted raster drawn by the ``captcha`` package (noise, warped and rotated letters): the
code is in no byte of it, so a script must at least read the picture (the SVG it replaces had the code as
text). It travels inside ``captcha_url`` as a ``data:image/png`` URL, drawn once: an address serving it
would need no credentials (an ``<img>`` sends none) and, drawn again on each fetch, would hand out many
distortions of one code to average."""
from __future__ import annotations

import base64
import secrets
import string
from typing import Any, List

from captcha.image import ImageCaptcha

from ..access.code_limits import counts_failures
from ..access.one_time_codes import grant, issue, spend
from ..routing import Context, route
from ..answers import ProtocolError

__all__: List[str] = []

VALIDATE_TTL = 10 * 60
_CAPTCHA_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1I")


def _int(ctx: Context, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(ctx.params.get(name) or default)
    except ValueError:
        raise ProtocolError(1, f"{name} must be an integer.") from None
    return min(max(value, low), high)


def _captcha_image(code: str, width: int, height: int) -> str:
    """The captcha as a PNG ``data:`` URL: ``code`` drawn distorted on a ``width`` x ``height`` image."""
    # a renderer per image: its fonts are FreeType faces, which threads must not share
    sizes = tuple(round(height * scale) for scale in (0.7, 0.83, 0.93))
    png = ImageCaptcha(width=width, height=height, font_sizes=sizes).generate(code, format="png").getvalue()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@route("GET", r"requestCaptcha")
def _request_captcha(ctx: Context) -> Any:
    size = _int(ctx, "size", 4, 3, 6)
    ttl = _int(ctx, "ttl", 60, 10, 180)
    token = "captcha:" + secrets.token_urlsafe(16)
    code = "".join(secrets.choice(_CAPTCHA_ALPHABET) for _ in range(size))
    issue(ctx, token, "captcha", ttl, kind="captcha", code=code)
    return {"captcha_token": token,
            "captcha_url": _captcha_image(code, _int(ctx, "width", 85, 60, 200), _int(ctx, "height", 30, 20, 100))}


@route("POST", r"verifyCaptcha")
@counts_failures
def _verify_captcha(ctx: Context) -> Any:
    body = ctx.json_body()
    token = body.get("captcha_token")
    if not isinstance(token, str):
        raise ProtocolError(603, "Invalid captcha code.")
    validate_token = secrets.token_urlsafe(24)
    with ctx.store.write() as conn:
        spend(ctx, conn, "captcha", body.get("captcha_code"), token, None, "Invalid captcha code.")
        grant(conn, "captcha_validated", validate_token, validate_token, VALIDATE_TTL)
    return {"validate_token": validate_token}
