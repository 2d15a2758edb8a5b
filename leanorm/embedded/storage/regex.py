"""``$regex`` (and CQL ``like``, which becomes one) matched in linear time, by RE2.

Python's ``re`` backtracks: ``^(a+)+$`` against thirty ``a`` and a ``!`` ran for 24 s inside one SQLite
call, holding the database for every other request. RE2 (the ``google-re2`` package) guarantees time
linear in the text and bounded memory, so no pattern a client sends can stall the server. What RE2
cannot express without backtracking (backreferences such as ``\\1``, lookaround such as ``(?=``) is
refused with error 102, as an invalid query, rather than run slowly.

The options LeanCloud and Parse take (MongoDB's): ``i`` (ignore case), ``m`` (``^``/``$`` at every line),
``s`` (``.`` matches a newline) become RE2's inline flags; ``x`` (extended: whitespace and ``#``
comments ignored) has no RE2 flag, so the pattern is rewritten without them. ``\\Z`` (end, or before a
final newline) is rewritten to what RE2 spells it; ``\\Q...\\E`` (quoted text, what Parse's SDKs send)
RE2 reads itself.

One form of lookahead is taken, because it is what leanorm's own query compiler sends for a negated
``contains`` or ``startswith`` (and what other clients use for "does not contain"): a whole pattern
``^(?!R)``, which matches when ``R`` does not match at the start of the text. RE2 answers that
directly: no backtracking is needed.
"""
from __future__ import annotations

import functools
from typing import Any, Iterator, List, Optional, Tuple

import re2

__all__ = ["compile_regex", "UnsupportedRegex"]

#: the memory one compiled pattern may use (RE2's default is 8 MiB: with the cache below, a client
#: sending many large patterns could otherwise hold gigabytes); a pattern needing more is refused
MAX_MEMORY = 1 << 20
_FLAGS = {"i": "i", "m": "m", "s": "s"}


class UnsupportedRegex(ValueError):
    """A ``$regex``/``$options`` pair that is malformed or that RE2 cannot run in linear time."""


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # a refused pattern is the client's error, answered as such, not logged
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=128)
def compile_regex(pattern: str, options: str = "") -> Any:
    """The compiled form of a ``$regex``/``$options`` pair (its ``search(text)`` is a match or None);
    raises :class:`UnsupportedRegex` on a bad or unsupported pattern or an unknown option.

    >>> bool(compile_regex("^(a+)+$").search("a" * 30 + "!"))
    False
    >>> bool(compile_regex("hello  # a greeting", "ix").search("HELLO"))
    True
    >>> compile_regex(r"(a)\\1")
    Traceback (most recent call last):
    ...
    leanorm.embedded.storage.regex.UnsupportedRegex: invalid escape sequence: \\1 (backreferences and lookaround cannot run in linear time)
    """
    flags = ""
    for option in options:
        if option not in _FLAGS and option != "x":
            raise UnsupportedRegex(f"unknown $options flag {option!r}")
        flags += _FLAGS.get(option, "")
    text = _rewrite(pattern, extended="x" in options)
    negated = None if "m" in flags else _negated_at_start(text)
    try:
        compiled = re2.compile(f"(?{flags}){negated or text}" if flags else negated or text, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) \
            else str(exc)
        raise UnsupportedRegex(f"{reason} (backreferences and lookaround cannot run in linear time)") from None
    return _NotAtStart(compiled) if negated else compiled


class _NotAtStart:
    """``^(?!R)``: a text matches when ``R`` does not match at its start."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def search(self, text: str) -> bool:
        return self.inner.match(text) is None


def _tokens(pattern: str) -> Iterator[Tuple[str, str]]:
    """The pattern as (kind, text): ``escape`` (``\\x``), ``quote`` (``\\Q...\\E``), ``class``
    (``[...]``) or ``char``; enough syntax to find its parentheses and its free-standing whitespace."""
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            if pattern[i + 1] == "Q":  # quoted text runs to \E (or the end)
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end + 2
                yield "quote", pattern[i:end]
                i = end
            else:
                yield "escape", pattern[i:i + 2]
                i += 2
        elif char == "[":
            end = i + 1
            if end < n and pattern[end] == "^":
                end += 1
            if end < n and pattern[end] == "]":  # a leading ] is a member, not the end
                end += 1
            while end < n and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            yield "class", pattern[i:end + 1]
            i = end + 1
        else:
            yield "char", char
            i += 1


def _rewrite(pattern: str, extended: bool) -> str:
    """``pattern`` with ``\\Z`` spelt for RE2 and, when ``extended``, without unescaped whitespace and
    ``#`` comments outside character classes (PCRE's ``x`` option)."""
    out: List[str] = []
    comment = False
    for kind, text in _tokens(pattern):
        if comment:
            comment = text != "\n"
        elif kind == "escape" and text == "\\Z":
            out.append(r"\n?\z")
        elif extended and kind == "char" and text.isspace():
            continue
        elif extended and kind == "char" and text == "#":
            comment = True
        else:
            out.append(text)
    return "".join(out)


def _negated_at_start(pattern: str) -> Optional[str]:
    """``R`` when the whole pattern is ``^(?!R)``, else None."""
    if not pattern.startswith("^(?!"):
        return None
    depth, inner = 0, []
    for kind, text in _tokens(pattern[4:]):
        if depth < 0:
            return None  # something follows the lookahead
        if kind == "char" and text == "(":
            depth += 1
        elif kind == "char" and text == ")":
            depth -= 1
        if depth >= 0:
            inner.append(text)
    return "".join(inner) if depth == -1 else None
