"""``Q`` objects: conditions combined with ``&``, ``|`` and ``~``."""
from __future__ import annotations

from typing import Any, Iterator, List, Tuple, Union

__all__ = ["Q"]

Leaf = Tuple[str, Any]


class Q:
    """A tree of lookups: ``Q(score__gte=10) | ~Q(author__name="Ann")``.

    Keyword arguments of one ``Q`` are ANDed. Trees are immutable: operators return new trees.
    """

    AND = "AND"
    OR = "OR"

    def __init__(self, *children: Union["Q", Leaf], _connector: str = AND, _negated: bool = False,
                 **lookups: Any) -> None:
        # a one-shot iterable (a generator, map(...)) is read once here: the query checks its values when
        # filter() is called and compiles them later, each time it is evaluated
        self.children: List[Union["Q", Leaf]] = [
            *children, *sorted((k, list(v) if isinstance(v, Iterator) else v) for k, v in lookups.items())]
        self.connector = _connector
        self.negated = _negated

    def _combine(self, other: "Q", connector: str) -> "Q":
        if not isinstance(other, Q):
            raise TypeError(f"cannot combine Q with {type(other).__name__}")
        if not other:
            return self
        if not self:
            return other
        return Q(self, other, _connector=connector)

    def __and__(self, other: "Q") -> "Q":
        return self._combine(other, self.AND)

    def __or__(self, other: "Q") -> "Q":
        return self._combine(other, self.OR)

    def __invert__(self) -> "Q":
        return Q(*self.children, _connector=self.connector, _negated=not self.negated)

    def __bool__(self) -> bool:
        return bool(self.children)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Q) and self.children == other.children
                and self.connector == other.connector and self.negated == other.negated)

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(repr(c) if isinstance(c, Q) else f"{c[0]}={c[1]!r}"
                                           for c in self.children)
        return f"{'~' if self.negated else ''}Q({inner})"
