"""Phone numbers: one spelling per phone, E.164 (``+8613800138000``), on every write and every lookup.

A number is read with libphonenumber's metadata (the ``phonenumbers`` package): ``138 0013 8000``,
``+86 138-0013-8000``, ``008613800138000`` and ``+8613800138000`` are one phone, stored and searched as
the last. A number without its country code is read in the server's region (``EmbeddedServer(phone_region=)``,
``leanorm serve --phone-region``), ``CN`` by default: LeanCloud reads a number without ``+`` as a Chinese
mainland number. Anything the metadata does not know as a valid number (too short, an unassigned range,
an extension) is error 127.

``_User.mobilePhoneNumber`` is searched by its E.164 text, so a row must hold that text to be found: a
database an earlier version wrote (which kept numbers as sent) is rewritten once, when a server opens it
(:func:`normalise_stored_numbers`).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import phonenumbers

from ..routing import Context
from ..settings import DEFAULT_PHONE_REGION
from ..answers import ProtocolError
from ..storage.store import table
from ..storage.interface import Connection, Store
from ..storage.values import now_iso

__all__ = ["DEFAULT_REGION", "check_region", "e164", "phone_number", "with_stored_number", "user_by_phone",
           "known_phone", "normalise_stored_numbers"]

log = logging.getLogger("leanorm.embedded")

#: where a number without ``+`` is from, unless the server says otherwise (LeanCloud's reading)
DEFAULT_REGION = DEFAULT_PHONE_REGION
#: longer text is not read as a number (E.164 has at most 15 digits; spaces and punctuation fit in this)
MAX_LENGTH = 64
FIELD = "mobilePhoneNumber"
#: the ``_migrations`` row of the rewrite of stored numbers to E.164
MIGRATION = "mobilePhoneNumber in E.164"


def check_region(region: str) -> str:
    """``region`` as the two-letter code libphonenumber knows (``cn`` → ``CN``); ValueError otherwise."""
    code = region.upper() if isinstance(region, str) else ""
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}: a two-letter ISO 3166 country code such as CN or US")
    return code


def _invalid(region: str) -> ProtocolError:
    return ProtocolError(127, "The mobile phone number was invalid: a number with its country code "
                              f"(+8613800138000) or a valid number of region {region} is expected.")


def e164(value: Any, region: str) -> str:
    """``value`` as E.164, a number without a country code read in ``region``; error 127 when it is
    not a valid phone number."""
    if not isinstance(value, str) or len(value) > MAX_LENGTH:
        raise _invalid(region)
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise _invalid(region) from None
    # an extension reaches a desk behind a switchboard: no SMS goes there, and it would be a second spelling
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        raise _invalid(region)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def phone_number(ctx: Context, body: Dict[str, Any]) -> str:
    """The number a request names (``mobilePhoneNumber``), in E.164: 212 when missing, 127 when invalid."""
    phone = body.get(FIELD)
    if phone is None or phone == "":
        raise ProtocolError(212, "The mobile phone number is missing.")
    return e164(phone, ctx.settings.phone_region)


def with_stored_number(ctx: Context, body: Dict[str, Any]) -> Dict[str, Any]:
    """A ``_User`` write's body with its number in E.164 (127 when invalid). Other values (null, ``""``,
    an operation) are the write's to check: none of them is a number to find a user by. The master key
    may store text that is no valid number as it is (an import keeps what the old backend kept): every
    lookup asks for a valid number in E.164, so no lookup finds a user by it."""
    phone = body.get(FIELD)
    if not isinstance(phone, str) or phone == "":
        return body
    try:
        return {**body, FIELD: e164(phone, ctx.settings.phone_region)}
    except ProtocolError:
        if ctx.caller.master:
            return body
        raise


def user_by_phone(ctx: Context, conn: Connection, phone: str) -> Optional[str]:
    """The id of the user whose number is ``phone`` (E.164), None when nobody has it. Two users with one
    number (an earlier version stored it in two spellings) is error 214: the server can not tell which
    of them owns the phone, and picking one opened the wrong account."""
    if not ctx.store.has_class(conn, "_User"):
        return None
    rows = conn.execute(f"SELECT objectId FROM {table('_User')} WHERE json_extract(data, '$.{FIELD}') = ? "
                        "LIMIT 2", (phone,)).fetchall()
    if len(rows) > 1:
        raise ProtocolError(214, "More than one user has this mobile phone number (stored in two spellings "
                                 "by an earlier version): the app's administrator must remove it from all "
                                 "accounts but its owner's.")
    return rows[0][0] if rows else None


def known_phone(ctx: Context, phone: str) -> str:
    """The id of the user whose number is ``phone`` (E.164); 213 when nobody has it."""
    with ctx.store.read() as conn:
        user_id = user_by_phone(ctx, conn, phone)
    if user_id is None:
        raise ProtocolError(213, "Could not find user with that mobile phone number.")
    return user_id


def normalise_stored_numbers(store: Store, region: str) -> None:
    """Rewrite every ``_User.mobilePhoneNumber`` an earlier version stored in another spelling to E.164,
    once per database (``_migrations`` records it). A number without a country code is read in
    ``region``. A stored value that is no valid number stays as it was: no lookup finds it. Numbers two
    users now share are logged: lookups refuse them (:func:`user_by_phone`) until the administrator
    removes the number from all accounts but its owner's."""
    done = "SELECT 1 FROM _migrations WHERE name=?"
    with store.read() as conn:  # (a database opened for reading only: nothing to take a write lock for)
        if conn.execute(done, (MIGRATION,)).fetchone():
            return
    with store.write() as conn:
        if conn.execute(done, (MIGRATION,)).fetchone():  # another process did it meanwhile
            return
        if store.has_class(conn, "_User"):
            _rewrite_numbers(conn, region)
        conn.execute("INSERT INTO _migrations VALUES (?, ?)", (MIGRATION, now_iso()))


def _rewrite_numbers(conn: Connection, region: str) -> None:
    rows = conn.execute(f"SELECT objectId, json_extract(data, '$.{FIELD}') FROM {table('_User')} "
                        f"WHERE json_type(data, '$.{FIELD}') = 'text' AND json_extract(data, '$.{FIELD}') <> ''"
                        ).fetchall()
    owners: Dict[str, List[str]] = {}
    invalid = []
    for object_id, stored in rows:
        try:
            number = e164(stored, region)
        except ProtocolError:
            invalid.append(object_id)
            continue
        owners.setdefault(number, []).append(object_id)
        if number != stored:
            conn.execute(f"UPDATE {table('_User')} SET data = json_set(data, '$.{FIELD}', ?) WHERE objectId = ?",
                         (number, object_id))
    if invalid:
        log.warning("%d users keep a mobilePhoneNumber that is no valid number (region %s): no SMS login or "
                    "lookup finds them by it; users %s", len(invalid), region, ", ".join(invalid[:20]))
    for ids in (ids for ids in owners.values() if len(ids) > 1):
        log.warning("users %s share one mobile phone number (stored in different spellings): SMS login, "
                    "reset and lookup by it are refused until it is removed from all of them but its owner",
                    ", ".join(ids))
