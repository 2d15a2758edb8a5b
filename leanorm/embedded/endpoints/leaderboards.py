"""LeanCloud's leaderboards (``/1.1/leaderboard/...``): statistics of users, objects or named entities,
ranked per leaderboard and version.

A leaderboard (``_leaderboards``) has a ``statisticName``, an ``order`` (``ascending``/``descending``), an
``updateStrategy`` (``better`` keeps the best value in that order, ``last`` the latest, ``sum`` adds them up),
a ``versionChangeInterval`` (``day``/``week``/``month``/``never``) and a ``memberType``: ``_User`` (the
default), ``_Entity`` (members are strings the app names) or a class (members are its objects). Its
``version`` starts at 0 and grows by one at each reset: on ``PUT .../incrementVersion``, or when the
interval ends (midnight in UTC+8, LeanCloud's zone: the next day, Monday or 1st of the month), checked
by every leaderboard request before it answers. A reset archives the version: its rankings stay
readable with ``version=`` for the last ``KEPT_VERSIONS`` versions.

Who may do what, as on LeanCloud: creating, changing, resetting and deleting a leaderboard and reading
its archives need the master key; a logged-in user writes (and deletes) its own statistics, the master
key anyone's (and only it may ``overwrite``, which ignores the strategy); objects' and entities'
statistics are written with the master key. Leaderboards, statistics and rankings are read with the app
key. What a ranking shows of a user or object (``selectUserKeys``/``includeUser``, ``selectKeys``/
``includeKeys``) is a read of that class by the caller (``reads.query``): its ACLs, class permissions and
protected fields apply, and a member the caller may not read stays a bare pointer.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..access import authz
from .objects import new_object_id
from ..routing import Context, Handler, route
from ..answers import ProtocolError
from .reads import MAX_LIMIT, fetch, int_param, query, without_unasked
from ..storage.store import check_class_name
from ..storage.values import now_iso, pointer
from ..storage.interface import Connection

__all__ = ["KEPT_VERSIONS", "next_reset"]

ORDERS = ("ascending", "descending")
STRATEGIES = ("better", "last", "sum")
PERIODS = ("day", "week", "month", "never")
USER, ENTITY = "_User", "_Entity"
#: the path segment of a member's statistics, and of a typed rankings path, by member type
KINDS = {"users": USER, "entities": ENTITY}
RANK_KINDS: Dict[str, Optional[str]] = {"user": USER, "entity": ENTITY, "object": None}
#: where LeanCloud's periods end: midnight in China
RESET_ZONE = dt.timezone(dt.timedelta(hours=8))
#: archived versions whose rankings stay readable (LeanCloud keeps 60 archive files)
KEPT_VERSIONS = 60
#: statistics one request writes, and leaderboard names one request names
MAX_NAMES = 100
#: rankings answered when the request names no limit (LeanCloud's ``maxResultsCount`` default)
DEFAULT_RANKS = 20
NAME = re.compile(r"[\w\-]{1,128}\Z")
ENTITY_NAME = re.compile(r"[^/\x00-\x1f]{1,128}\Z")
#: the largest statistic stored as an integer; beyond it values are floats, as in JavaScript
MAX_EXACT = 2 ** 53

Board = Dict[str, Any]
_COLUMNS = ("name, object_id, member_type, sort_order, strategy, period, version, activated_at, expires_at, "
            "created_at, updated_at")


def _leancloud(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """``@route`` for LeanCloud's dialect only (Parse has no leaderboards); every request first resets the
    leaderboards whose period has ended."""
    def register(handler: Handler) -> Handler:
        def serve(ctx: Context) -> Any:
            if ctx.dialect != "leancloud":
                raise ProtocolError(1, f"Unknown endpoint: {ctx.method} /{ctx.path}.", 404)
            _reset_expired(ctx)
            return handler(ctx)
        return route(method, pattern)(serve)
    return register


# -- dates and periods -------------------------------------------------------------------------------------
def _date(iso: Optional[str]) -> Optional[Dict[str, str]]:
    return None if iso is None else {"__type": "Date", "iso": iso}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def next_reset(period: str, now: dt.datetime) -> Optional[str]:
    """When a version that is current at ``now`` ends: the next midnight (UTC+8) starting a day, a week
    (Monday) or a month; ``None`` for ``never``."""
    if period == "never":
        return None
    local = now.astimezone(RESET_ZONE)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        end = midnight + dt.timedelta(days=1)
    elif period == "week":
        end = midnight + dt.timedelta(days=7 - local.weekday())
    else:
        end = (midnight.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return _iso(end)


def _now() -> Tuple[dt.datetime, str]:
    iso = now_iso()
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc), iso


# -- leaderboards ------------------------------------------------------------------------------------------
def _row(values: Tuple[Any, ...]) -> Board:
    return dict(zip([c.strip() for c in _COLUMNS.split(",")], values))


def _find(conn: Connection, name: str, status: int = 404) -> Board:
    found = conn.execute(f"SELECT {_COLUMNS} FROM _leaderboards WHERE name=?", (name,)).fetchone()
    if found is None:
        raise ProtocolError(2100, f"statisticName '{name}' not found.", status)
    return _row(found)


def _board(ctx: Context, name: str, status: int = 404) -> Board:
    with ctx.store.read() as conn:
        return _find(conn, name, status)


def _as_json(board: Board) -> Dict[str, Any]:
    return {"objectId": board["object_id"], "statisticName": board["name"], "memberType": board["member_type"],
            "order": board["sort_order"], "updateStrategy": board["strategy"],
            "versionChangeInterval": board["period"], "version": board["version"],
            "expiredAt": _date(board["expires_at"]), "activatedAt": _date(board["activated_at"]),
            "createdAt": board["created_at"], "updatedAt": board["updated_at"]}


def _reset_expired(ctx: Context) -> None:
    """Start the next version of every leaderboard whose period has ended."""
    now, iso = _now()
    with ctx.store.read() as conn:
        due = conn.execute("SELECT 1 FROM _leaderboards WHERE expires_at <= ? LIMIT 1", (iso,)).fetchone()
    if due:
        with ctx.store.write() as conn:
            for (name,) in conn.execute("SELECT name FROM _leaderboards WHERE expires_at <= ?", (iso,)).fetchall():
                _increment(conn, _find(conn, name), now, iso)


def _increment(conn: Connection, board: Board, now: dt.datetime, iso: str) -> Board:
    """Archive the current version and start the next; versions older than ``KEPT_VERSIONS`` go."""
    version = board["version"] + 1
    conn.execute("INSERT INTO _leaderboard_archives (object_id, name, version, activated_at, deactivated_at) "
                 "VALUES (?, ?, ?, ?, ?)", (new_object_id(), board["name"], board["version"],
                                            board["activated_at"], iso))
    conn.execute("UPDATE _leaderboards SET version=?, activated_at=?, expires_at=?, updated_at=? WHERE name=?",
                 (version, iso, next_reset(board["period"], now), iso, board["name"]))
    for table in ("_leaderboard_statistics", "_leaderboard_archives"):
        conn.execute(f"DELETE FROM {table} WHERE name=? AND version < ?", (board["name"], version - KEPT_VERSIONS))
    return _find(conn, board["name"])


def _choice(body: Dict[str, Any], key: str, options: Tuple[str, ...], default: Optional[str]) -> Optional[str]:
    value = body.get(key, default)
    if value is not None and value not in options:
        raise ProtocolError(107, f"{key} must be one of {', '.join(options)}.")
    return value


@_leancloud("POST", r"leaderboard/leaderboards")
def _create(ctx: Context) -> Any:
    ctx.require_master()
    body = ctx.json_body()
    name = body.get("statisticName")
    if not isinstance(name, str) or not NAME.match(name):
        raise ProtocolError(107, "statisticName must be 1 to 128 letters, digits, '_' or '-'.")
    member_type = body.get("memberType") or USER
    if member_type not in (USER, ENTITY):
        member_type = check_class_name(str(member_type))
    period = _choice(body, "versionChangeInterval", PERIODS, "week")
    assert period is not None
    now, iso = _now()
    row = (name, new_object_id(), member_type, _choice(body, "order", ORDERS, "descending"),
           _choice(body, "updateStrategy", STRATEGIES, "better"), period, 0, iso, next_reset(period, now), iso, iso)
    with ctx.store.write() as conn:
        try:
            conn.execute(f"INSERT INTO _leaderboards ({_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row)
        except ctx.store.integrity_errors:
            raise ProtocolError(137, f"A leaderboard named '{name}' already exists.") from None
        return _as_json(_find(conn, name))


@_leancloud("GET", r"leaderboard/leaderboards/([^/]+)")
def _get(ctx: Context) -> Any:
    return _as_json(_board(ctx, ctx.args[0]))


@_leancloud("PUT", r"leaderboard/leaderboards/([^/]+)")
def _update(ctx: Context) -> Any:
    """Change the order, strategy or period; a new period ends from now on."""
    ctx.require_master()
    body = ctx.json_body()
    settings = {"order": ("sort_order", ORDERS), "updateStrategy": ("strategy", STRATEGIES),
                "versionChangeInterval": ("period", PERIODS)}
    unknown = set(body) - set(settings)
    if unknown:
        raise ProtocolError(107, f"A leaderboard's {', '.join(sorted(unknown))} can not be changed.")
    changes = {key: _choice(body, key, options, None) for key, (_, options) in settings.items() if key in body}
    now, iso = _now()
    with ctx.store.write() as conn:
        board = _find(conn, ctx.args[0])
        for key, value in changes.items():
            conn.execute(f"UPDATE _leaderboards SET {settings[key][0]}=? WHERE name=?", (value, board["name"]))
        if "versionChangeInterval" in changes:
            conn.execute("UPDATE _leaderboards SET expires_at=? WHERE name=?",
                         (next_reset(str(changes["versionChangeInterval"]), now), board["name"]))
        conn.execute("UPDATE _leaderboards SET updated_at=? WHERE name=?", (iso, board["name"]))
    return {"objectId": board["object_id"], **changes, "updatedAt": iso}


@_leancloud("DELETE", r"leaderboard/leaderboards/([^/]+)")
def _delete(ctx: Context) -> Any:
    """The leaderboard, its statistics of every version and its archives."""
    ctx.require_master()
    with ctx.store.write() as conn:
        name = _find(conn, ctx.args[0])["name"]
        for table in ("_leaderboards", "_leaderboard_statistics", "_leaderboard_archives"):
            conn.execute(f"DELETE FROM {table} WHERE name=?", (name,))
    return {}


@_leancloud("PUT", r"leaderboard/leaderboards/([^/]+)/incrementVersion")
def _reset(ctx: Context) -> Any:
    ctx.require_master()
    now, iso = _now()
    with ctx.store.write() as conn:
        board = _increment(conn, _find(conn, ctx.args[0]), now, iso)
    return {"objectId": board["object_id"], "version": board["version"], "expiredAt": _date(board["expires_at"]),
            "activatedAt": _date(board["activated_at"]), "updatedAt": board["updated_at"]}


@_leancloud("GET", r"leaderboard/leaderboards/([^/]+)/archives")
def _archives(ctx: Context) -> Any:
    """Past versions, newest first. LeanCloud's archive is a CSV file (``url``); here a past version's
    rankings are read with ``ranks?version=``, so ``url`` is null."""
    ctx.require_master()
    limit, skip = _limit(ctx, ("limit",), 10), int_param(ctx, "skip", 0)
    board = _board(ctx, ctx.args[0])
    with ctx.store.read() as conn:
        rows = conn.execute("SELECT object_id, version, activated_at, deactivated_at FROM _leaderboard_archives "
                            "WHERE name=? ORDER BY version DESC LIMIT ? OFFSET ?",
                            (board["name"], limit, skip)).fetchall()
    return {"results": [{"objectId": object_id, "statisticName": board["name"], "version": version,
                         "status": "completed", "url": None, "file_key": None, "activatedAt": _date(activated),
                         "deactivatedAt": _date(deactivated), "createdAt": deactivated, "updatedAt": deactivated}
                        for object_id, version, activated, deactivated in rows]}


# -- statistics --------------------------------------------------------------------------------------------
def _fits(board: Board, member_type: Optional[str]) -> bool:
    """Whether ``board`` ranks members of ``member_type`` (``None``: objects of any class)."""
    if member_type is None:
        return board["member_type"] not in (USER, ENTITY)
    return board["member_type"] == member_type


def _member(ctx: Context, kind: str, given: str) -> Tuple[Optional[str], str]:
    """(member type, member id) of a statistics path: ``self`` is the caller; objects' type is their
    leaderboard's class (``None`` here)."""
    if kind == "users" and given == "self":
        if ctx.caller.user_id is None:
            raise ProtocolError(206, "'self' needs a logged-in user (a session token).", 403)
        return USER, ctx.caller.user_id
    if kind == "entities" and not ENTITY_NAME.match(given):
        raise ProtocolError(107, "An entity is 1 to 128 characters.")
    return KINDS.get(kind), given


