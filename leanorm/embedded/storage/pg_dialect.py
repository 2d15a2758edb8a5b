"""The endpoints' SQL (SQLite's dialect, see :mod:`.interface`) as PostgreSQL runs it.

A statement is translated once per distinct text (:func:`translate`, cached): the SQL is a few hundred
shapes written by the server's own code; values always arrive as parameters. What changes:

- parameters: ``?`` and ``:name`` become psycopg's ``%s`` and ``%(name)s``;
- SQLite's JSON functions become ``lo_*`` functions over ``jsonb`` (:mod:`.pg_schema` defines them) with
  each path literal (``'$."a"."b"'``) turned into a ``text[]`` (``'{"a","b"}'``): ``lo_extract`` answers
  ``jsonb`` (NULL for a JSON null, as SQLite), and operators between ``jsonb`` and text or numbers compare
  a document's value with a parameter the way SQLite compares ``json_extract``'s typed result;
- every other string literal is typed ``text`` (a literal beside ``jsonb`` would otherwise be read as JSON);
- SQLite's integers as truth values (``WHERE 1``, ``AND 0``) become ``TRUE``/``FALSE``; ``IFNULL`` is
  ``lo_ifnull``, which also takes a condition and SQLite's ``0``;
- ``INSERT OR IGNORE``/``OR REPLACE`` become ``ON CONFLICT``; ``IS [NOT] x`` becomes ``IS [NOT] DISTINCT
  FROM x``; ``ASC``/``DESC`` get SQLite's null placement (nulls smallest) unless they name one;
- a class table's ``acl``/``data`` written from a parameter (or a parameter standing for one, ``? AS data``)
  take it as ``jsonb``.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Optional, Tuple, Union

from ..answers import ProtocolError
from .pg_schema import CATALOGUE

__all__ = ["translate", "Translated", "PRIMARY_KEYS", "MAX_NAME_BYTES", "CACHED_SQL_CHARS"]

#: the longest name PostgreSQL keeps (NAMEDATALEN - 1): it cuts a longer one to this many bytes without an
#: error, so two classes whose table names (``c_<class>``) agree that far would be one table
MAX_NAME_BYTES = 63

#: the primary key of each table an ``INSERT OR REPLACE`` writes (what its ``ON CONFLICT`` names)
PRIMARY_KEYS: Dict[str, Tuple[str, ...]] = {
    "_schema": ("class_name", "field"), "_field_options": ("class_name", "field"),
    "_named_indexes": ("class_name", "name"), "_class_permissions": ("class_name",),
    "_one_time_codes": ("purpose", "recipient", "user_id"), "_config": ("name",), "_passwords": ("user_id",),
    "_sessions": ("token",), "_file_uploads": ("token",), "_request_ids": ("id",), "_migrations": ("name",),
    "_leaderboards": ("name",), "_leaderboard_statistics": ("name", "version", "member"),
    "_leaderboard_archives": ("object_id",), "_file_bytes": ("object_id",), "_counts": ("class_name", "field", "value", "acl"),
}
#: the columns of each system table in order (``INSERT OR REPLACE INTO t VALUES (...)`` names none)
COLUMNS: Dict[str, Tuple[str, ...]] = {
    "_schema": ("class_name", "field", "type", "target_class"),
    "_field_options": ("class_name", "field", "required", "default_value"),
    "_named_indexes": ("class_name", "name", "keys"), "_class_permissions": ("class_name", "permissions"),
    "_one_time_codes": ("purpose", "recipient", "user_id", "code", "expires_at"),
    "_config": ("name", "value", "master_only"), "_passwords": ("user_id", "hash"),
    "_sessions": ("token", "user_id", "created_at", "expires_at"),
    "_leaderboard_statistics": ("name", "version", "member", "value", "updated_at"),
    "_file_bytes": ("object_id", "bytes"),
}
#: tables whose rows get a generated id a statement's ``lastrowid`` answers, and its column
SERIAL_TABLES = {"_outbox": "id", "_status_inbox": "message_id"}

_RENAMED = {"json_extract": "lo_extract", "json_type": "lo_type", "json_each": "lo_each",
            "json_array_length": "lo_array_length", "json_set": "lo_set", "json_remove": "lo_remove",
            "json": "lo_json", "ifnull": "lo_ifnull"}
_JSON_COLUMNS = ("acl", "data")
_BOOLEAN_BEFORE = {"where", "and", "or", "not", "(", "when", "then", "else"}
_BOOLEAN_AFTER = {"and", "or", ")", "order", "limit", "group", "end", "then", ""}

_TOKEN = re.compile(r"""
    (?P<string>x?'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<space>\s+)
  | (?P<param>\?|:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<op><=|>=|<>|!=|==|\|\||[-+*/%=<>(),;.])
""", re.VERBOSE)
_PATH = re.compile(r"'\$((?:\.(?:\"[^\"]*\"|[^.\"']+))*)'\Z")
_PATH_PART = re.compile(r"\.(?:\"([^\"]*)\"|([^.\"']+))")


class Translated:
    """A statement as PostgreSQL runs it: its text, and whether its ``lastrowid`` is the row it answers."""

    __slots__ = ("sql", "returns_id", "regexes", "catalogue", "documents")

    def __init__(self, sql: str, returns_id: bool, regexes: Tuple[Tuple[str, str], ...] = (),
                 catalogue: str = "", documents: Tuple[Union[int, str], ...] = ()) -> None:
        self.sql, self.returns_id = sql, returns_id
        #: the parameters (positions from 0, or names) that are JSON texts PostgreSQL reads as ``jsonb``: a
        #: class table's ``acl``/``data``, a ``json(?)``
        self.documents = documents
        #: ``"read"``: it reads one catalogue table alone (its answer may be kept until the catalogue
        #: changes); ``"write"``: it writes one; ``""``: neither
        self.catalogue = catalogue
        #: the parameters (names) of each ``leanorm_regexp``'s pattern and options: the pattern is
        #: rewritten for PostgreSQL's regular expressions when the statement runs (:func:`are_pattern`)
        self.regexes = regexes


def _path_array(literal: str) -> Optional[str]:
    """``'$."a"."b"'`` as the ``text[]`` literal ``'{"a","b"}'``; None for a literal that is no path."""
    found = _PATH.match(literal)
    if found is None:
        return None
    parts = [quoted or bare for quoted, bare in _PATH_PART.findall(found.group(1))]
    return "'{" + ",".join('"' + p.replace("'", "''") + '"' for p in parts) + "}'::text[]"


def _tokens(sql: str) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        found = _TOKEN.match(sql, pos)
        if found is None:
            raise ValueError(f"cannot translate SQL at {sql[pos:pos + 30]!r}")
        kind = found.lastgroup or ""
        out.append((kind, found.group()))
        pos = found.end()
    return out


def _nearest(tokens: List[Tuple[str, str]], i: int, step: int) -> int:
    """The index of the nearest token from ``i`` (exclusive) in direction ``step`` that is not whitespace
    (-1 or ``len(tokens)`` past either end)."""
    i += step
    while 0 <= i < len(tokens) and tokens[i][0] == "space":
        i += step
    return i


def _significant(tokens: List[Tuple[str, str]], i: int, step: int) -> str:
    """The lowercased text of the nearest token from ``i`` (exclusive) in direction ``step`` that is not
    whitespace ("" at either end)."""
    j = _nearest(tokens, i, step)
    return tokens[j][1].lower() if 0 <= j < len(tokens) else ""


def _in_json_call(tokens: List[Tuple[str, str]], i: int) -> bool:
    """Whether the token at ``i`` opens the argument of SQLite's ``json(...)`` (a parameter: ``json(?)``)."""
    return _significant(tokens, i, -1) == "(" and _significant(tokens, _nearest(tokens, i, -1), -1) == "json"


def _closing(tokens: List[Tuple[str, str]], i: int) -> int:
    """The index of the parenthesis closing the one at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j][1] == "(":
            depth += 1
        elif tokens[j][1] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced parentheses")


#: the longest statement (characters) whose translation is kept among 4,096, and which psycopg may prepare
#: (``PGConnection._send``): the endpoints' own statements are shorter; a longer one is shaped by a client's
#: `where`, whose keys are part of its text, and 4,096 of those kept (twice, with psycopg's count of each
#: connection's last 100) held gigabytes: a batch item's `$or` of 120 keys of 10,000 characters is 2.5 MB
#: of SQL. Kept, 4,096 statements of this size are some 40 MB; psycopg caches none longer either.
CACHED_SQL_CHARS = 4096
#: longer statements up to this many characters are kept too, the last :data:`LONG_KEPT` of them (an app's
#: own long `where`, sent again and again, is translated once: 1.5 ms for 5 KB); longer ones never
LONG_SQL_CHARS = 65536
LONG_KEPT = 64


def translate(sql: str) -> Translated:
    """``sql`` (SQLite's dialect, as the endpoints write it) in PostgreSQL's, with psycopg's placeholders;
    kept for the next use (:data:`CACHED_SQL_CHARS`, :data:`LONG_SQL_CHARS`).

    >>> print(translate("SELECT objectId FROM c_Post WHERE json_extract(data, '$.score') > ? AND 1").sql)
    SELECT objectId FROM c_Post WHERE lo_extract(data, '{"score"}'::text[]) > %s AND TRUE
    >>> print(translate("INSERT OR IGNORE INTO _relations VALUES (?, ?, ?, ?, ?)").sql)
    INSERT INTO _relations VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
    """
    if len(sql) <= CACHED_SQL_CHARS:
        return _kept(sql)
    return _kept_long(sql) if len(sql) <= LONG_SQL_CHARS else _translate(sql)


def _translate(sql: str) -> Translated:
    tokens = _tokens(sql.strip().rstrip(";"))
    head = " ".join(t[1].lower() for t in tokens if t[0] != "space")
    conflict = ""
    for how in ("ignore", "replace"):
        if head.startswith(f"insert or {how} into "):
            # drop "OR IGNORE"/"OR REPLACE": the tokens after INSERT
            words = [i for i, t in enumerate(tokens) if t[0] == "word"]
            del tokens[words[1]:words[3]]
            target = head.split()[4].strip('"')
            if how == "ignore":
                conflict = " ON CONFLICT DO NOTHING"
            else:
                keys = PRIMARY_KEYS[target]
                columns = COLUMNS[target]
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
                conflict = f" ON CONFLICT ({', '.join(keys)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
    json_params = _json_parameters(tokens, head)
    out: List[str] = []
    documents: List[Union[int, str]] = []
    params = 0
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        low = text.lower()
        if kind == "string":
            path = _path_array(text) if not text.startswith("x") else None
            if path is not None:
                out.append(path)
            elif text.startswith("x"):
                out.append("'\\x" + text[2:-1] + "'::bytea")
            else:
                out.append(text.replace("%", "%%") + "::text")
        elif kind == "ident":
            _check_name(text)
            out.append(text)
        elif kind == "param":
            params += 1
            mark = "%s" if text == "?" else f"%({text[1:]})s"
            out.append(f"{mark}::jsonb" if params in json_params else mark)
            if params in json_params or _in_json_call(tokens, i):
                documents.append(params - 1 if text == "?" else text[1:])
        elif kind == "number" and text in ("0", "1") and _significant(tokens, i, -1) in _BOOLEAN_BEFORE \
                and _significant(tokens, i, 1) in _BOOLEAN_AFTER:
            out.append("TRUE" if text == "1" else "FALSE")
        elif kind == "word" and low in _RENAMED and _significant(tokens, i, 1) == "(":
            if low == "json_extract" and _significant(tokens, i, -1) in ("and", "or", "where", "not") \
                    and _after_call(tokens, i) in _BOOLEAN_AFTER:
                out.append("lo_truthy(" + _RENAMED[low])  # a document's value as a truth value
                close = _closing(tokens, _next_paren(tokens, i))
                tokens.insert(close + 1, ("op", ")"))
            else:
                out.append(_RENAMED[low])
        elif kind == "word" and low == "is":
            j = _nearest(tokens, i, 1)
            if tokens[j][1].lower() == "not":
                k = _nearest(tokens, j, 1)
                if tokens[k][1].lower() == "null":
                    out.append(text)
                else:
                    out.append("IS DISTINCT FROM")
                    i = j + 1
                    continue
            elif tokens[j][1].lower() != "null":
                out.append("IS NOT DISTINCT FROM")
            else:
                out.append(text)
        elif kind == "word" and low in ("asc", "desc") and _significant(tokens, i, 1) != "nulls":
            out.append(f"{text} NULLS {'FIRST' if low == 'asc' else 'LAST'}")
        elif kind == "op" and text == "%":
            out.append("%%")
        elif kind == "op" and text == "==":
            out.append("=")
        else:
            out.append(text)
        i += 1
    translated = "".join(out) + conflict
    serial = SERIAL_TABLES.get(head.split()[2].split("(")[0]) if head.startswith("insert into ") else None
    returns_id = serial is not None
    if serial is not None:
        translated += f" RETURNING {serial}"
    return Translated(_grouped_values(translated), returns_id, _regex_parameters(tokens),
                      _catalogue_use(head), tuple(documents))


_kept = functools.lru_cache(maxsize=4096)(_translate)
_kept_long = functools.lru_cache(maxsize=LONG_KEPT)(_translate)


def _check_name(quoted: str) -> None:
    """Refuse (103) a quoted name PostgreSQL would cut short: a class's table (``c_`` and the class name),
    or an index made from a class and field name."""
    name = quoted[1:-1].replace('""', '"')
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ProtocolError(103, f"Name too long for the PostgreSQL store: {name[:80]!r} has {len(name.encode())} "
                                 f"bytes, PostgreSQL keeps {MAX_NAME_BYTES} (a class name has at most "
                                 f"{MAX_NAME_BYTES - 2} characters there).")


def _catalogue_use(head: str) -> str:
    """Whether a statement (its significant tokens, lowercased) reads a catalogue table alone, or writes one."""
    words = head.split()
    if words[:1] == ["select"] and words.count("from") == 1 and "join" not in words and "select" not in words[1:]:
        after = words[words.index("from") + 1:]
        return "read" if after and after[0].strip('"') in CATALOGUE and (len(after) == 1 or after[1] == "where") else ""
    if words[:1] in (["insert"], ["update"], ["delete"]):
        target = next((w for w in words[1:] if w not in ("or", "ignore", "replace", "into", "from")), "")
        return "write" if target.strip('"').split("(")[0] in CATALOGUE else ""
    return ""


def _regex_parameters(tokens: List[Tuple[str, str]]) -> Tuple[Tuple[str, str], ...]:
    found = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "word" and text.lower() == "leanorm_regexp":
            names = [t[1][1:] for t in tokens[i + 1:i + 8] if t[0] == "param"][:2]
            if len(names) == 2:
                found.append((names[0], names[1]))
    return tuple(found)


_RE2_ESCAPES = {"b": "\\y", "B": "\\Y", "z": "\\Z"}
#: a named group (RE2 takes both spellings), which PostgreSQL writes as a plain one
_NAMED_GROUP = re.compile(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>")


@functools.lru_cache(maxsize=256)
def are_pattern(pattern: str, options: str) -> str:
    """A ``$regex`` (RE2's syntax, already accepted by :func:`.regex.compile_regex`) and its ``$options``
    as one of PostgreSQL's advanced regular expressions: the options as its leading flags (``i``; ``m``
    and ``s`` as its newline modes; ``x``), ``\\Q...\\E`` spelt out, ``\\b``/``\\B`` as ``\\y``/``\\Y``,
    named groups as plain ones.

    >>> print(are_pattern(r"\\Qa.b\\E\\b(?P<word>x)", "i"))
    (?pi)a\\.b\\y(x)
    """
    out: List[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                quoted = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append("".join(ch if ch.isalnum() or ch == "_" else "\\" + ch for ch in quoted))
                i = len(pattern) if end < 0 else end + 2
                continue
            out.append(_RE2_ESCAPES.get(nxt, c + nxt))
            i += 2
            continue
        named = _NAMED_GROUP.match(pattern, i) if c == "(" else None
        if named is not None:
            out.append("(")
            i = named.end()
            continue
        out.append(c)
        i += 1
    lines, dotall = "m" in options, "s" in options
    flags = ("w" if dotall else "n") if lines else ("s" if dotall else "p")
    flags += "".join(f for f in "ix" if f in options)
    return f"(?{flags}){''.join(out)}"


def _next_paren(tokens: List[Tuple[str, str]], i: int) -> int:
    for j in range(i + 1, len(tokens)):
        if tokens[j][1] == "(":
            return j
    raise ValueError("a call without arguments")


def _after_call(tokens: List[Tuple[str, str]], i: int) -> str:
    """What follows the call starting at ``i`` (its name), lowercased."""
    return _significant(tokens, _closing(tokens, _next_paren(tokens, i)), 1)


def _json_parameters(tokens: List[Tuple[str, str]], head: str) -> set:
    """The positions (1-based, among the parameters) of values written into a class table's ``acl`` or
    ``data`` column: ``SET data = ?`` and an ``INSERT``'s column list; or standing for one in a row made
    of parameters (``SELECT :acl AS acl, :data AS data``: an object tested as a row of its class)."""
    significant = [t for t in tokens if t[0] != "space"]
    if not head.startswith(("insert into \"c_", "update \"c_", "insert or ignore into \"c_",
                            "insert or replace into \"c_")):
        positions = [k for k, t in enumerate(significant) if t[0] == "param"]
        return {n for n, k in enumerate(positions, 1)
                if [t[1].lower() for t in significant[k + 1:k + 3]] in (["as", "acl"], ["as", "data"])}
    found = set()
    params = 0
    if head.startswith("insert"):
        opened = next(i for i, t in enumerate(significant) if t[1] == "(")
        columns: List[str] = []
        j = opened + 1
        while significant[j][1] != ")":
            if significant[j][0] in ("word", "ident"):
                columns.append(significant[j][1].strip('"').lower())
            j += 1
        for t in significant[j:]:
            if t[0] == "param":
                params += 1
                if params <= len(columns) and columns[params - 1] in _JSON_COLUMNS:
                    found.add(params)
        return found
    for k, t in enumerate(significant):
        if t[0] == "param":
            params += 1
            if k >= 2 and significant[k - 1][1] == "=" and significant[k - 2][1].lower() in _JSON_COLUMNS:
                found.add(params)
    return found


_GROUP_BY_PRESENT = re.compile(r"GROUP BY lo_ifnull\(([A-Za-z_][A-Za-z0-9_.]*), '\\x00'::bytea\)")


def _grouped_values(sql: str) -> str:
    """``GROUP BY IFNULL(value, x'00')`` (SQLite's way to group a missing value as a key of its own) as
    ``GROUP BY value``: the same groups (PostgreSQL groups NULLs together too), and ``value`` may then be
    selected, which PostgreSQL allows only for a column grouped by."""
    return _GROUP_BY_PRESENT.sub(r"GROUP BY \1", sql)
