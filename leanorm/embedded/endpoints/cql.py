"""CQL (LeanCloud's ``GET cloudQuery?cql=...&pvalues=[...]``) translated into a ``where`` and the other
query parameters, answered by :func:`reads.query` like any other query: no second query engine.

The documented subset::

    select [count(*) | count(objectId),] [include key, ...,] * | key, ... from Class
      [where condition] [order by [-|+]key [asc|desc], ...] [limit [skip,] count]

where a condition combines, with ``and``/``or``/``not`` and parentheses, ``key op value``
(``= != <> > >= < <=``), ``key [not] in (values)``, ``key [not] like 'pattern'`` (``%`` any text, ``_`` one
character), ``key is [not] exists``. ``not`` before a condition binds tighter than ``and``; it and ``not like``
become ``$nor``, so an object without the key matches a negated condition (MongoDB's ``$nor``). A value is a number, a quoted string, ``true``/``false``/``null``, ``?`` (the
next of ``pvalues``: a JSON value, an object only as a typed wire value such as a Pointer, never an
operator), ``date('iso')`` or ``pointer('Class', 'id')``.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import reads
from ..limits import MAX_WHERE_DEPTH
from ..access.permissions import permit
from ..routing import Context, route
from ..answers import ProtocolError, loads
from ..storage.values import INT64_MAX, pointer

__all__ = ["parse"]

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|"""
                    r"""(?P<op>!=|<>|>=|<=|=|>|<|\(|\)|,|\*|\?|-|\+)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""")