def _may_write(ctx: Context, member_type: Optional[str], member: str) -> None:
    """A user writes its own statistics; the master key anyone's, and objects' and entities'."""
    if ctx.caller.master:
        return
    if member_type != USER:
        ctx.require_master()
    if ctx.caller.user_id is None:
        raise ProtocolError(206, "Updating statistics needs a logged-in user (a session token).", 403)
    if ctx.caller.user_id != member:
        raise ProtocolError(1, "A user updates only its own statistics (or use the master key).", 403)


def _names(raw: Optional[str]) -> List[str]:
    names = list(dict.fromkeys(n.strip() for n in (raw or "").split(",") if n.strip()))
    if len(names) > MAX_NAMES:
        raise ProtocolError(107, f"At most {MAX_NAMES} statistic names in one request.")
    return names


def _value(item: Any) -> Tuple[str, float]:
    if not isinstance(item, dict) or not isinstance(item.get("statisticName"), str):
        raise ProtocolError(107, "Statistics are [{statisticName, statisticValue}, ...].")
    value = item.get("statisticValue")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > MAX_EXACT:
        raise ProtocolError(107, "statisticValue must be a number between -2^53 and 2^53.")
    return item["statisticName"], value


def _kept(strategy: str, order: str, old: Optional[float], new: float) -> float:
    if old is None or strategy == "last":
        return new
    if strategy == "sum":
        total = old + new
        if not math.isfinite(total) or abs(total) > MAX_EXACT:
            raise ProtocolError(107, "The sum of the statistic would leave -2^53..2^53.")
        return total
    return min(old, new) if order == "ascending" else max(old, new)


