"""One-time codes (SMS, voice, captcha): issued to a recipient for one purpose, used up once.

Nothing is ever sent: every code goes to the server's outbox (``LocalServer.outbox``) where tests and
developers read it. Codes are 6 digits, live ``CODE_TTL`` seconds in ``_codes`` and are good for one
use; a code is bound to its purpose (a login code cannot reset a password). Wrong guesses are counted
(``code_limits``).
"""
from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any, Dict, Optional, Tuple

from .code_limits import WrongCode, check_allowed
from .protocol import Context, ProtocolError

__all__ = ["CODE_TTL", "issue", "consume"]

CODE_TTL = 10 * 60


def issue(ctx: Context, recipient: str, purpose: str, ttl: float = CODE_TTL, kind: str = "sms",
           code: Optional[str] = None, extra: Optional[Dict[str, Any]] = None) -> str:
    """Store a new one-time code (replacing the recipient's previous one for that purpose) and put it in
    the outbox. Codes are unique per purpose, so endpoints that get only the code find its recipient."""
    with ctx.store.write() as conn:
        if kind == "sms" and ctx.server.sms_interval > 0:
            since = time.time() - ctx.server.sms_interval
            if conn.execute("SELECT 1 FROM _codes WHERE recipient=? AND purpose=? AND expires_at - ? > ?",
                            (recipient, purpose, ttl, since)).fetchone():
                raise ProtocolError(601, "SMS codes for this number were asked for too often: wait a minute.")
        while code is None or conn.execute("SELECT 1 FROM _codes WHERE purpose=? AND code=? AND recipient<>?",
                                           (purpose, code, recipient)).fetchone():
            code = f"{secrets.randbelow(10 ** 6):06d}"
        conn.execute("INSERT OR REPLACE INTO _codes VALUES (?, ?, ?, ?)", (recipient, purpose, code, time.time() + ttl))
    ctx.server.deliver(kind, recipient, purpose, code=code, body=extra)
    return code


def consume(ctx: Context, conn: sqlite3.Connection, purpose: str, code: Any, recipient: Optional[str] = None,
             message: str = "Invalid SMS code.") -> str:
    """Use up a code: returns its recipient; 603 when it is wrong, expired or used (the endpoint counts
    that failure: ``code_limits.counts_failures``); 219 after too many wrong guesses."""
    check_allowed(ctx, conn, purpose, recipient)
    if not isinstance(code, str) or not code:
        raise WrongCode(message, purpose, recipient)
    sql = "SELECT recipient, code FROM _codes WHERE purpose=? AND expires_at > ?"
    args: Tuple[Any, ...] = (purpose, time.time())
    if recipient is not None:
        sql, args = sql + " AND recipient=?", args + (recipient,)
    for found, stored in conn.execute(sql, args).fetchall():
        if secrets.compare_digest(stored.upper().encode(), code.upper().encode()):
            conn.execute("DELETE FROM _codes WHERE recipient=? AND purpose=?", (found, purpose))
            return found
    raise WrongCode(message, purpose, recipient)