_COMPARE = {"=": None, "!=": "$ne", "<>": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def _error(message: str) -> ProtocolError:
    return ProtocolError(300, f"CQL syntax error: {message}.")


class _Parser:
    def __init__(self, text: str, pvalues: List[Any]) -> None:
        self.tokens: List[Tuple[str, Any]] = []
        pos = 0
        text = text.strip().rstrip(";")
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise _error(f"unexpected text at {text[pos:pos + 20]!r}")
            kind = match.lastgroup or ""
            value: Any = match.group(kind)
            if kind == "num":
                value = float(value) if "." in value else int(value)
            elif kind == "str":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            self.tokens.append((kind, value))
            pos = match.end()
        self.i = 0
        self.pvalues = list(pvalues)
        self.depth = 0  # of parentheses and ``not`` around the condition being parsed

    # -- tokens -----------------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Tuple[str, Any]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", None)

    def keyword(self, *words: str) -> bool:
        """Consume the keywords ``words`` if they come next (case-insensitive)."""
        for k, word in enumerate(words):
            kind, value = self.peek(k)
            if kind != "word" or value.lower() != word:
                return False
        self.i += len(words)
        return True

    def expect(self, symbol: str) -> None:
        if self.peek() != ("op", symbol):
            raise _error(f"expected {symbol!r}, found {self.peek()[1]!r}")
        self.i += 1

    def name(self) -> str:
        kind, value = self.peek()
        if kind != "word":
            raise _error(f"expected a key, found {value!r}")
        self.i += 1
        return value

    # -- grammar ----------------------------------------------------------------------------------------
    def query(self) -> Dict[str, Any]:
        if not self.keyword("select"):
            raise _error("a query starts with select")
        out: Dict[str, Any] = {"count": False, "keys": [], "include": [], "all": False}
        while True:
            if self.keyword("count"):
                self.expect("(")
                if self.peek() == ("op", "*"):
                    self.i += 1
                elif self.name() != "objectId":  # every object has one: the same count as count(*)
                    raise _error("count takes * or objectId")
                self.expect(")")
                out["count"] = True
            elif self.keyword("include"):
                out["include"].append(self.name())
            elif self.peek() == ("op", "*"):
                self.i += 1
                out["all"] = True
            else:
                out["keys"].append(self.name())
            if self.peek() != ("op", ","):
                break
            self.i += 1
        if not self.keyword("from"):
            raise _error("expected from")
        out["class_name"] = self.name()
        out["where"] = self.condition() if self.keyword("where") else None
        order = []
        if self.keyword("order", "by"):
            while True:
                # ``-key`` is descending, as in a find's ``order`` (LeanCloud takes it: Valine sends
                # ``order by -createdAt``); ``+key`` ascending; or ``key desc``/``key asc``
                sign = self.peek() if self.peek() in (("op", "-"), ("op", "+")) else None
                self.i += sign is not None
                key = self.name()
                descending = self.keyword("desc") or sign == ("op", "-")
                if not descending:
                    self.keyword("asc")
                order.append(("-" if descending else "") + key)
                if self.peek() != ("op", ","):
                    break
                self.i += 1
        out["order"] = ",".join(order) or None
        out["skip"], out["limit"] = 0, None
        if self.keyword("limit"):
            first = self.number()
            if self.peek() == ("op", ","):
                self.i += 1
                out["skip"], out["limit"] = first, self.number()
            else:
                out["limit"] = first
        if self.peek()[0] != "end":
            raise _error(f"unexpected {self.peek()[1]!r}")
        return out

    def number(self) -> int:
        kind, value = self.peek()
        if kind == "op" and value == "?":
            self.i += 1
            value = self.placeholder()
        elif kind == "num":
            self.i += 1
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _error(f"limit needs non-negative integers, not {value!r}")
        if value > INT64_MAX:  # SQLite's LIMIT/OFFSET are 64-bit: it failed on the statement (a 500)
            raise ProtocolError(102, f"Invalid query: limit and skip must be at most {INT64_MAX}.")
        return value

    def condition(self) -> Dict[str, Any]:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def conjunction(self) -> Dict[str, Any]:
        parts = [self.comparison()]
        while self.keyword("and"):
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def nested(self, parse: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
        """``parse()`` one level deeper; a statement nesting deeper than a ``where`` may is refused
        before the parser's own recursion runs out."""
        self.depth += 1
        if self.depth > MAX_WHERE_DEPTH:
            raise _error(f"conditions nested more than {MAX_WHERE_DEPTH} deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    def comparison(self) -> Dict[str, Any]:
        kind, word = self.peek()
        after_kind, after = self.peek(1)
        # ``not`` negates the condition after it, unless it is a key followed by its comparison operator
        if kind == "word" and word.lower() == "not" and not (after_kind == "op" and after in _COMPARE):
            self.i += 1
            return {"$nor": [self.nested(self.comparison)]}
        if self.peek() == ("op", "("):
            self.i += 1
            inner = self.nested(self.condition)
            self.expect(")")
            return inner
        key = self.name()
        if self.keyword("is", "not", "exists"):
            return {key: {"$exists": False}}
        if self.keyword("is", "exists"):
            return {key: {"$exists": True}}
        negated = self.keyword("not")
        if self.keyword("in"):
            self.expect("(")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.i += 1
                values.append(self.value())
            self.expect(")")
            return {key: {"$nin" if negated else "$in": values}}
        if self.keyword("like"):
            pattern = self.value()
            if not isinstance(pattern, str):
                raise _error("like needs a string pattern")
            regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
            like = {key: {"$regex": f"^{regex}$"}}
            return {"$nor": [like]} if negated else like
        if negated:
            raise _error("not is allowed before in and like only")
        kind, op = self.peek()
        if kind != "op" or op not in _COMPARE:
            raise _error(f"expected a comparison after {key!r}, found {op!r}")
        self.i += 1
        value = self.value()
        return {key: value if _COMPARE[op] is None else {_COMPARE[op]: value}}

    def value(self) -> Any:
        kind, value = self.peek()
        self.i += 1
        if kind in ("num", "str"):
            return value
        if kind == "op" and value == "?":
            return self.placeholder()
        if kind == "word":
            word = value.lower()
            if word in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[word]
            if word in ("date", "pointer"):
                self.expect("(")
                args = [self.value()]
                while self.peek() == ("op", ","):
                    self.i += 1
                    args.append(self.value())
                self.expect(")")
                if word == "date" and len(args) == 1:
                    return {"__type": "Date", "iso": args[0]}
                if word == "pointer" and len(args) == 2:
                    return pointer(str(args[0]), str(args[1]))
                raise _error(f"wrong arguments for {word}()")
        raise _error(f"expected a value, found {value!r}")

    def placeholder(self) -> Any:
        if not self.pvalues:
            raise _error("more ? than pvalues")
        value = self.pvalues.pop(0)
        # a pvalue is a value: an untyped object in a comparison's place is an operator map, so a cloud
        # function passing its caller's parameter (``{"$ne": ...}``) would have matched every row
        if isinstance(value, dict) and ("__type" not in value or any(str(k).startswith("$") for k in value)):
            raise ProtocolError(102, f"Invalid query value: {value!r} (an object in pvalues needs its __type).")
        return value


def parse(cql: str, pvalues: Optional[List[Any]] = None) -> Dict[str, Any]:
    """The parts of a CQL statement: ``class_name``, ``where``, ``order``, ``limit``, ``skip``, ``keys``,
    ``include``, ``count``, ``all`` (``*`` selected)."""
    return _Parser(cql, pvalues or []).query()


@route("GET", r"cloudQuery")
def _cloud_query(ctx: Context) -> Any:
    if ctx.dialect != "leancloud":
        raise ProtocolError(1, "Unknown endpoint: GET /cloudQuery.", 404)
    cql = ctx.params.get("cql")
    if not cql:
        raise ProtocolError(300, "cloudQuery needs a cql parameter.")
    pvalues = ctx.json_param("pvalues", [])
    if isinstance(pvalues, str):  # the official Python SDK encodes the array twice: a JSON string holding it
        try:
            pvalues = loads(pvalues)
        except ValueError:
            raise ProtocolError(107, "pvalues must be a JSON array.") from None
    if not isinstance(pvalues, list):
        raise ProtocolError(107, "pvalues must be a JSON array.")
    q = parse(cql, pvalues)
    selects_rows = q["all"] or q["keys"] or q["include"] or not q["count"]
    limit = reads.page_limit(ctx, q["limit"] if q["limit"] is not None else reads.DEFAULT_LIMIT)
    keys = None if q["all"] or not q["keys"] else ",".join(q["keys"] + q["include"])
    if q["count"] and selects_rows:  # rows and their count: both permissions apply
        permit(ctx, q["class_name"], "count")
    rows, total = reads.query(ctx, q["class_name"], q["where"], q["order"], limit if selects_rows else 0,
                                q["skip"], keys, ",".join(q["include"]) or None, q["count"],
                                operation="find" if selects_rows else "count")
    answer: Dict[str, Any] = {"results": rows, "className": q["class_name"]}
    if total is not None:
        answer["count"] = total
    return answer