def _statistic(name: str, value: Any, version: Any) -> Dict[str, Any]:
    return {"statisticName": name, "statisticValue": value, "version": version}


@_leancloud("POST", r"leaderboard/(users|entities|objects)/([^/]+)/statistics")
def _update_statistics(ctx: Context) -> Any:
    member_type, member = _member(ctx, *ctx.args)
    _may_write(ctx, member_type, member)
    overwrite = ctx.params.get("overwrite") in ("1", "true")
    if overwrite:
        ctx.require_master()
    items = ctx.body
    if not isinstance(items, list) or not items or len(items) > MAX_NAMES:
        raise ProtocolError(107, f"Statistics are a list of 1 to {MAX_NAMES} {{statisticName, statisticValue}}.")
    values = [_value(item) for item in items]
    boards = {name: _board(ctx, name) for name, _ in values}
    for board in boards.values():
        if not _fits(board, member_type):
            raise ProtocolError(107, f"The leaderboard '{board['name']}' ranks {board['member_type']}, not {ctx.args[0]}.")
    master = ctx.as_master()
    for class_name in {b["member_type"] for b in boards.values()} - {ENTITY}:
        fetch(master, class_name, member, keys="objectId")  # 101 when there is no such user or object
    results = []
    _, iso = _now()
    with ctx.store.write() as conn:
        for name, value in values:
            board = _find(conn, name)
            old = conn.execute("SELECT value FROM _leaderboard_statistics WHERE name=? AND version=? AND member=?",
                               (name, board["version"], member)).fetchone()
            kept = _kept("last" if overwrite else board["strategy"], board["sort_order"],
                         None if old is None else old[0], value)
            if old is None or old[0] != kept:
                conn.execute("INSERT OR REPLACE INTO _leaderboard_statistics (name, version, member, value, updated_at) "
                             "VALUES (?, ?, ?, ?, ?)", (name, board["version"], member, kept, iso))
            results.append({"statisticName": name, "version": board["version"], "statisticValue": kept})
    return {"results": results}


