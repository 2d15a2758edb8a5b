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
from typing_extensions import Literal, Self, TypedDict, Unpack

from .protocol.encoding import decode, decode_date, encode, encode_date
from .protocol.encoding import pointer as wire_pointer
from .protocol.geo import GeoPoint, Polygon
from .protocol.ids import is_object_id
from .errors import ValidationError
from .operations import F, Operation, check_assignment
from .registry import registry

if TYPE_CHECKING:  # pragma: no cover
    from .models import Model

__all__ = ["Field", "StringField", "IntegerField", "FloatField", "BooleanField", "DateTimeField",
           "ListField", "DictField", "AnyField", "ReferenceField", "PointerField", "GeoPointField", "PolygonField",
           "BytesField", "MISSING"]

T = TypeVar("T")
E = TypeVar("E")
MT = TypeVar("MT", bound="Model")
Validator = Callable[[Any], Any]
#: a field's ``default``: a value, or a zero-argument callable making one
Default = Union[T, Callable[[], T]]
#: what a DateTimeField accepts (it reads back as arrow once loaded)
DateLike = Union[arrow.Arrow, _dt.datetime, _dt.date]


class FieldOptions(TypedDict, total=False):
    """The keywords every field takes besides ``required`` and ``default`` (see :class:`Field`)."""

    db_field: Optional[str]
    choices: Optional[Iterable[Any]]
    validators: Sequence[Validator]
    help_text: str


class StringOptions(FieldOptions, total=False):
    """StringField's keywords besides ``required`` and ``default``."""

    min_length: Optional[int]
    max_length: Optional[int]
    regex: Optional[str]


class NumberOptions(FieldOptions, total=False):
    """IntegerField's and FloatField's keywords besides ``required`` and ``default``."""

    min_value: Optional[float]
    max_value: Optional[float]


class ListOptions(FieldOptions, total=False):
    """ListField's keywords: a list field always reads as a list (its default is an empty one)."""

    required: bool
    default: Any
    min_length: Optional[int]
    max_length: Optional[int]


def as_marshmallow_validator(validator: Validator) -> Validator:
    """``validator`` as marshmallow runs validators: raising its ``ValidationError`` when a value is
    wrong. A plain callable's ``ValueError`` and ``False`` result become that error."""
    if isinstance(validator, _mv.Validator):
        return validator

    def check(value: Any) -> None:
        try:
            ok = validator(value)
        except _MarshmallowError:
            raise
        except ValueError as exc:
            raise _MarshmallowError(str(exc)) from exc
        if ok is False:
            raise _MarshmallowError(f"{value!r} is not valid")

    return check


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: marks a field that has no value at all (absent from the stored object)
MISSING: Any = _Missing()


def _identity_from_wire(self: "Field[Any]", value: Any, instance: Optional["Model"] = None) -> Any:
    """``from_wire`` of fields whose wire JSON is already the Python value (strings, numbers, booleans)."""
    return value


