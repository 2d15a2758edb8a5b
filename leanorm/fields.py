"""Field descriptors: typed model attributes that validate and map to and from wire JSON.

An instance keeps the wire dict it was loaded from and decodes a field only when it is read (decoding
1,000 rows costs nothing for the fields nobody reads). Writes go into the instance's change set, and
only changed fields are sent on save.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import (TYPE_CHECKING, Any, Callable, Dict, Generic, Iterable, List, Optional, Sequence,
                    Type, TypeVar, Union, overload)

import arrow
from marshmallow import ValidationError as _MarshmallowError
from marshmallow import validate as _mv

from .encoding import decode, decode_date, encode, encode_date
from .geo import GeoPoint

if TYPE_CHECKING:  # pragma: no cover
    from .models import Model

__all__ = ["Field", "StringField", "IntegerField", "FloatField", "BooleanField", "DateTimeField",
           "ListField", "DictField", "AnyField", "ReferenceField", "PointerField", "GeoPointField", "BytesField", "MISSING"]

T = TypeVar("T")
Validator = Callable[[Any], Any]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: marks a field that has no value at all (absent from the stored object)
MISSING: Any = _Missing()


def _identity_from_wire(self: "Field[Any]", value: Any, instance: Optional["Model"] = None) -> Any:
    """``from_wire`` of fields whose wire JSON is already the Python value (strings, numbers, booleans)."""
    return value


class Field(Generic[T]):
    """Base of all fields.

    :param db_field: the key on the wire (default: the attribute name)
    :param required: a value other than None is needed to save
    :param default: value (or zero-argument callable) for new instances
    :param choices: the allowed values
    :param validators: callables that raise ``ValueError`` or marshmallow's ``ValidationError``
        (or return False) when a value is wrong
    """

    #: the Python types a value must have (None is always allowed unless required)
    python_types: tuple = (object,)
    #: name of the type in messages
    type_name = "value"
    #: whether the stored value is an array (lookups then use the protocol's array semantics)
    is_list = False
    #: whether from_wire returns wire values unchanged (set per subclass: reads then skip the call)
    _plain = False

    def __init__(self, *, db_field: Optional[str] = None, required: bool = False, default: Any = None,
                 choices: Optional[Iterable[Any]] = None, validators: Sequence[Validator] = (),
                 help_text: str = "") -> None:
        self.name = ""
        self.db_field = db_field or ""
        self.required = required
        self.default = default
        self.choices = list(choices) if choices is not None else None
        self.validators: List[Validator] = list(validators)
        if self.choices is not None:
            self.validators.append(_mv.OneOf(self.choices))
        self.help_text = help_text
        self.model: Optional[Type["Model"]] = None

    # -- descriptor protocol ---------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain = cls.from_wire is _identity_from_wire

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.db_field = self.db_field or name

    @overload
    def __get__(self, obj: None, owner: Any) -> "Field[T]": ...
    @overload
    def __get__(self, obj: "Model", owner: Any) -> Optional[T]: ...

    def __get__(self, obj: Optional["Model"], owner: Any) -> Union["Field[T]", Optional[T]]:
        if obj is None:
            return self
        # the first read of a loaded field is the read path's hot spot: decode here without going
        # through Model._read, which handles the rare cases (absent key: deferred load, None)
        cache = obj._cache
        name = self.name
        if name in cache:
            return cache[name]
        wire = obj._data.get(self.db_field)
        if wire is None:
            return obj._read(self)
        value = wire if self._plain else self.from_wire(wire, obj)
        cache[name] = value
        return value

    def __set__(self, obj: "Model", value: Optional[T]) -> None:
        obj._write(self, value)

    # -- conversion ------------------------------------------------------------------------------------
    def get_default(self) -> Any:
        """The default for a new instance (calls a callable default)."""
        return self.default() if callable(self.default) else self.default

    def to_wire(self, value: Any) -> Any:
        """The wire JSON of a Python value of this field."""
        return encode(value)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        """The Python value of wire JSON; ``instance`` is the model instance it belongs to."""
        return decode(value)

    # -- validation ------------------------------------------------------------------------------------
    def check_type(self, value: Any) -> Optional[str]:
        """A message when ``value`` (not None) has the wrong type, else None."""
        if isinstance(value, self.python_types) and not (isinstance(value, bool) and bool not in self.python_types
                                                         and int in self.python_types):
            return None
        return f"expected {self.type_name}, got {type(value).__name__} {value!r}"

    def validate(self, value: Any) -> List[str]:
        """Every problem with ``value`` as a list of messages (empty when it is valid)."""
        if value is None or value is MISSING:
            return ["this field is required"] if self.required else []
        problem = self.check_type(value)
        if problem:
            return [problem]
        errors = self._check_bounds(value)
        for validator in self.validators:
            try:
                if validator(value) is False:
                    errors.append(f"{value!r} is not valid")
            except _MarshmallowError as exc:
                msgs = exc.messages
                errors.extend(msgs if isinstance(msgs, list) else [str(msgs)])
            except ValueError as exc:
                errors.append(str(exc))
        return errors

    def _check_bounds(self, value: Any) -> List[str]:
        return []

    def __repr__(self) -> str:
        owner = self.model.__name__ + "." if self.model else ""
        return f"<{type(self).__name__} {owner}{self.name}>"


class StringField(Field[str]):
    """A string, optionally bounded by ``min_length``/``max_length`` or matched by ``regex``."""

    python_types = (str,)
    type_name = "a string"

    def __init__(self, *, min_length: Optional[int] = None, max_length: Optional[int] = None,
                 regex: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_length, self.max_length = min_length, max_length
        if min_length is not None or max_length is not None:
            self.validators.append(_mv.Length(min=min_length, max=max_length))
        if regex is not None:
            self.validators.append(_mv.Regexp(regex))

    def to_wire(self, value: Any) -> Any:
        return value

    from_wire = _identity_from_wire


class _NumberField(Field[T]):
    def __init__(self, *, min_value: Optional[float] = None, max_value: Optional[float] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_value, self.max_value = min_value, max_value
        if min_value is not None or max_value is not None:
            self.validators.append(_mv.Range(min=min_value, max=max_value))

    def to_wire(self, value: Any) -> Any:
        return value


class IntegerField(_NumberField[int]):
    """An integer, optionally bounded by ``min_value``/``max_value``."""

    python_types = (int,)
    type_name = "an integer"

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        # the protocol has one Number type: 3.0 from another client is still the integer 3
        return int(value) if isinstance(value, float) and value.is_integer() else value


class FloatField(_NumberField[float]):
    """A floating point number (integers are accepted), optionally bounded."""

    python_types = (int, float)
    type_name = "a number"

    from_wire = _identity_from_wire


class BooleanField(Field[bool]):
    """True or False."""

    python_types = (bool,)
    type_name = "a boolean"

    def to_wire(self, value: Any) -> Any:
        return value

    from_wire = _identity_from_wire


class DateTimeField(Field[arrow.Arrow]):
    """A point in time: accepts datetime, date or arrow; reads back as an UTC :class:`arrow.Arrow`."""

    python_types = (arrow.Arrow, _dt.datetime, _dt.date)
    type_name = "a datetime"

    def to_wire(self, value: Any) -> Any:
        return None if value is None else encode_date(value)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "Date":
            return decode_date(value["iso"])
        if isinstance(value, str):  # createdAt-style plain ISO strings, e.g. from imported data
            return decode_date(value)
        return value


class GeoPointField(Field[GeoPoint]):
    """A :class:`~leanorm.geo.GeoPoint`; enables the ``near`` and ``within_*`` lookups."""

    python_types = (GeoPoint,)
    type_name = "a GeoPoint"

    def to_wire(self, value: Any) -> Any:
        return None if value is None else value.to_wire()

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "GeoPoint":
            return GeoPoint(value["latitude"], value["longitude"])
        return value


class BytesField(Field[bytes]):
    """Binary data, sent as the protocol's base64 ``Bytes``."""

    python_types = (bytes, bytearray)
    type_name = "bytes"

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "Bytes":
            return base64.b64decode(value["base64"])
        return value


