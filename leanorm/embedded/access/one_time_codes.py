"""One-time codes (SMS, voice, captcha): issued for one purpose to one recipient on behalf of one user
(or of nobody), used up once.

Nothing is ever sent: every code goes to the server's outbox (``EmbeddedServer.outbox``) where tests and
developers read it. Codes are 6 digits, live ``CODE_TTL`` seconds in ``_one_time_codes`` and are good for
one use, by the request that names the same purpose, recipient and user they were issued for (a login
code cannot reset a password; a change-of-number code asked for by one user is no code for another user
or for a request without a session; a login code sent while one user had the number is no code once
another has it). Failed guesses are counted (``code_limits``).
"""
from __future__ import annotations

import secrets
import time
from typing import Any, Dict, Optional, Tuple

from .code_limits import WrongCode, note_guess
from ..routing import Context
from ..answers import ProtocolError
from ..storage.interface import Connection

__all__ = ["CODE_TTL", "NOBODY", "issue", "grant", "spend", "spend_by_code"]

CODE_TTL = 10 * 60
#: what ``user_id`` holds for a code issued on behalf of nobody (a number without an account, a captcha)
NOBODY = ""


def _same(stored: str, given: str) -> bool:
    return secrets.compare_digest(stored.upper().encode(), given.upper().encode())


def issue(ctx: Context, recipient: str, purpose: str, ttl: float = CODE_TTL, kind: str = "sms",
          code: Optional[str] = None, extra: Optional[Dict[str, Any]] = None, user: Optional[str] = None) -> str:
    """Store a new one-time code for ``(purpose, recipient, user)`` (replacing that one's previous code)
    and put it in the outbox. Codes are unique per purpose, so endpoints that get only the code find
    what it was issued for. SMS to one number for one purpose go out once a ``sms_interval`` at most,
    whichever user asks (601)."""
    with ctx.store.write() as conn:
        if kind == "sms" and ctx.settings.sms_interval > 0:
            since = time.time() - ctx.settings.sms_interval
            if conn.execute("SELECT 1 FROM _one_time_codes WHERE recipient=? AND purpose=? AND expires_at - ? > ?",
                            (recipient, purpose, ttl, since)).fetchone():
                raise ProtocolError(601, "SMS codes for this number were asked for too often: wait a minute.")
        while code is None or conn.execute("SELECT 1 FROM _one_time_codes WHERE purpose=? AND code=? AND "
                                           "NOT (recipient=? AND user_id=?)",
                                           (purpose, code, recipient, user or NOBODY)).fetchone():
            code = f"{secrets.randbelow(10 ** 6):06d}"
        grant(conn, purpose, recipient, code, ttl, user)
    ctx.deliver(kind, recipient, purpose, code=code, body=extra)
    return code


def grant(conn: Connection, purpose: str, recipient: str, code: str, ttl: float,
          user: Optional[str] = None) -> None:
    """Store a code that is handed to the client itself, not sent (a captcha's ``validate_token``). Codes
    past their expiry go first: anonymous requests (captchas) must not grow the database without end."""
    now = time.time()
    conn.execute("DELETE FROM _one_time_codes WHERE expires_at < ?", (now,))
    conn.execute("INSERT OR REPLACE INTO _one_time_codes VALUES (?, ?, ?, ?, ?)",
                 (purpose, recipient, user or NOBODY, code, now + ttl))


def spend(ctx: Context, conn: Connection, purpose: str, code: Any, recipient: str,
          user: Optional[str], message: str = "Invalid SMS code.") -> None:
    """Use up the code pending for ``(purpose, recipient, user)`` (``user`` None or ``NOBODY``: a code
    issued on behalf of nobody); 603 when ``code`` is not that one (wrong, expired, used, or issued for another
    user or number); 219 after too many failed guesses."""
    note_guess(ctx, conn, purpose, recipient)
    row = conn.execute("SELECT code FROM _one_time_codes WHERE purpose=? AND recipient=? AND user_id=? "
                       "AND expires_at > ?", (purpose, recipient, user or NOBODY, time.time())).fetchone()
    if row is None or not isinstance(code, str) or not code or not _same(row[0], code):
        raise WrongCode(message)
    conn.execute("DELETE FROM _one_time_codes WHERE purpose=? AND recipient=? AND user_id=?",
                 (purpose, recipient, user or NOBODY))


def spend_by_code(ctx: Context, conn: Connection, purpose: str, code: Any,
                  message: str = "Invalid SMS code.") -> Tuple[str, Optional[str]]:
    """Use up a code named by itself (the request names no number: ``verifyMobilePhone/<code>``): the
    recipient and user it was issued for, which the endpoint must check still go together; 603 and 219
    as :func:`spend`."""
    guess = note_guess(ctx, conn, purpose, None)
    if isinstance(code, str) and code:
        for recipient, user, stored in conn.execute(
                "SELECT recipient, user_id, code FROM _one_time_codes WHERE purpose=? AND expires_at > ?",
                (purpose, time.time())).fetchall():
            if _same(stored, code):
                guess.recipient = recipient  # a failure after this point counts against the number
                conn.execute("DELETE FROM _one_time_codes WHERE purpose=? AND recipient=? AND user_id=?",
                             (purpose, recipient, user))
                return recipient, user or None
    raise WrongCode(message)
