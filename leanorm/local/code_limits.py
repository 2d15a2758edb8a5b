"""Limits on guessing one-time codes (SMS, e-mail, captcha): a 6-digit code is a million guesses, so
wrong guesses are counted, in ``_code_failures``, and cut off.

- per number (recipient) and purpose: ``CODE_TRIES`` wrong guesses within ``WINDOW`` kill the pending code
  and refuse further guesses for that number and purpose until the window passes (a new code cannot
  restart the count);
- per client address: ``ADDRESS_TRIES`` wrong guesses within ``WINDOW``, for any number, and the address
  is refused (error 219, HTTP 429) until they age out.

A wrong guess is recorded after the endpoint's own transaction is rolled back, so the count survives the
error that refuses the guess.
"""
from __future__ import annotations

import functools
import sqlite3
import time
from typing import Any, Optional

from .protocol import Context, Handler, ProtocolError

__all__ = ["WrongCode", "check_allowed", "counts_failures", "CODE_TRIES", "ADDRESS_TRIES", "WINDOW"]

CODE_TRIES = 5
ADDRESS_TRIES = 20
WINDOW = 60 * 60


class WrongCode(ProtocolError):
    """A guess that did not match: error 603 to the client, a failure on the record."""

    def __init__(self, message: str, purpose: str, recipient: Optional[str]) -> None:
        super().__init__(603, message)
        self.purpose, self.recipient = purpose, recipient


def _too_many() -> ProtocolError:
    return ProtocolError(219, "Too many wrong codes: try again later.", 429)


def check_allowed(ctx: Context, conn: sqlite3.Connection, purpose: str, recipient: Optional[str]) -> None:
    """Error 219 when the client's address, or this number for this purpose, has guessed wrong too often."""
    since = time.time() - WINDOW
    if conn.execute("SELECT COUNT(*) FROM _code_failures WHERE address=? AND at > ?",
                    (ctx.client_address, since)).fetchone()[0] >= ADDRESS_TRIES:
        raise _too_many()
    if recipient is not None and conn.execute(
            "SELECT COUNT(*) FROM _code_failures WHERE recipient=? AND purpose=? AND at > ?",
            (recipient, purpose, since)).fetchone()[0] >= CODE_TRIES:
        raise _too_many()


def counts_failures(handler: Handler) -> Handler:
    """Wrap an endpoint that spends codes: each :class:`WrongCode` it raises is recorded, and the
    ``CODE_TRIES``-th wrong guess for a number deletes its pending code."""
    @functools.wraps(handler)
    def guarded(ctx: Context) -> Any:
        try:
            return handler(ctx)
        except WrongCode as wrong:
            now = time.time()
            with ctx.store.write() as conn:
                conn.execute("DELETE FROM _code_failures WHERE at < ?", (now - WINDOW,))
                conn.execute("INSERT INTO _code_failures VALUES (?, ?, ?, ?)",
                             (wrong.recipient or "", wrong.purpose, ctx.client_address, now))
                if wrong.recipient is not None and conn.execute(
                        "SELECT COUNT(*) FROM _code_failures WHERE recipient=? AND purpose=?",
                        (wrong.recipient, wrong.purpose)).fetchone()[0] >= CODE_TRIES:
                    conn.execute("DELETE FROM _codes WHERE recipient=? AND purpose=?", (wrong.recipient, wrong.purpose))
            raise
    return guarded
