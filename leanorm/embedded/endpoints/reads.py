"""Reading objects: query, fetch, ``include`` and ``keys``, and the answer to a listing request.

``query`` and ``fetch`` are the backend's one implementation of each read: the endpoints, hooks and
the user, file and push code all call them.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ..access import authz
from ..storage import counters
from ..budget import Budget
from .file_values import expand_files
from ..access.permissions import permit
from ..routing import Context
from ..answers import ProtocolError
from ..storage.rows import ROW, to_json
from ..storage.store import check_class_name, table
from ..storage.values import INT64_MAX
from ..storage.query_compiler import QueryCompiler
from ..storage.interface import Connection

__all__ = ["query", "fetch", "own_user", "list_answer", "without_unasked", "int_param", "page_limit", "MAX_LIMIT",
           "DEFAULT_LIMIT"]

#: the ``keys`` (and ``order``) name of a ``$text`` search's relevance
SCORE = "$score"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: the ACL LeanCloud answers (``returnACL``) for an object saved without one: its class default, public
DEFAULT_ACL = {"*": {"read": True, "write": True}}


def int_param(ctx: Context, name: str, default: int) -> int:
    raw = ctx.params.get(name)
    if not raw:  # absent or empty
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProtocolError(102, f"Invalid query: {name} must be an integer.") from None
    if not 0 <= value <= INT64_MAX:  # SQLite's LIMIT/OFFSET are 64-bit integers
        raise ProtocolError(102, f"Invalid query: {name} must be between 0 and {INT64_MAX}.")
    return value


def query(ctx: Context, class_name: str, where: Any = None, order: Optional[str] = None,
          limit: int = DEFAULT_LIMIT, skip: int = 0, keys: Optional[str] = None,
          include: Optional[str] = None, count: bool = False,
          operation: str = "find") -> Tuple[List[Dict[str, Any]], Optional[int]]:
    """Rows of ``class_name`` the caller may read that match ``where``, and their count if asked:
    ``operation`` (find, get, count) must pass the class-level permissions, the rows their ACLs, and the
    answer shows only the fields the caller may see. The rows (and included objects) are charged to the
    request's budget, except for the master key (an aggregate reads a whole class)."""
    check_class_name(class_name)
    policy = authz.ReadPolicy(ctx)
    policy.permit(class_name, operation)
    with ctx.store.read() as conn:
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, policy)
        cond = compiler.readable(class_name, "t0", where)  # a malformed where is refused, class or none
        if not ctx.store.has_class(conn, class_name):
            return [], (0 if count else None)
        total = None
        if count:
            total = counters.count(conn, compiler, class_name, where)
            if total is None:
                total = conn.execute(f"SELECT COUNT(*) FROM {table(class_name)} AS t0 WHERE {cond}",
                                     compiler.params).fetchone()[0]
        rows: List[Dict[str, Any]] = []
        if limit:
            terms = compiler.order(class_name, "t0", order)
            # keys=$score: a $text search's relevance, answered as "score" (as Parse Server answers it)
            score = compiler.text_score if SCORE in _keys(keys) else None
            sql = (f"SELECT {', '.join('t0.' + c for c in ROW.split(', '))}{', ' + score if score else ''} "
                   f"FROM {table(class_name)} AS t0 "
                   f"WHERE {cond}" + (f" ORDER BY {', '.join(terms)}" if terms else "") +
                   f" LIMIT {int(_allowance(ctx, limit))} OFFSET {int(skip)}")
            # the SQL condition already kept the rows the caller may read; the filter is what shows them
            for r in conn.execute(sql, compiler.params):
                shown = policy.reveal(class_name, to_json(r[:5]), operation)
                if shown is None:
                    continue
                if score:
                    shown["score"] = r[5]
                rows.append(shown)
            _charge(ctx, len(rows))
        if include:
            _include(ctx, conn, policy, rows, _include_paths(ctx, conn, class_name, include))
        expand_files(ctx, conn, rows, policy)
    if keys:
        tree = _key_tree(["score" if k == SCORE else k for k in _keys(keys)])
        rows = [_project(r, tree) for r in rows]
    return rows, total


def _keys(keys: Optional[str]) -> List[str]:
    return [k.strip() for k in keys.split(",")] if keys else []