@_leancloud("GET", r"leaderboard/(users|entities|objects)/([^/]+)/statistics")
def _get_statistics(ctx: Context) -> Any:
    """The member's statistics in the current version of each leaderboard (or of those ``statistics``
    names), with the member as rankings show it (``includeUser`` keys of a user)."""
    member_type, member = _member(ctx, *ctx.args)
    names = _names(ctx.params.get("statistics"))
    sql = ("SELECT s.name, s.value, s.version, b.member_type FROM _leaderboard_statistics AS s JOIN _leaderboards AS b "
           "ON b.name = s.name AND b.version = s.version WHERE s.member = ?")
    args: List[Any] = [member]
    if names:
        sql += f" AND s.name IN ({', '.join('?' * len(names))})"
        args += names
    with ctx.store.read() as conn:
        rows = [r for r in conn.execute(sql + " ORDER BY s.name", args)
                if _fits({"member_type": r[3]}, member_type)]
    keys = _names(ctx.params.get("includeUser") or ctx.params.get("selectKeys"))
    shown = {cls: _members(ctx, cls, [member], keys, [])[member] for cls in {r[3] for r in rows}}
    return {"results": [{**_statistic(name, value, version), _member_key(cls): shown[cls]}
                        for name, value, version, cls in rows]}


@_leancloud("DELETE", r"leaderboard/(users|entities|objects)/([^/]+)/statistics")
def _delete_statistics(ctx: Context) -> Any:
    member_type, member = _member(ctx, *ctx.args)
    _may_write(ctx, member_type, member)
    names = _names(ctx.params.get("statistics"))
    with ctx.store.write() as conn:
        for name in names:
            board = _find(conn, name)
            if _fits(board, member_type):
                conn.execute("DELETE FROM _leaderboard_statistics WHERE name=? AND version=? AND member=?",
                             (name, board["version"], member))
    return {}