class Field(Generic[T]):
    """Base of all fields. ``T`` is the type an instance reads: ``Optional`` unless the field is required
    or has a default (each field class's ``__init__`` overloads pick it, so checkers see
    ``StringField(required=True)`` as ``str`` and ``StringField()`` as ``str | None``).

    :param db_field: the key on the wire (default: the attribute name)
    :param required: a value other than None is needed to save
    :param default: value (or zero-argument callable) for new instances
    :param choices: the allowed values
    :param validators: callables that raise ``ValueError`` or marshmallow's ``ValidationError``
        (or return False) when a value is wrong; ``marshmallow.validate`` validators work as they are.
        Every one is kept as a marshmallow validator (:func:`as_marshmallow_validator`), and ``choices``
        and the bounds of the subclasses are ``marshmallow.validate`` validators: the schema of the model
        (:mod:`leanorm.marshal`) uses these same objects, so the two cannot disagree.
    """

    #: the Python types a value must have (None is always allowed unless required)
    python_types: tuple = (object,)
    #: whether ``select_related`` may end at this field: its value is an object the server can include in
    #: a query's answer (a file); pointer fields are followed further
    includable: bool = False
    #: name of the type in messages
    type_name = "value"
    #: whether the stored value is an array (lookups then use the protocol's array semantics)
    is_list = False
    #: whether from_wire returns wire values unchanged (set per subclass: reads then skip the call)
    _plain = False
    #: the one wire type from_wire returns unchanged, when only some are (IntegerField: int), so that
    #: reads of such values skip the call too
    _plain_type: type = type(None)

    def __init__(self, *, db_field: Optional[str] = None, required: bool = False, default: Any = None,
                 choices: Optional[Iterable[Any]] = None, validators: Sequence[Validator] = (),
                 help_text: str = "") -> None:
        self.name = ""
        self.db_field = db_field or ""
        self.required = required
        self.default = default
        self.choices = list(choices) if choices is not None else None
        self.validators: List[Validator] = [as_marshmallow_validator(v) for v in validators]
        if self.choices is not None:
            self.validators.append(_mv.OneOf(self.choices))
        self.help_text = help_text
        self.model: Optional[Type["Model"]] = None

    # -- descriptor protocol ---------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain = cls.from_wire is _identity_from_wire
        if "from_wire" in vars(cls) and "_plain_type" not in vars(cls):
            cls._plain_type = type(None)  # a decoder of its own decides about every value

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.db_field = self.db_field or name

    @overload
    def __get__(self, obj: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, obj: "Model", owner: Any) -> T: ...

    def __get__(self, obj: Optional["Model"], owner: Any) -> Any:
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
        value = wire if self._plain or wire.__class__ is self._plain_type else self.from_wire(wire, obj)
        cache[name] = value
        return value

    def __set__(self, obj: "Model", value: Union[T, Operation]) -> None:
        # an Operation (``F("score") + 1``) is queued and sent as an atomic update of this field
        if isinstance(value, (Operation, F)):
            check_assignment(self.name, self.db_field, value)
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
        errors: List[str] = []
        for validator in self.validators:
            try:
                validator(value)
            except _MarshmallowError as exc:
                msgs = exc.messages
                errors.extend(msgs if isinstance(msgs, list) else [str(msgs)])
        return errors

    def __repr__(self) -> str:
        owner = self.model.__name__ + "." if self.model else ""
        return f"<{type(self).__name__} {owner}{self.name}>"


class StringField(Field[T]):
    """A string, optionally bounded by ``min_length``/``max_length`` or matched by ``regex``."""

    python_types = (str,)
    type_name = "a string"

    @overload
    def __init__(self: "StringField[str]", *, required: Literal[True], default: Optional[Default[str]] = None,
                 **options: Unpack[StringOptions]) -> None: ...
    @overload
    def __init__(self: "StringField[str]", *, default: Default[str], required: bool = False,
                 **options: Unpack[StringOptions]) -> None: ...
    @overload
    def __init__(self: "StringField[Optional[str]]", *, required: bool = False, default: None = None,
                 **options: Unpack[StringOptions]) -> None: ...

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