def _operator_like_keys(value: Any) -> List[Any]:
    """Keys anywhere in ``value`` that a server could read as an operator or a path (``$x``, ``a.b``)."""
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str) or k.startswith("$") or "." in k]
        return bad + [k for v in value.values() for k in _operator_like_keys(v)]
    if isinstance(value, (list, tuple)):
        return [k for v in value for k in _operator_like_keys(v)]
    return []


class AnyField(Field[Any]):
    """An untyped value: anything encodable (numbers, strings, lists, dicts, dates, pointers...)."""

    type_name = "a JSON value"

    def check_type(self, value: Any) -> Optional[str]:
        try:
            encode(value)
        except TypeError as exc:
            return str(exc)
        bad = _operator_like_keys(value)
        return f"dict keys must be strings without '$' prefix or '.': {bad!r}" if bad else None

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        return decode(value, instance._resolver if instance is not None else None)


class DictField(AnyField):
    """A JSON object. Its values may be any encodable value (dates, points, pointers...).

    Query inside it with ``meta__lang="en"`` (the wire key ``meta.lang``).
    """

    python_types = (dict,)
    type_name = "a dict"

    def check_type(self, value: Any) -> Optional[str]:
        if not isinstance(value, dict):
            return f"expected a dict, got {type(value).__name__} {value!r}"
        return super().check_type(value)

