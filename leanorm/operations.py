"""Atomic operations (the protocol's ``__op`` values) and ``F`` expressions.

An operation is queued on an instance (``post.increment("score")``) or built from ``F`` in
``QuerySet.update(score=F("score") + 1)``; it is sent as ``{"__op": ...}`` so the server applies it to
the stored value, whatever other clients did meanwhile.

An operation only ever changes the field it is sent for: the protocol has no way to say "set ``a`` to
``b + 1``". So an ``F`` expression naming another field than the one assigned is refused
(:func:`check_assignment`) rather than sent as an operation on the assigned field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, TypeVar

from .protocol.encoding import encode
from .errors import NotSupported

__all__ = ["Operation", "Increment", "Add", "AddUnique", "Remove", "Delete", "BitAnd", "BitOr", "BitXor",
           "AddRelation", "RemoveRelation", "F", "check_assignment"]

O = TypeVar("O", bound="Operation")


class Operation:
    """One atomic operation on one field."""

    op = ""
    #: the dialect capability the backend needs for this operation, if any
    capability: Optional[str] = None
    #: the field an ``F`` expression named (``F("score") + 1``: "score"); None when queued by field name
    source: Optional[str] = None

    def to_wire(self) -> Dict[str, Any]:
        raise NotImplementedError

    def apply(self, current: Any) -> Any:
        """The value the field has after the operation, given ``current`` (the local guess)."""
        raise NotImplementedError

    def merge(self, later: "Operation") -> "Operation":
        """One operation equal to ``self`` then ``later`` on the same field; ValueError when none is."""
        if isinstance(later, (Delete,)):
            return later
        raise ValueError(f"cannot combine {self.op} with {later.op} on one field before saving; save first")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_wire() == other.to_wire()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_wire()!r})"


class Increment(Operation):
    """Add ``amount`` (negative to decrement) to a number; a missing field counts as 0."""

    op = "Increment"

    def __init__(self, amount: float = 1) -> None:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise TypeError(f"increment amount must be a number, not {amount!r}")
        self.amount = amount

    def to_wire(self) -> Dict[str, Any]:
        return {"__op": "Increment", "amount": self.amount}

    def apply(self, current: Any) -> Any:
        return (current or 0) + self.amount

    def merge(self, later: Operation) -> Operation:
        if isinstance(later, Increment):
            return Increment(self.amount + later.amount)
        return super().merge(later)


class _ArrayOp(Operation):
    def __init__(self, objects: List[Any]) -> None:
        self.objects = list(objects)

    def to_wire(self) -> Dict[str, Any]:
        return {"__op": self.op, "objects": encode(self.objects)}

    def merge(self, later: Operation) -> Operation:
        if type(later) is type(self):
            return type(self)(self.objects + later.objects)
        return super().merge(later)


class Add(_ArrayOp):
    """Append ``objects`` to an array."""

    op = "Add"

    def apply(self, current: Any) -> Any:
        return list(current or []) + self.objects


class AddUnique(_ArrayOp):
    """Append those of ``objects`` that the array does not hold yet."""

    op = "AddUnique"

    def apply(self, current: Any) -> Any:
        result = list(current or [])
        for item in self.objects:
            if item not in result:
                result.append(item)
        return result


class Remove(_ArrayOp):
    """Remove every occurrence of each of ``objects`` from an array."""

    op = "Remove"

    def apply(self, current: Any) -> Any:
        return [item for item in (current or []) if item not in self.objects]


class AddRelation(_ArrayOp):
    """Add objects to a Relation field."""

    op = "AddRelation"

    def apply(self, current: Any) -> Any:
        return current


class RemoveRelation(AddRelation):
    """Remove objects from a Relation field."""

    op = "RemoveRelation"


class Delete(Operation):
    """Remove the field from the object (unset)."""

    op = "Delete"

    def to_wire(self) -> Dict[str, Any]:
        return {"__op": "Delete"}

    def apply(self, current: Any) -> Any:
        return None


class _BitOp(Operation):
    capability = "bit_ops"

    def __init__(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{self.op} needs an integer, not {value!r}")
        self.value = value

    def to_wire(self) -> Dict[str, Any]:
        return {"__op": self.op, "value": self.value}


class BitAnd(_BitOp):
    """Bitwise AND with ``value`` (LeanCloud only)."""

    op = "BitAnd"

    def apply(self, current: Any) -> Any:
        return (current or 0) & self.value


class BitOr(_BitOp):
    """Bitwise OR with ``value`` (LeanCloud only)."""

    op = "BitOr"

    def apply(self, current: Any) -> Any:
        return (current or 0) | self.value


class BitXor(_BitOp):
    """Bitwise XOR with ``value`` (LeanCloud only)."""

    op = "BitXor"

    def apply(self, current: Any) -> Any:
        return (current or 0) ^ self.value


class F:
    """A reference to a field's stored value, for atomic updates of that same field.

    >>> (F("score") + 2).to_wire()
    {'__op': 'Increment', 'amount': 2}
    >>> (F("score") - 1).to_wire()
    {'__op': 'Increment', 'amount': -1}
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _on_self(self, op: O) -> O:
        op.source = self.name
        return op

    def __add__(self, amount: float) -> Increment:
        return self._on_self(Increment(amount))

    def __sub__(self, amount: float) -> Increment:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise TypeError(f"F() - needs a number, not {amount!r}")
        return self._on_self(Increment(-amount))

    def __and__(self, value: int) -> BitAnd:
        return self._on_self(BitAnd(value))

    def __or__(self, value: int) -> BitOr:
        return self._on_self(BitOr(value))

    def __xor__(self, value: int) -> BitXor:
        return self._on_self(BitXor(value))

    def __radd__(self, amount: float) -> Increment:
        return self + amount

    if not TYPE_CHECKING:
        # Django's F() also multiplies, divides...: the protocol has no such operation. Defined for the
        # running program only (a clear NotSupported), so that checkers keep reporting the operand types.
        def _no_operation(self, written: str) -> None:
            raise NotSupported(written, None, "the protocol's update operations are Increment (F('x') + n, "
                               "F('x') - n) and the bit operations (&, |, ^): read the object, compute the value "
                               "and save it (save(where=...) makes that write conditional)")

        def __mul__(self, other):
            self._no_operation(f"{self!r} * {other!r}")

        def __rmul__(self, other):
            self._no_operation(f"{other!r} * {self!r}")

        def __truediv__(self, other):
            self._no_operation(f"{self!r} / {other!r}")

        def __floordiv__(self, other):
            self._no_operation(f"{self!r} // {other!r}")

        def __mod__(self, other):
            self._no_operation(f"{self!r} % {other!r}")

        def __pow__(self, other):
            self._no_operation(f"{self!r} ** {other!r}")

        def __rsub__(self, other):
            self._no_operation(f"{other!r} - {self!r}")

        def __neg__(self):
            self._no_operation(f"-{self!r}")

    def __repr__(self) -> str:
        return f"F({self.name!r})"


def check_assignment(name: str, db_field: str, value: Any) -> None:
    """Refuse assigning ``value`` to the field ``name`` (wire key ``db_field``) when it is an ``F``
    expression that reads another field: an operation applies to the field it is sent for, so
    ``a=F("b") + 1`` would silently become ``a = a + 1``.

    >>> check_assignment("a", "a", F("a") + 1)
    >>> check_assignment("a", "a", F("b") + 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanorm.errors.NotSupported: setting 'a' from F('b') is not supported: ...
    """
    source = value.name if isinstance(value, F) else value.source if isinstance(value, Operation) else None
    if source is not None and source not in (name, db_field):
        raise NotSupported(f"setting {name!r} from F({source!r})", None,
                           "an update operation changes only the field it is sent for, and the protocol "
                           "cannot compute one field from another field (read the object, compute the "
                           "value, and save it; save(where=...) makes that write conditional)")
    if isinstance(value, F):
        raise TypeError(f"assign F({value.name!r}) + n (an operation), not a bare F()")
