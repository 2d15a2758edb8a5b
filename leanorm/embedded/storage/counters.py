"""Maintained counts of a class's objects by the value of one field, for counts that must not read
every matching index entry (a dashboard's count per group over a million objects).

``create_counter(store, "Post", "group")`` keeps, in ``_counts``, how many objects of ``Post`` have each
``(group value, ACL)``: SQLite triggers on the class's table add and subtract in the same transaction as
every insert, update and delete (whatever path makes it), and the rows existing when the counter is
created are counted in that same transaction. Keeping the ACL beside the value is what makes the counts
right for every caller: a count sums the entries whose ACL the caller may read, so the read check runs
once per distinct ACL instead of once per object (an app whose objects each have their own ACL gets
as many entries as objects, and no gain, but the same answers).

``count`` answers a count the counter can: the class's total (no ``where``, or ``objectId`` ``$exists``)
or an equality on the counted field with a value of the type its schema learnt (a String field against
a string, a Number against a number: the same rows the compiler's comparison without type guard
matches). Anything else is ``None`` and is counted through the indexes as before. ``count_by`` gives
every value's count at once (aggregate's counting ``$group``).
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from .query_compiler import QueryCompiler
from .store import FIELD_NAME, check_class_name, trigger_name
from .interface import Connection, Store

__all__ = ["create_counter", "count", "count_by"]

#: an entry's key: a NULL value (the field missing) or ACL (public) is a key like any other, which a
#: plain UNIQUE would not give (NULLs are distinct there); json_extract never returns a blob
_KEY = "class_name, field, IFNULL(value, x'00'), IFNULL(acl, '')"
#: what a Parse client's ``count()`` of a whole class sends (``ParseDialect.count_where``)
_EVERY_OBJECT = {"objectId": {"$exists": True}}
#: the schema types whose equality the counter answers, with the Python types of the values compared
_COUNTABLE = {"String": (str,), "Number": (int, float)}


def create_counter(store: Store, class_name: str, field: str) -> str:
    """Count ``class_name``'s objects by ``field`` (a top-level field) from now on, the existing ones
    included; returns the name of the counter's insert trigger. Creating it again changes nothing."""
    check_class_name(class_name)
    if not FIELD_NAME.match(field) or field in ("objectId", "createdAt", "updatedAt"):
        raise ValueError(f"a counter needs a top-level field of the object's data, not {field!r}")
    with store.write() as conn:
        store.ensure_class(conn, class_name)
        name = trigger_name(class_name, field, "insert")
        if field in store.counted_fields(conn, class_name):
            return name
        store.make_counter(conn, class_name, field, _KEY)
    return name


def count(conn: Connection, compiler: QueryCompiler, class_name: str, where: Any) -> Optional[int]:
    """How many of ``class_name``'s objects matching ``where`` the compiler's caller may read, from a
    counter; ``None`` when no counter answers this ``where`` (``where`` was compiled already: its keys
    passed the caller's checks)."""
    if where == _EVERY_OBJECT:
        where = None
    if not isinstance(where, (dict, type(None))) or (where and len(where) != 1):
        return None
    counted = compiler.store.counted_fields(conn, class_name)
    if not counted:
        return None
    if not where:  # every object has an entry in each counter (a missing value is the value null)
        field, one_value = counted[0], ""
    else:
        (field, value), = where.items()
        types = _COUNTABLE.get(compiler.store.schema(conn, class_name).get(field, ("", None))[0], ())
        if field not in counted or isinstance(value, bool) or not isinstance(value, types):
            return None
        one_value = f" AND IFNULL(value, x'00') = {compiler.p(value)}"
    sql = (f"SELECT IFNULL(SUM(n), 0) FROM _counts AS k WHERE class_name = {compiler.p(class_name)} "
           f"AND field = {compiler.p(field)}{one_value} AND {compiler.acl('k')}")
    return int(conn.execute(sql, compiler.params).fetchone()[0])


def count_by(conn: Connection, compiler: QueryCompiler, class_name: str,
             field: str) -> Optional[List[Tuple[Any, int]]]:
    """``(value, count)`` of every value of ``field`` among the objects of ``class_name`` the compiler's
    caller may read (a value no readable object has is left out), by value; ``None`` without a counter."""
    if field not in compiler.store.counted_fields(conn, class_name):
        return None
    sql = (f"SELECT value, SUM(n) FROM _counts AS k WHERE class_name = {compiler.p(class_name)} "
           f"AND field = {compiler.p(field)} AND {compiler.acl('k')} "
           "GROUP BY IFNULL(value, x'00') HAVING SUM(n) > 0 ORDER BY IFNULL(value, x'00')")
    return [(value, int(n)) for value, n in conn.execute(sql, compiler.params)]
