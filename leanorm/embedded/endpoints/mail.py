"""E-mail: the password-reset and address-verification mails a client asks for (put in the outbox,
``EmbeddedServer.outbox``; nothing is sent)."""
from __future__ import annotations

import secrets
from typing import Any, List

from ..routing import Context, route
from ..answers import ProtocolError
from ..storage.store import table

__all__: List[str] = []

#: the e-mails a client can ask for, by endpoint (LeanCloud's names, and Parse's for verification)
MAIL_PURPOSES = {"requestPasswordReset": "password_reset", "requestEmailVerify": "email_verify",
                 "verificationEmailRequest": "email_verify"}


@route("POST", r"(requestPasswordReset|requestEmailVerify|verificationEmailRequest)")
def _mail(ctx: Context) -> Any:
    purpose = MAIL_PURPOSES[ctx.args[0]]
    email = ctx.json_body().get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ProtocolError(125, "The email address was invalid.")
    with ctx.store.read() as conn:
        known = ctx.store.has_class(conn, "_User") and conn.execute(
            f"SELECT 1 FROM {table('_User')} WHERE json_extract(data, '$.email') = ?", (email,)).fetchone()
    if not known:
        raise ProtocolError(205, f"No user found with email {email}.")
    ctx.deliver("email", email, purpose, code=secrets.token_urlsafe(16))
    return {}