class ListField(Field[List[Any]]):
    """An array; ``ListField(StringField())`` types and validates each element.

    Lookups use the protocol's array semantics: ``tags="x"`` matches arrays that contain "x".
    """

    python_types = (list, tuple)
    type_name = "a list"
    is_list = True

    def __init__(self, field: Optional[Field[Any]] = None, *, min_length: Optional[int] = None,
                 max_length: Optional[int] = None, **kwargs: Any) -> None:
        kwargs.setdefault("default", list)
        super().__init__(**kwargs)
        self.field = field
        if min_length is not None or max_length is not None:
            self.validators.append(_mv.Length(min=min_length, max=max_length))

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        if self.field is not None:
            self.field.name = f"{name}[]"

    def to_wire(self, value: Any) -> Any:
        if value is None:
            return None
        inner = self.field
        return [inner.to_wire(v) if inner is not None else encode(v) for v in value]

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if not isinstance(value, list):
            return value
        inner = self.field
        if inner is None:
            return decode(value, instance._resolver if instance is not None else None)
        if inner._plain:
            return list(value)  # a copy, so that in-place edits show up as changes against _data
        return [inner.from_wire(v, instance) for v in value]

    def validate(self, value: Any) -> List[str]:
        errors = super().validate(value)
        if errors or value is None or self.field is None:
            return errors
        for i, item in enumerate(value):
            errors.extend(f"[{i}] {msg}" for msg in self.field.validate(item) if item is not None)
            if item is None:
                errors.append(f"[{i}] None is not allowed in a typed list")
        return errors


class ReferenceField(Field[T]):
    """A field that refers to objects of another model, named lazily so forward references work."""

    type_name = "a model instance"

    def __init__(self, target: Union[str, Type["Model"]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = target

    @property
    def target(self) -> Type["Model"]:
        """The model class pointed to (resolved lazily so forward references work)."""
        from .models import registry
        if self._target == "self" and self.model is not None:
            # the declaring class itself: looking its Python name up could find another model of that name
            self._target = self.model
        elif isinstance(self._target, str):
            self._target = registry.model_for(self._target)
        return self._target

    def check_type(self, value: Any) -> Optional[str]:
        if not isinstance(value, self.target):
            return f"expected a {self.target.__name__} instance, got {type(value).__name__} {value!r}"
        if not value.id:
            return f"{value!r} has no id yet: save it before pointing to it"
        return None

    def to_wire(self, value: Any) -> Any:
        if value is None:
            return None
        return {"__type": "Pointer", "className": type(value)._meta.class_name, "objectId": value.id}


class PointerField(ReferenceField["Model"]):
    """A reference to another object: ``PointerField(Author)``, ``PointerField("Author")`` or ``"self"``.

    Reads as an instance of the target model: a stub that loads itself on first access, or the full
    object when the query used ``select_related``. Takes an instance, or an objectId string (as
    ``filter`` does), which becomes ``Target.pointer(id)``.
    """

    def __set__(self, obj: "Model", value: Any) -> None:
        if isinstance(value, str):
            value = self.target.pointer(value)
        obj._write(self, value)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") in ("Pointer", "Object"):
            resolve = instance._resolver if instance is not None else None
            if resolve is not None:
                return resolve(value["className"], value["objectId"],
                               value if value["__type"] == "Object" else None)
        return value
