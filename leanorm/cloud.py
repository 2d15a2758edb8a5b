"""Cloud functions, RPC, server time, SMS codes and captchas.

``run`` and ``rpc`` call functions declared with :class:`leanorm.engine.Engine` (or any LeanEngine /
Parse Cloud Code function). ``rpc`` sends and returns model instances; on Parse Server, which has no
``/call`` endpoint, it is emulated over ``/functions`` with the same encoding, so results are identical.
SMS and captcha are LeanCloud services (the embedded backend delivers codes to its test outbox);
elsewhere they raise :class:`~leanorm.errors.NotSupported`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Dict, Optional

import arrow

from .aio import run_async
from .client import Client
from .config import get_client
from .models import Model, resolve_pointer
from .protocol.encoding import decode, decode_date, encode

__all__ = ["run", "rpc", "arun", "arpc", "get_server_time", "request_sms_code", "verify_sms_code", "Captcha",
           "request_captcha", "verify_captcha"]


def run(name: str, /, *, client: Optional[Client] = None, **params: Any) -> Any:
    """Call the cloud function ``name`` with JSON ``params``; returns its JSON result (:func:`rpc`
    sends and returns model instances, dates and points)."""
    rich = sorted(k for k, v in params.items() if isinstance(v, Model))
    if rich:
        raise TypeError(f"run() sends JSON; {', '.join(rich)} are model instances: call rpc({name!r}, ...)")
    return get_client(client).request("POST", f"functions/{name}", body=params).get("result")


def rpc(name: str, /, *, client: Optional[Client] = None, **params: Any) -> Any:
    """Call ``name`` with rich ``params`` (model instances, dates, points...) and decode its result the
    same way: model instances come back as instances of their models."""
    client = get_client(client)
    path = f"call/{name}" if client.supports("rpc") else f"functions/{name}"
    body = {k: _encode_rpc(v) for k, v in params.items()}
    answer = client.request("POST", path, body=body).get("result")
    return decode(answer, functools.partial(resolve_pointer, client, None))


async def arun(name: str, /, *, client: Optional[Client] = None, **params: Any) -> Any:
    """:func:`run` from async code (docs/async.md)."""
    return await run_async(run, name, client=client, **params)


async def arpc(name: str, /, *, client: Optional[Client] = None, **params: Any) -> Any:
    """:func:`rpc` from async code (docs/async.md)."""
    return await run_async(rpc, name, client=client, **params)


def _encode_rpc(value: Any) -> Any:
    """Model instances travel whole (``__type: Object``) in rpc, as LeanCloud's ``/call`` expects."""
    if isinstance(value, Model):
        data = {k: v for k, v in value._stored_copy().items() if k != "sessionToken"}
        data.update(value._payload(value.id is None) if value.is_dirty else {})
        return {"__type": "Object", "className": value._meta.class_name, **data}
    if isinstance(value, (list, tuple)):
        return [_encode_rpc(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_rpc(v) for k, v in value.items()}
    return encode(value)


def get_server_time(*, client: Optional[Client] = None) -> arrow.Arrow:
    """The backend's clock."""
    client = get_client(client)
    client.require("server_time", "get_server_time")
    answer = client.request("GET", "date")
    return decode_date(answer["iso"])


def request_sms_code(phone: str, idd: str = "+86", sms_type: str = "sms", template: Optional[str] = None,
                     sign: Optional[str] = None, params: Optional[Dict[str, Any]] = None,
                     validate_token: Optional[str] = None, *, client: Optional[Client] = None) -> None:
    """Send a verification code to ``phone`` (``sms_type`` "sms" or "voice"; ``template``/``sign`` and
    template ``params`` for custom messages; ``validate_token`` from a verified captcha)."""
    client = get_client(client)
    client.require("sms", "SMS codes")
    number = phone if phone.startswith("+") else idd + phone
    body: Dict[str, Any] = {"mobilePhoneNumber": number, "smsType": sms_type, **(params or {})}
    if template:
        body["template"] = template
    if sign:
        body["sign"] = sign
    if validate_token:
        body["validate_token"] = validate_token
    client.request("POST", "requestSmsCode", body=body)


def verify_sms_code(phone: str, code: str, *, client: Optional[Client] = None) -> None:
    """Check a code sent to ``phone``; raises the server's error when it is wrong, used or expired."""
    client = get_client(client)
    client.require("sms", "SMS codes")
    client.request("POST", f"verifySmsCode/{code}", body={"mobilePhoneNumber": phone})


@dataclass
class Captcha:
    """A captcha image to show (``url``) and the token that identifies it."""

    token: str
    url: str

    def verify(self, code: str) -> str:
        """Check the code the person read; returns the ``validate_token`` for :func:`request_sms_code`."""
        return verify_captcha(code, self.token)


def request_captcha(size: int = 4, width: Optional[int] = None, height: Optional[int] = None,
                    ttl: int = 60, *, client: Optional[Client] = None) -> Captcha:
    """A new captcha of ``size`` characters, valid ``ttl`` seconds."""
    client = get_client(client)
    client.require("sms", "captcha")
    params: Dict[str, Any] = {"size": str(size), "ttl": str(ttl)}
    if width:
        params["width"] = str(width)
    if height:
        params["height"] = str(height)
    answer = client.request("GET", "requestCaptcha", params)
    return Captcha(answer["captcha_token"], answer["captcha_url"])


def verify_captcha(code: str, token: str, *, client: Optional[Client] = None) -> str:
    """Check a captcha code; returns the ``validate_token``."""
    client = get_client(client)
    client.require("sms", "captcha")
    return client.request("POST", "verifyCaptcha", body={"captcha_code": code, "captcha_token": token})[
        "validate_token"]
