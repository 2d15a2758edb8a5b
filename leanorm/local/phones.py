"""Phone numbers: the one a request names, its international form, and the user it belongs to.

A number without ``+`` is read as a Chinese one (``+86``), as LeanCloud does, so ``138...`` and
``+86138...`` name the same phone.
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any, Dict, Optional

from .protocol import Context, ProtocolError
from .store import table

__all__ = ["phone_number", "e164", "user_by_phone", "known_phone"]

PHONE = re.compile(r"\+?[0-9]{5,20}\Z")


def phone_number(body: Dict[str, Any]) -> str:
    phone = body.get("mobilePhoneNumber")
    if not isinstance(phone, str) or not phone:
        raise ProtocolError(212, "The mobile phone number is missing.")
    if not PHONE.match(phone):
        raise ProtocolError(127, "The mobile phone number was invalid.")
    return phone


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else "+86" + phone


def user_by_phone(ctx: Context, conn: sqlite3.Connection, phone: str) -> Optional[str]:
    if not ctx.store.has_class(conn, "_User"):
        return None
    row = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, '$.mobilePhoneNumber') "
                       "IN (?, ?, ?)", (phone, e164(phone), phone[3:] if phone.startswith("+86") else phone)
                       ).fetchone()
    return row[0] if row else None


def known_phone(ctx: Context, phone: str) -> str:
    with ctx.store.read() as conn:
        user_id = user_by_phone(ctx, conn, phone)
    if user_id is None:
        raise ProtocolError(213, "Could not find user with that mobile phone number.")
    return user_id