def fetch(ctx: Context, class_name: str, object_id: str, keys: Optional[str] = None,
          include: Optional[str] = None) -> Dict[str, Any]:
    rows, _ = query(ctx, class_name, {"objectId": object_id}, limit=1, keys=keys, include=include, operation="get")
    if not rows:
        raise ProtocolError(101, "Object not found.", 404)
    return rows[0]


def own_user(ctx: Context) -> Dict[str, Any]:
    """The caller's own ``_User`` object, for the answers about itself (login, signup, ``users/me``): all
    of it, whatever its ACL and the class's permissions say (a user sees itself, as on Parse Server and
    LeanCloud), but what it points to is read with the user's own rights: a File value naming another
    user's private file stays the value it stored. Error 101 when there is no such user."""
    policy = authz.ReadPolicy(ctx)
    with ctx.store.read() as conn:
        row = conn.execute(f"SELECT {ROW} FROM {table('_User')} WHERE objectId=?", (ctx.caller.user_id,)
                           ).fetchone() if ctx.store.has_class(conn, "_User") else None
        if row is None:
            raise ProtocolError(101, "Object not found.", 404)
        rows = [policy.visible("_User", to_json(row))]
        expand_files(ctx, conn, rows, policy)
    return rows[0]


KeyTree = Dict[str, "KeyTree"]


def _key_tree(keys: List[str]) -> KeyTree:
    """``keys=`` (``title``, ``author.name``) as a tree: ``{"title": {}, "author": {"name": {}}}``; a key
    with an empty subtree keeps its whole value. Built once per request: a 100,000-key ``keys`` walked
    for every row took 36 s for 50 rows."""
    tree: KeyTree = {}
    for key in keys:
        node = tree
        for part in [p for p in key.strip().split(".") if p]:
            node = node.setdefault(part, {})
    return tree


def _project(obj: Dict[str, Any], tree: KeyTree) -> Dict[str, Any]:
    out: Dict[str, Any] = {k: obj[k] for k in ("objectId", "createdAt", "updatedAt", "ACL") if k in obj}
    for top in [k for k in obj if k in tree]:  # the row's fields: never more work than the row has
        value, nested = obj[top], tree[top]
        if nested and isinstance(value, dict) and value.get("__type") == "Object":
            value = {"__type": "Object", "className": value["className"], **_project(value, nested)}
        out[top] = value
    return out


def _include_paths(ctx: Context, conn: Connection, class_name: str, include: str) -> Set[str]:
    """The keys ``include`` names; ``*`` names every Pointer and Array field of the class (the pointers an
    array holds are expanded too), as Parse's ``include=*`` does."""
    paths = {p.strip() for p in include.split(",") if p.strip()}
    if "*" in paths:
        schema = ctx.store.schema(conn, class_name)
        paths = (paths - {"*"}) | {key for key, (kind, _) in schema.items() if kind in ("Pointer", "Array")}
    return paths


def _include(ctx: Context, conn: Connection, policy: authz.ReadPolicy, rows: List[Dict[str, Any]],
             paths: Set[str]) -> None:
    """Replace the pointers at ``paths`` (``author``, ``author.org``) with their objects: one query per
    class and level, never one per object."""
    Budget.check_include(paths)  # each path walks every row: a long list made one request cost minutes
    for path in sorted(paths, key=lambda p: p.count(".")):
        level = rows
        for part in path.split("."):
            level = _expand(ctx, conn, policy, level, part)