class IntegerField(_NumberField[T]):
    """An integer, optionally bounded by ``min_value``/``max_value``."""

    python_types = (int,)
    type_name = "an integer"
    _plain_type = int

    @overload
    def __init__(self: "IntegerField[int]", *, required: Literal[True], default: Optional[Default[int]] = None,
                 **options: Unpack[NumberOptions]) -> None: ...
    @overload
    def __init__(self: "IntegerField[int]", *, default: Default[int], required: bool = False,
                 **options: Unpack[NumberOptions]) -> None: ...
    @overload
    def __init__(self: "IntegerField[Optional[int]]", *, required: bool = False, default: None = None,
                 **options: Unpack[NumberOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        # the protocol has one Number type: 3.0 from another client is still the integer 3
        return int(value) if isinstance(value, float) and value.is_integer() else value


class FloatField(_NumberField[T]):
    """A floating point number (integers are accepted), optionally bounded."""

    python_types = (int, float)
    type_name = "a number"

    @overload
    def __init__(self: "FloatField[float]", *, required: Literal[True],
                 default: Optional[Default[float]] = None, **options: Unpack[NumberOptions]) -> None: ...
    @overload
    def __init__(self: "FloatField[float]", *, default: Default[float], required: bool = False,
                 **options: Unpack[NumberOptions]) -> None: ...
    @overload
    def __init__(self: "FloatField[Optional[float]]", *, required: bool = False, default: None = None,
                 **options: Unpack[NumberOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    _plain_type = float

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        # the protocol has one Number type: JavaScript servers (Parse Server, LeanCloud) write 2.0 as 2
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class BooleanField(Field[T]):
    """True or False."""

    python_types = (bool,)
    type_name = "a boolean"

    @overload
    def __init__(self: "BooleanField[bool]", *, required: Literal[True], default: Optional[Default[bool]] = None,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "BooleanField[bool]", *, default: Default[bool], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "BooleanField[Optional[bool]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def to_wire(self, value: Any) -> Any:
        return value

    from_wire = _identity_from_wire


class DateTimeField(Field[T]):
    """A point in time: accepts datetime, date or arrow; reads back as an UTC :class:`arrow.Arrow`."""

    python_types = (arrow.Arrow, _dt.datetime, _dt.date)
    type_name = "a datetime"

    @overload
    def __init__(self: "DateTimeField[arrow.Arrow]", *, required: Literal[True],
                 default: Optional[Default[DateLike]] = None, **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "DateTimeField[arrow.Arrow]", *, default: Default[DateLike], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "DateTimeField[Optional[arrow.Arrow]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __set__(self, obj: "Model", value: Union[T, DateLike, Operation]) -> None:
        super().__set__(obj, value)  # type: ignore[arg-type]  # reads back as arrow, whatever was assigned

    def to_wire(self, value: Any) -> Any:
        return None if value is None else encode_date(value)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "Date":
            return decode_date(value["iso"])
        if isinstance(value, str):  # createdAt-style plain ISO strings, e.g. from imported data
            return decode_date(value)
        return value


class GeoPointField(Field[T]):
    """A :class:`~leanorm.protocol.geo.GeoPoint`; enables the ``near`` and ``within_*`` lookups."""

    python_types = (GeoPoint,)
    type_name = "a GeoPoint"

    @overload
    def __init__(self: "GeoPointField[GeoPoint]", *, required: Literal[True], default: Optional[Default[GeoPoint]] = None,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "GeoPointField[GeoPoint]", *, default: Default[GeoPoint], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "GeoPointField[Optional[GeoPoint]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def to_wire(self, value: Any) -> Any:
        return None if value is None else value.to_wire()

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "GeoPoint":
            return GeoPoint.from_wire(value)
        return value


class PolygonField(Field[T]):
    """A :class:`~leanorm.protocol.geo.Polygon` (Parse's type); enables the ``intersects`` lookup (the
    polygons holding a point)."""

    python_types = (Polygon,)
    type_name = "a Polygon"

    @overload
    def __init__(self: "PolygonField[Polygon]", *, required: Literal[True], default: Optional[Default[Polygon]] = None,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "PolygonField[Polygon]", *, default: Default[Polygon], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "PolygonField[Optional[Polygon]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def to_wire(self, value: Any) -> Any:
        return None if value is None else value.to_wire()

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") == "Polygon":
            return Polygon.from_wire(value)
        return value


class BytesField(Field[T]):
    """Binary data, sent as the protocol's base64 ``Bytes``."""

    python_types = (bytes, bytearray)
    type_name = "bytes"

    @overload
    def __init__(self: "BytesField[bytes]", *, required: Literal[True], default: Optional[Default[bytes]] = None,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "BytesField[bytes]", *, default: Default[bytes], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "BytesField[Optional[bytes]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

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


class _JSONField(Field[T]):
    """A field holding any encodable value (numbers, strings, lists, dicts, dates, pointers...)."""

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


class AnyField(_JSONField[Any]):
    """An untyped value: anything encodable (numbers, strings, lists, dicts, dates, pointers...)."""


class DictField(_JSONField[T]):
    """A JSON object. Its values may be any encodable value (dates, points, pointers...).

    Query inside it with ``meta__lang="en"`` (the wire key ``meta.lang``).
    """

    python_types = (dict,)
    type_name = "a dict"

    @overload
    def __init__(self: "DictField[Dict[str, Any]]", *, required: Literal[True],
                 default: Optional[Default[Dict[str, Any]]] = None, **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "DictField[Dict[str, Any]]", *, default: Default[Dict[str, Any]], required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "DictField[Optional[Dict[str, Any]]]", *, required: bool = False, default: None = None,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def check_type(self, value: Any) -> Optional[str]:
        if not isinstance(value, dict):
            return f"expected a dict, got {type(value).__name__} {value!r}"
        return super().check_type(value)


class ListField(Field[T]):
    """An array; ``ListField(StringField())`` types and validates each element (and reads as
    ``list[str]``: a new instance starts with an empty list).

    Lookups use the protocol's array semantics: ``tags="x"`` matches arrays that contain "x".
    """

    python_types = (list, tuple)
    type_name = "a list"
    is_list = True

    @overload
    def __init__(self: "ListField[List[E]]", field: "Field[Optional[E]]", **options: Unpack[ListOptions]) -> None: ...
    @overload
    def __init__(self: "ListField[List[E]]", field: "Field[E]", **options: Unpack[ListOptions]) -> None: ...
    @overload
    def __init__(self: "ListField[List[Any]]", field: None = None, **options: Unpack[ListOptions]) -> None: ...

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
        if self._target == "self" and self.model is not None:
            # the declaring class itself: looking its Python name up could find another model of that name
            self._target = self.model
        elif isinstance(self._target, str):
            self._target = registry.model_for(self._target)
        return self._target

    @property
    def read_model(self) -> Type["Model"]:
        """The model objects read through this field are made of: the app's own subclass registered for
        the target's class (a ``_User`` model of the app's for ``RelationField(User)``), else the target."""
        target = self.target
        current = registry.get(target._meta.class_name)
        return current if current is not None and issubclass(current, target) else target

    def check_type(self, value: Any) -> Optional[str]:
        if not isinstance(value, self.target):
            return f"expected a {self.target.__name__} instance, got {type(value).__name__} {value!r}"
        if not value.id:
            return f"{value!r} has no id yet: save it before pointing to it"
        return None

    def to_wire(self, value: Any) -> Any:
        if value is None:
            return None
        return wire_pointer(type(value)._meta.class_name, value.id)


class PointerField(ReferenceField[T]):
    """A reference to another object: ``PointerField(Author)``, ``PointerField("Author")`` or ``"self"``.

    Reads as an instance of the target model: a stub that loads itself on first access, or the full
    object when the query used ``select_related``. Takes an instance, or an objectId string (as
    ``filter`` does), which becomes ``Target.pointer(id)``: a string that is not of an objectId's form
    raises ValidationError at once; whether the object exists is not checked (no round trip): a missing
    one raises ObjectNotFound when the pointer is first read. Checkers see ``PointerField(Author)`` as
    ``Author | None`` (``Author`` when required); a target named by a string reads as ``Any``.
    """

    @overload
    def __init__(self: "PointerField[MT]", target: Type[MT], *, required: Literal[True],
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "PointerField[Optional[MT]]", target: Type[MT], *, required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...
    @overload
    def __init__(self: "PointerField[Any]", target: str, *, required: bool = False,
                 **options: Unpack[FieldOptions]) -> None: ...

    def __init__(self, target: Union[str, Type["Model"]], **kwargs: Any) -> None:
        super().__init__(target, **kwargs)

    def __set__(self, obj: "Model", value: Union[T, str, Operation]) -> None:
        # an objectId string stands for the object (as in filter): an unloaded reference to it. Its form is
        # checked here, where the mistake is made, rather than surfacing as a dangling pointer on a later
        # read; whether the object exists is not (that would cost a round trip per assignment)
        if isinstance(value, str):
            if not is_object_id(value):
                raise ValidationError({self.name: [
                    f"{value!r} is not an objectId (1 to 64 letters and digits): assign a "
                    f"{self.target.__name__} instance or its objectId"]})
            super().__set__(obj, self.target.pointer(value))  # type: ignore[arg-type]
        else:
            super().__set__(obj, value)

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and instance is not None:
            kind = value.get("__type")
            if kind == "Pointer":
                return instance._pointer(value["className"], value["objectId"])
            if kind == "Object":
                return instance._resolver(value["className"], value["objectId"], value)
        return value