# -- rankings ----------------------------------------------------------------------------------------------
def _member_key(member_type: str) -> str:
    return {USER: "user", ENTITY: "entity"}.get(member_type, "object")


def _members(ctx: Context, class_name: str, ids: List[str], keys: List[str],
             include: List[str]) -> Dict[str, Any]:
    """Each member as a ranking shows it: an entity's name; a pointer, with the ``keys`` (and ``include``d
    pointers) the caller may read of the object: the read is the caller's own, so ACLs, class permissions
    and protected fields apply."""
    if class_name == ENTITY:
        return {member: member for member in ids}
    shown: Dict[str, Any] = {member: pointer(class_name, member) for member in ids}
    if not ids or not keys or not authz.ReadPolicy(ctx).allowed(class_name, "find"):
        return shown
    rows, _ = query(ctx, class_name, {"objectId": {"$in": ids}}, limit=len(ids), keys=",".join(keys),
                    include=",".join(include) or None)
    for row in without_unasked(ctx, rows):
        shown[row["objectId"]] = {**pointer(class_name, row["objectId"]), **row}
    return shown


def _limit(ctx: Context, names: Iterable[str], default: int) -> int:
    for name in names:
        if ctx.params.get(name):
            limit = int_param(ctx, name, default)
            if limit > MAX_LIMIT:
                raise ProtocolError(102, f"Invalid query: {name} must be at most {MAX_LIMIT}.")
            return limit
    return default


def _order(board: Board) -> Tuple[str, str]:
    """ORDER BY of a leaderboard's rankings (ties: who reached the value first), and the comparison that
    puts a row before another."""
    direction, before = ("ASC", "<") if board["sort_order"] == "ascending" else ("DESC", ">")
    return f"value {direction}, updated_at ASC, member ASC", before


