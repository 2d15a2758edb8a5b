"""Limits on guessing one-time codes (SMS, captcha): a 6-digit code is a million guesses, so failed
guesses are counted, in ``_code_failures``, and cut off.

- per number (recipient) and purpose: ``CODE_TRIES`` failed guesses within ``WINDOW`` kill the pending
  codes and refuse further guesses for that number and purpose until the window passes (a new code
  cannot restart the count; the user a code is bound to does not split it);
- per client address: ``ADDRESS_TRIES`` failed guesses within ``WINDOW``, for any number, and the address
  is refused (error 219, HTTP 429) until they age out.

This is the one place that counts. An endpoint that checks codes is wrapped in :func:`counts_failures`,
and ``one_time_codes`` looks at a code only after :func:`note_guess` (which refuses to run outside such
an endpoint). A request that made a guess and did not succeed is a failure, whatever it answers: a
wrong code, a code bound to another user or to none (``changePhoneNumber`` without a session: it was an
oracle, 603 for a wrong code and 206 for the right one), or an error after the right code (the spend is
rolled back with the request, so the code would otherwise stay guessable for free). The failure is
recorded after the endpoint's own transaction is rolled back, so the count survives the error.
"""
from __future__ import annotations

import contextvars
import dataclasses
import functools
import time
from typing import Any, List, Optional

from ..routing import Context, Handler
from ..answers import ProtocolError
from ..storage.interface import Connection

__all__ = ["WrongCode", "Guess", "note_guess", "counts_failures", "CODE_TRIES", "ADDRESS_TRIES", "WINDOW"]

CODE_TRIES = 5
ADDRESS_TRIES = 20
WINDOW = 60 * 60


class WrongCode(ProtocolError):
    """A code that is not pending for what the request names (wrong, used, expired or bound elsewhere)."""

    def __init__(self, message: str) -> None:
        super().__init__(603, message)


@dataclasses.dataclass
class Guess:
    """A code a request offered: for which purpose and to which recipient (None until a code named by
    itself is found: ``verifyMobilePhone/<code>``)."""

    purpose: str
    recipient: Optional[str]


#: the guesses of the request being served, when its endpoint counts failures (else None)
_guesses: contextvars.ContextVar[Optional[List[Guess]]] = contextvars.ContextVar("code_guesses", default=None)


def _too_many() -> ProtocolError:
    return ProtocolError(219, "Too many wrong codes: try again later.", 429)


def note_guess(ctx: Context, conn: Connection, purpose: str, recipient: Optional[str]) -> Guess:
    """Before a code is compared: error 219 when the client's address, or this number for this purpose,
    has failed too often; else the guess is noted, to be counted unless the request succeeds."""
    guesses = _guesses.get()
    if guesses is None:
        raise RuntimeError("a one-time code checked by an endpoint that does not count failures (counts_failures)")
    since = time.time() - WINDOW
    if conn.execute("SELECT COUNT(*) FROM _code_failures WHERE address=? AND at > ?",
                    (ctx.client_address, since)).fetchone()[0] >= ADDRESS_TRIES:
        raise _too_many()
    if recipient is not None and conn.execute(
            "SELECT COUNT(*) FROM _code_failures WHERE recipient=? AND purpose=? AND at > ?",
            (recipient, purpose, since)).fetchone()[0] >= CODE_TRIES:
        raise _too_many()
    guess = Guess(purpose, recipient)
    guesses.append(guess)
    return guess


def _record(ctx: Context, guesses: List[Guess]) -> None:
    now = time.time()
    with ctx.store.write() as conn:
        conn.execute("DELETE FROM _code_failures WHERE at < ?", (now - WINDOW,))
        for guess in guesses:
            conn.execute("INSERT INTO _code_failures VALUES (?, ?, ?, ?)",
                         (guess.recipient or "", guess.purpose, ctx.client_address, now))
            if guess.recipient is not None and conn.execute(
                    "SELECT COUNT(*) FROM _code_failures WHERE recipient=? AND purpose=?",
                    (guess.recipient, guess.purpose)).fetchone()[0] >= CODE_TRIES:
                conn.execute("DELETE FROM _one_time_codes WHERE recipient=? AND purpose=?",
                             (guess.recipient, guess.purpose))


def counts_failures(handler: Handler) -> Handler:
    """Wrap an endpoint that checks codes: each guess it made is a failure on the record unless it
    answers success, and the ``CODE_TRIES``-th failure for a number deletes its pending codes."""
    @functools.wraps(handler)
    def guarded(ctx: Context) -> Any:
        guesses: List[Guess] = []
        token = _guesses.set(guesses)
        try:
            return handler(ctx)
        except Exception:
            if guesses:
                _record(ctx, guesses)
            raise
        finally:
            _guesses.reset(token)
    return guarded