def _expand(ctx: Context, conn: Connection, policy: authz.ReadPolicy, objects: List[Dict[str, Any]],
            key: str) -> List[Dict[str, Any]]:
    """One level of ``include``: pointers into a class the caller may not find stay pointers. A pointer to
    an object not found (deleted, or hidden by its ACL) stays a pointer in the LeanCloud dialect; the
    Parse dialect drops it, key or array element, as Parse Server does."""
    wanted: Dict[str, set] = {}
    holders: List[Tuple[Any, Any, Dict[str, Any]]] = []  # (container, index or key, pointer)
    for obj in objects:
        value = obj.get(key)
        slots = list(enumerate(value)) if isinstance(value, list) else [(key, value)]
        container = value if isinstance(value, list) else obj
        for index, item in slots:
            if isinstance(item, dict) and item.get("__type") in ("Pointer", "Object"):
                holders.append((container, index, item))
                if item["__type"] == "Pointer":
                    wanted.setdefault(item["className"], set()).add(item["objectId"])
    found: Dict[Tuple[str, str], Dict[str, Any]] = {}
    searched: Set[str] = set()  # the classes whose pointers not found are gone
    for class_name, ids in wanted.items():
        if not policy.allowed(class_name, "find"):
            continue
        searched.add(class_name)
        if not ctx.store.has_class(conn, class_name):
            continue
        compiler = QueryCompiler(ctx.store, conn, ctx.caller, ctx.dialect, policy)
        cond = compiler.readable(class_name, "t0", {"objectId": {"$in": sorted(ids)}})
        rows = conn.execute(f"SELECT {', '.join('t0.' + c for c in ROW.split(', '))} FROM {table(class_name)} "
                            f"AS t0 WHERE {cond} LIMIT {int(_allowance(ctx, len(ids)))}", compiler.params).fetchall()
        _charge(ctx, len(rows))
        for row in rows:
            shown = policy.reveal(class_name, to_json(row), "find")
            if shown is not None:
                found[(class_name, row[0])] = {"__type": "Object", "className": class_name, **shown}
    expanded = []
    gone: List[Tuple[Any, Any]] = []
    for container, index, item in holders:
        if item["__type"] == "Pointer":
            full = found.get((item["className"], item["objectId"]))
            if full is None:
                if ctx.dialect == "parse" and item["className"] in searched:
                    gone.append((container, index))
                continue
            container[index] = item = full
        expanded.append(item)
    for container, index in reversed(gone):  # an array's later elements first: the indexes stay right
        del container[index]
    return expanded


def _allowance(ctx: Context, limit: int) -> int:
    """The SQL ``LIMIT`` of a read asking for ``limit`` rows: what the request's budget has left."""
    return limit if ctx.caller.master else ctx.budget.row_allowance(limit)


def _charge(ctx: Context, rows: int) -> None:
    if not ctx.caller.master:
        ctx.budget.charge_rows(rows)


def page_limit(ctx: Context, limit: int) -> int:
    """``limit`` of one page a client asked for, checked: LeanCloud answers at most ``MAX_LIMIT`` objects a
    page, on every route that takes a limit (classes, CQL, inboxes); Parse Server has no such bound,
    and there the request's row budget (``budget.MAX_ROWS``) is the bound."""
    if ctx.dialect == "leancloud" and limit > MAX_LIMIT:
        raise ProtocolError(102, f"Invalid query: limit must be at most {MAX_LIMIT}.")
    return limit


def list_answer(ctx: Context, class_name: str) -> Dict[str, Any]:
    limit = page_limit(ctx, int_param(ctx, "limit", DEFAULT_LIMIT))
    counting = ctx.params.get("count") in ("1", "true")
    if counting and limit:  # rows and their count: both permissions apply
        permit(ctx, class_name, "count")
    rows, total = query(ctx, class_name, ctx.json_param("where"), ctx.params.get("order"), limit,
                        int_param(ctx, "skip", 0), ctx.params.get("keys"), ctx.params.get("include"),
                        counting, operation="count" if counting and limit == 0 else "find")
    answer: Dict[str, Any] = {"results": without_unasked(ctx, rows)}
    if total is not None:
        answer["count"] = total
    return answer


def without_unasked(ctx: Context, rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rows without ``excludeKeys``, and without the ACL unless asked for (LeanCloud's ``returnACL``;
    Parse Server always returns it)."""
    excluded = {k.strip() for k in ctx.params.get("excludeKeys", "").split(",") if k.strip()}
    if ctx.dialect == "leancloud" and ctx.params.get("returnACL") not in ("true", "1"):
        excluded.add("ACL")
    elif ctx.dialect == "leancloud":  # an object saved without an ACL has the class default: public
        rows = [r if "ACL" in r else {**r, "ACL": dict(DEFAULT_ACL)} for r in rows]
    if not excluded:
        return rows
    return [{k: v for k, v in r.items() if k not in excluded} for r in rows]