def _around(conn: Connection, board: Board, version: int, member: str, limit: int) -> Optional[int]:
    """The first position of a page of ``limit`` rankings centred on ``member`` (None: it has no statistic)."""
    own = conn.execute("SELECT value, updated_at FROM _leaderboard_statistics WHERE name=? AND version=? AND member=?",
                       (board["name"], version, member)).fetchone()
    if own is None:
        return None
    _, before = _order(board)
    value, updated_at = own
    rank, total = conn.execute(
        f"SELECT COALESCE(SUM(value {before} ? OR (value = ? AND (updated_at < ? OR (updated_at = ? AND member < ?)))), 0),"
        " COUNT(*) FROM _leaderboard_statistics WHERE name=? AND version=?",
        (value, value, updated_at, updated_at, member, board["name"], version)).fetchone()
    return max(0, min(rank - limit // 2, total - limit))


@_leancloud("GET", r"leaderboard/leaderboards/([^/]+)/ranks")
def _page(ctx: Context) -> Any:
    return _ranks(ctx, None, ctx.args[0], None)


@_leancloud("GET", r"leaderboard/leaderboards/([^/]+)/([^/]+)/([^/]+)")
def _page_or_around(ctx: Context) -> Any:
    """``<name>/ranks/<member>`` (the JS SDK's) or ``<type>/<name>/ranks`` (the later SDKs'): one route,
    as one path can read as both (``user/ranks/ranks``: the typed one)."""
    first, second, third = ctx.args
    if first in RANK_KINDS and third == "ranks":
        return _ranks(ctx, first, second, None)
    if second == "ranks":
        return _ranks(ctx, None, first, third)
    raise ProtocolError(1, f"Unknown endpoint: {ctx.method} /{ctx.path}.", 404)


@_leancloud("GET", r"leaderboard/leaderboards/(user|entity|object)/([^/]+)/ranks/([^/]+)")
def _typed_around(ctx: Context) -> Any:
    return _ranks(ctx, *ctx.args)


def _ranks(ctx: Context, typed: Optional[str], name: str, around: Optional[str]) -> Any:
    """Rankings of a version (the current one unless ``version``): a page (``skip``/``limit``, or
    ``startPosition``/``maxResultsCount``), or the page centred on a member (``ranks/<id>``, ``ranks/self``)."""
    board = _board(ctx, name)
    if typed is not None and not _fits(board, RANK_KINDS.get(typed)):
        raise ProtocolError(107, f"The leaderboard '{name}' ranks {board['member_type']}, not {typed}.")
    version = int_param(ctx, "version", board["version"])
    limit = _limit(ctx, ("limit", "maxResultsCount"), DEFAULT_RANKS)
    skip = int_param(ctx, "skip", 0) or int_param(ctx, "startPosition", 0)
    others = _names(ctx.params.get("includeStatistics"))
    included = {other: _board(ctx, other, 400) for other in others}
    include = _names(ctx.params.get("includeUser") or ctx.params.get("includeKeys"))
    keys = list(dict.fromkeys(_names(ctx.params.get("selectUserKeys") or ctx.params.get("selectKeys")) + include))
    answer: Dict[str, Any] = {}
    order, _ = _order(board)
    with ctx.store.read() as conn:
        if ctx.params.get("count") in ("1", "true"):
            answer["count"] = conn.execute("SELECT COUNT(*) FROM _leaderboard_statistics WHERE name=? AND version=?",
                                           (board["name"], version)).fetchone()[0]
        if around is not None:
            member = _member(ctx, "users", around)[1] if around == "self" else around
            start = _around(conn, board, version, member, limit)
            skip, limit = (0, 0) if start is None else (start, limit)
        rows = conn.execute(f"SELECT member, value FROM _leaderboard_statistics WHERE name=? AND version=? "
                            f"ORDER BY {order} LIMIT ? OFFSET ?", (board["name"], version, limit, skip)).fetchall()
        ids = [member for member, _ in rows]
        found: Dict[Tuple[str, str], Tuple[Any, Any]] = {}
        if others and ids:
            marks = ", ".join("?" * len(ids))
            for other in included.values():
                for member, value in conn.execute(
                        f"SELECT member, value FROM _leaderboard_statistics WHERE name=? AND version=? "
                        f"AND member IN ({marks})", (other["name"], other["version"], *ids)):
                    found[(other["name"], member)] = (value, other["version"])
    shown = _members(ctx, board["member_type"], ids, keys, include)
    key = _member_key(board["member_type"])
    results = []
    for position, (member, value) in enumerate(rows):
        ranking = {"statisticName": board["name"], "statisticValue": value, "rank": skip + position,
                   key: shown[member]}
        if others:
            ranking["statistics"] = [_statistic(other, *found.get((other, member), (None, None))) for other in others]
        results.append(ranking)
    return {**answer, "results": results}
