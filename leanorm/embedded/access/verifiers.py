"""Third-party login (``authData``) verifiers: the proof that a client owns the account it names.

A login or link with ``authData: {platform: {...}}`` is only as safe as the check that the client holds
that platform account: a bare ``openid`` is public knowledge. The embedded backend therefore asks the
platform's :class:`Verifier`; a platform with none is refused with error 252, as Parse Server refuses an
unconfigured provider. ``anonymous`` needs none (its random ``id`` is the credential, as on Parse), and an
Engine declaring ``onAuthData`` (LeanEngine's hook) is taken to check every platform itself.

:class:`TokenEndpointVerifier` is the usual OAuth check: the platform's user-info endpoint, called with
the client's access token, must name the same user id::

    >>> from leanorm.embedded.access.verifiers import TokenEndpointVerifier
    >>> weixin = TokenEndpointVerifier("https://api.example.com/userinfo", id_key="openid")
    >>> weixin.uid_key
    'openid'

``leanorm serve --auth-provider weixin=https://.../userinfo#openid`` configures one from the command
line (``#openid`` names the key of the id in both the authData and the endpoint's answer; default ``id``).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import requests

from ..answers import ProtocolError

__all__ = ["Verifier", "AnonymousVerifier", "TokenEndpointVerifier", "BUILT_IN", "unsupported", "invalid",
           "parse_provider"]

TIMEOUT = 5.0


class Verifier:
    """Checks one platform's authData; raises :func:`invalid` (a ProtocolError) when it is not proven."""

    #: whether :meth:`verify` also proves the ``unionid`` an authData names (LeanCloud's account merging
    #: logs a unionid's holder in, so an unproven one would be a key to their account)
    checks_unionid = False

    def verify(self, platform: str, auth_data: Mapping[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def unsupported(platform: str) -> ProtocolError:
    return ProtocolError(252, f"This authentication method is unsupported: no verifier is configured for "
                              f"{platform!r}.")


def invalid(platform: str) -> ProtocolError:
    return ProtocolError(101, f"{platform} auth is invalid for this user.", 404)


class AnonymousVerifier(Verifier):
    """``anonymous``: a random id the client made up is the whole credential; it must look random."""

    def verify(self, platform: str, auth_data: Mapping[str, Any]) -> None:
        uid = auth_data.get("id")
        if not isinstance(uid, str) or len(uid) < 16:
            raise invalid(platform)


class TokenEndpointVerifier(Verifier):
    """GET ``url`` with ``Authorization: Bearer <access_token>``: its JSON answer's ``id_key`` must equal
    the user id in the authData (under ``uid_key``, default the same name). It
    also proves a ``unionid`` the authData names: the answer must carry the same one (WeChat's does)."""

    checks_unionid = True

    def __init__(self, url: str, id_key: str = "id", uid_key: Optional[str] = None,
                 token_key: str = "access_token", timeout: float = TIMEOUT) -> None:
        self.url, self.id_key, self.uid_key = url, id_key, uid_key or id_key
        self.token_key, self.timeout = token_key, timeout

    def verify(self, platform: str, auth_data: Mapping[str, Any]) -> None:
        token, uid = auth_data.get(self.token_key), auth_data.get(self.uid_key)
        if not isinstance(token, str) or not token or not isinstance(uid, str) or not uid:
            raise invalid(platform)
        try:
            answer = requests.get(self.url, headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout)
            identity = answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            raise ProtocolError(141, f"Could not reach {platform}'s verification endpoint.", 502) from None
        if not isinstance(identity, dict) or identity.get(self.id_key) != uid:
            raise invalid(platform)
        if "unionid" in auth_data and identity.get("unionid") != auth_data["unionid"]:
            raise invalid(platform)


BUILT_IN: Dict[str, Verifier] = {"anonymous": AnonymousVerifier()}


def parse_provider(spec: str) -> Tuple[str, Verifier]:
    """``platform=URL[#id_key]`` (the ``--auth-provider`` option) as a platform and its verifier."""
    platform, sep, url = spec.partition("=")
    if not sep or not platform or not url.startswith(("http://", "https://")):
        raise ValueError(f"--auth-provider needs platform=URL, not {spec!r}")
    url, _, id_key = url.partition("#")
    return platform, TokenEndpointVerifier(url, id_key=id_key or "id")
