"""Declarative models: ``class Post(Model)`` with Field descriptors, saved and loaded over the protocol.

An instance keeps the wire JSON it was loaded with (``_data``), decodes fields on first read
(``_cache``), and tracks what changed (``_changed``) plus queued atomic operations (``_ops``): a save
sends exactly those. Instances belong to the unit of work that loaded them (``leanorm.identity``), and
``_scope`` names the auth identity their data was loaded under.

A write that fails leaves no ghost: the instance drops what it had queued and its state expires (see
:meth:`Model._expire`), so nothing is sent twice by a later save and the next read reloads.
"""
from __future__ import annotations

import functools
import weakref
from operator import itemgetter
from typing import (TYPE_CHECKING, AbstractSet, Any, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence, Set,
                    Tuple, Type, TypeVar, overload)

import arrow
from typing_extensions import Self, dataclass_transform

from . import signals, transactions
from .aio import run_async
from .acl import ACL
from .config import get_client
from .protocol.encoding import decode, decode_date, encode
from .protocol.encoding import pointer as wire_pointer
from .protocol.ids import is_object_id, new_object_id
from .protocol.markers import sign_marker
from .errors import (DuplicateValue, FieldError, LeanORMError, NoEffect, NotSupported, ObjectNotFound,
                     ValidationError)
from .fields import MISSING, DateTimeField, DictField, Field, StringField
from .identity import Session, current_session
from .operations import (Add, AddUnique, BitAnd, BitOr, BitXor, Delete, F, Increment, Operation, Remove,
                         check_assignment)
from .query.lookups import CompileContext
from .query.compiler import compile_where
from .query.manager import Manager
from .query.q import Q
from .query.queryset import QuerySet
from .registry import registry

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["Model", "ModelMeta", "Options", "registry", "MultipleObjectsReturned", "new_object_id",
           "resolve_pointer"]

M = TypeVar("M", bound="Model")

#: wire keys the server owns: never sent as ordinary fields
RESERVED_KEYS = frozenset({"objectId", "createdAt", "updatedAt", "ACL", "__type", "className"})


#: the server hooks a save or delete may run (names as LeanCloud and ``leanorm.engine`` use them)
_HOOK_NAMES = ("beforeSave", "afterSave", "beforeUpdate", "afterUpdate", "beforeDelete", "afterDelete")



_object_id = itemgetter("objectId")


class MultipleObjectsReturned(LeanORMError):
    """``get()`` matched more than one object."""


#: LeanCloud SDK method names a porter tries on an object -> the leanorm equivalent
_SDK_METHODS = {
    "fetch": "refresh()", "destroy": "delete()", "get": "the field's attribute (obj.title) or obj['key']",
    "set": "an assignment (obj.title = ...)", "get_object_id": "obj.id", "get_created_at": "obj.created_at",
    "get_updated_at": "obj.updated_at", "get_acl": "obj.acl", "set_acl": "obj.acl = ...",
    "relation": "the RelationField's manager (obj.tags.add(...))", "has": "obj.extra / the attribute",
}


class _SDKMethodHint:
    """A LeanCloud SDK method name on a model (``obj.fetch``): reading it raises the AttributeError a
    missing attribute raises, naming the leanorm equivalent for a porter.

    One class attribute per name, set on Model at run time only (to a type checker a misspelt
    attribute stays an error), rather than a ``Model.__getattr__``: a class with ``__getattr__`` makes
    every attribute read of its instances slower (CPython cannot specialise them), field reads included.
    A field of the same name hides it, as it would any inherited attribute.
    """

    def __init__(self, name: str, hint: str) -> None:
        self.name = name
        self.hint = hint

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        model = owner if owner is not None else type(obj)
        raise AttributeError(f"{model.__name__} has no {self.name}(): the LeanCloud SDK's {self.name}() is "
                             f"{self.hint} in leanorm")


_ID = StringField(db_field="objectId")
_CREATED = DateTimeField(db_field="createdAt")
_UPDATED = DateTimeField(db_field="updatedAt")
for _name, _field in (("id", _ID), ("created_at", _CREATED), ("updated_at", _UPDATED)):
    _field.name = _name


def _system_parent(model: type) -> Optional["Options"]:
    """The options of the nearest parent model if it models a system class (``_User``, ``_Role``...): a
    subclass of ``User`` adds fields to ``_User`` (a class of its own would never hold users), so it keeps
    the parent's class and options without a ``Meta``, whose redeclaration checkers report as an
    incompatible override."""
    parent = next((vars(base)["_meta"] for base in model.__mro__[1:] if "_meta" in vars(base)), None)
    return parent if parent is not None and parent.class_name.startswith("_") else None


class Options:
    """A model's ``_meta``: protocol class name, fields by name and by wire key."""

    def __init__(self, model: type, meta: Optional[type], fields: Dict[str, Field[Any]]) -> None:
        self.model = model
        named = getattr(meta, "class_name", None)
        system = _system_parent(model) if named is None else None
        self.class_name: str = system.class_name if system else named or model.__name__
        self.abstract: bool = bool(getattr(meta, "abstract", False))
        self.default_acl: Any = getattr(meta, "default_acl", system.default_acl if system else None)
        self.fields = fields
        self.by_db: Dict[str, Field[Any]] = {f.db_field: f for f in fields.values()}
        self.query_fields: Dict[str, Field[Any]] = {"id": _ID, "pk": _ID, "created_at": _CREATED,
                                                    "updated_at": _UPDATED, **fields}


class _PagePointers:
    """The pointer stubs the rows of one query page resolved: a page of 1,000 rows pointing to 50 authors
    makes 50 identity-map lookups, not 1,000 (a pointer is read once per row, and the lookup is most of
    its cost). Valid for one unit of work and auth identity, the ones current at the first read; a read
    under others starts it afresh, so what it serves is what the identity map would serve, except that
    it keeps serving a stub the map has since dropped (expired, deleted): as a row's cached field does."""

    __slots__ = ("session", "scope", "stubs")

    def __init__(self) -> None:
        self.session: Optional["weakref.ref[Session]"] = None  # weak: a page must not keep a session alive
        self.scope: Optional[str] = None
        self.stubs: Dict[Tuple[str, str], "Model"] = {}


def _loaded_instances(cls: Type[M], rows: Iterable[Dict[str, Any]], client: Optional["Client"],
                      scope: Optional[str], page: Optional[_PagePointers], partial: bool = False) -> List[M]:
    """The one way instances are built from stored data (Django's ``Model.from_db``): each takes its
    row as ``_data``, an empty decode cache, the client and auth identity it was read under and the
    page's shared pointers; nothing is decoded here (fields decode on first read). Callers send
    ``post_init`` (:func:`_announce`) outside any lock. A loop of plain attribute stores: it is the read
    path, where a call per row would cost a tenth of the page."""
    new = cls.__new__
    out: List[M] = []
    append = out.append
    for row in rows:
        inst = new(cls)
        inst._data = row
        inst._cache = {}
        inst._client = client
        inst._scope = scope
        inst._page = page
        append(inst)
    if partial:
        for inst in out:
            inst._deferred = True
    return out


def _announce(cls: type, instances: Iterable["Model"]) -> None:
    """``post_init`` for instances built from stored data (blinker's send costs even with nobody
    listening: look once)."""
    if signals.post_init.receivers:
        for inst in instances:
            signals.post_init.send(cls, instance=inst)


class _PerInstance:
    """A class attribute that gives each instance its own container, made on first access.

    Instances loaded from a query page mostly never change, so their (empty) change set and operation
    queue are not built up front: fewer allocations on the read path, and fewer garbage-collector
    passes over 1,000-row pages. Being a non-data descriptor, it is shadowed by the instance's own
    value once made (or once assigned), so later accesses cost nothing extra.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.factory()
        object.__setattr__(obj, self.name, value)
        return value


class _InstanceState:
    """The state every instance carries besides its fields, declared on a base of its own: checkers read
    the annotated class attributes of a model as its constructor's keywords (``dataclass_transform`` on
    ModelMeta), and these are not keywords."""

    # made on first use for instances built from server data (see _PerInstance)
    _changed: Set[str] = _PerInstance(set)  # type: ignore[assignment]
    _ops: Dict[str, Operation] = _PerInstance(dict)  # type: ignore[assignment]
    # hook control for the next save: hook names to ignore, and whether to skip before/after hooks
    _hook_control: Dict[str, Any] = _PerInstance(dict)  # type: ignore[assignment]
    _deferred: bool = False
    # the auth identity (``Client.auth_identity()``) the instance's data was loaded under; None until then
    _scope: Optional[str] = None
    # the objectId a create will carry (``assign_id``), so that sending it again is safe
    _pending_id: Optional[str] = None
    # the pointer stubs shared with the rest of the query page the instance was read in
    _page: Optional[_PagePointers] = None
    # whether a save() or delete() of this instance is in flight (see Model._in_flight)
    _writing: bool = False


class _ObjectACL:
    """``Model.acl``: who may read and write the object (None: the backend's default, or
    ``Meta.default_acl`` for new objects); changes to the ACL read are saved with the object. A
    descriptor declared with an annotation, not a property, so that checkers accept ``Post(acl=...)``
    as the constructor does."""

    @overload
    def __get__(self, obj: None, owner: Any) -> "_ObjectACL": ...
    @overload
    def __get__(self, obj: "Model", owner: Any) -> Optional[ACL]: ...

    def __get__(self, obj: Optional["Model"], owner: Any) -> Any:
        if obj is None:
            return self
        cache = obj._cache
        if "ACL" not in cache:
            wire = obj._data.get("ACL")
            cache["ACL"] = ACL.from_wire(wire) if wire is not None else None
        return cache["ACL"]

    def __set__(self, obj: "Model", value: Optional[ACL]) -> None:
        if value is not None and not isinstance(value, ACL):
            raise TypeError(f"acl must be an ACL, not {type(value).__name__}")
        obj._cache["ACL"] = value
        obj._changed.add("ACL")


#: what every model has besides the class attributes of Model: set per class by ModelMeta, or per
#: instance (a field of one of these names would hide it)
_PER_MODEL_ATTRIBUTES = frozenset({"objects", "DoesNotExist", "MultipleObjectsReturned", "_meta", "_data",
                                   "_cache", "_client"})


def _hides_model_attribute(cls: type, attr: str) -> bool:
    """Whether a field ``attr`` declared on ``cls`` would hide a method or attribute of Model or of a
    parent model (``save``, ``remove``, ``objects``...). A parent's field may be redeclared."""
    if attr in _PER_MODEL_ATTRIBUTES:
        return True
    return any(attr in vars(base) and not isinstance(vars(base)[attr], (Field, _SDKMethodHint))
               for base in cls.__mro__[1:])


@dataclass_transform(kw_only_default=True, eq_default=False)
class ModelMeta(type):
    """Collects Field descriptors (inherited ones too), builds ``_meta``, the per-model exceptions and
    the default manager, and registers the model by class name.

    ``dataclass_transform`` tells type checkers that a model's constructor takes its fields as keywords:
    they read the fields declared with an annotation of their class
    (``title: StringField[str] = StringField(required=True)``), each keyword optional and typed by the
    field's ``__set__`` (docs/models.md, "Types for editors and checkers"). No field class is a field
    specifier: every field may be left out, as at runtime, where ``required`` is checked on save.
    ``eq_default=False``: models compare by class and objectId (``Model.__eq__``), not field by field.
    """

    def __new__(mcs, name: str, bases: tuple, namespace: Dict[str, Any], **kwargs: Any) -> "ModelMeta":
        meta = namespace.pop("Meta", None)
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if not any(isinstance(b, ModelMeta) for b in bases):
            return cls  # Model itself
        fields: Dict[str, Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(getattr(base, "_meta", None), "fields", {}))
        for attr, value in namespace.items():
            if isinstance(value, Field):
                if attr in ("id", "pk", "created_at", "updated_at", "acl") or value.db_field in RESERVED_KEYS:
                    raise FieldError(f"{name}.{attr}: {attr!r}/{value.db_field!r} is managed by leanorm")
                if _hides_model_attribute(cls, attr):
                    raise FieldError(
                        f"{name}.{attr}: a field named {attr!r} would hide the model's own {attr!r} (a method "
                        f"or attribute leanorm uses); name it otherwise and keep the wire name with db_field, "
                        f"e.g. {attr}_ = {type(value).__name__}(db_field={value.db_field!r})")
                value.model = cls  # type: ignore[assignment]
                fields[attr] = value
        cls._meta = Options(cls, meta, fields)  # type: ignore[attr-defined]
        parents = tuple(getattr(b, "DoesNotExist") for b in bases if hasattr(b, "DoesNotExist"))
        cls.DoesNotExist = type("DoesNotExist", parents or (ObjectNotFound,),  # type: ignore[attr-defined]
                                {"__module__": cls.__module__, "__qualname__": f"{name}.DoesNotExist"})
        parents = tuple(getattr(b, "MultipleObjectsReturned") for b in bases
                        if hasattr(b, "MultipleObjectsReturned"))
        cls.MultipleObjectsReturned = type(  # type: ignore[attr-defined]
            "MultipleObjectsReturned", parents or (MultipleObjectsReturned,),
            {"__module__": cls.__module__, "__qualname__": f"{name}.MultipleObjectsReturned"})
        if not hasattr(cls, "objects"):
            cls.objects = QuerySet.as_manager()  # type: ignore[attr-defined]
        if not cls._meta.abstract:  # type: ignore[attr-defined]
            registry.register(cls)  # type: ignore[arg-type]
        return cls


class Model(_InstanceState, metaclass=ModelMeta):
    """Base class of every model.

    >>> import leanorm
    >>> from leanorm import Model, StringField, IntegerField
    >>> _ = leanorm.connect("local://:memory:")
    >>> class Note(Model):
    ...     text: StringField[str] = StringField(required=True)
    ...     stars: IntegerField[int] = IntegerField(default=0)
    >>> note = Note.objects.create(text="hello")
    >>> Note.objects.get(id=note.id).text
    'hello'
    """

    _meta: ClassVar[Options]
    #: ``Post.objects`` is a new ``QuerySet[Post]`` on every read, for type checkers too. A model with
    #: queries of its own derives its manager from its QuerySet subclass, annotated so that checkers see
    #: them: ``objects: ClassVar[Manager[PostQuerySet]] = PostQuerySet.as_manager()``
    objects: ClassVar["Manager[QuerySet[Self]]"]
    acl: _ObjectACL = _ObjectACL()
    DoesNotExist: ClassVar[Type[ObjectNotFound]]
    MultipleObjectsReturned: ClassVar[Type[MultipleObjectsReturned]]

    def __init__(self, **values: Any) -> None:
        acl = values.pop("acl", None)  # the ACL is not a field, but is given with the values as the SDK's
        self._data: Dict[str, Any] = {}
        self._cache: Dict[str, Any] = {}
        self._changed = set()
        self._ops = {}
        self._client: Optional["Client"] = None
        self._deferred = False
        fields = self._meta.fields
        unknown = set(values) - set(fields)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unknown fields: {', '.join(sorted(unknown))}")
        for name, field in fields.items():
            value = values[name] if name in values else field.get_default()
            if value is not None or name in values:
                setattr(self, name, value)
        if acl is not None:
            self.acl = acl
        if signals.post_init.receivers:
            signals.post_init.send(type(self), instance=self)

    # -- loading ----------------------------------------------------------------------------------------
    @classmethod
    def _from_wire(cls: Type[M], data: Dict[str, Any], client: Optional["Client"], partial: bool = False,
                   scope: Optional[str] = None) -> M:
        """The instance for a server object: the one way to build an instance from wire data.

        With a client and an objectId, it is the identity-mapped one (refreshed unless it has unsaved
        changes) or a new one; ``partial`` marks data limited by ``keys`` (the rest loads on first read);
        ``scope`` is the auth identity the data was read under (the current one when None). Without an
        objectId there is nothing to map, and without a client the data is a snapshot the server sent for
        any user (cloud code hooks): the instance is not mapped and loads or saves through
        ``leanorm.get_client()``."""
        if client is not None and data.get("objectId"):
            return cls._from_wire_many((data,), client, partial, scope)[0]
        built = _loaded_instances(cls, (data,), client, None, None, partial)
        _announce(cls, built)
        return built[0]

    @classmethod
    def _from_wire_many(cls: Type[M], rows: Sequence[Dict[str, Any]], client: "Client",
                        partial: bool = False, scope: Optional[str] = None) -> List[M]:
        """:meth:`_from_wire` for a whole result page, read under the auth identity ``scope`` (the
        current one when None).

        This is the read path of every query, so the per-page work (auth scope, unit of work, identity
        map lock, clock) is done once, and a new instance gets its state with plain attribute stores:
        no field is decoded here (fields decode on first read, from ``_data``). A mapped instance is
        refreshed only if its data was loaded under the same identity (one loaded under another since,
        by ``refresh()`` or a lazy load, is replaced): data read by one identity never lands in an
        instance another identity is served.
        """
        imap = client.identity_map
        enabled = imap.enabled
        class_name = cls._meta.class_name
        if scope is None:
            scope = client.auth_identity()
        found: Optional[List[Any]] = None
        if enabled:
            ids = list(map(_object_id, rows))
            if len(set(ids)) != len(ids):
                # the same object twice in one page must still be one instance: store as we go
                return [cls._from_wire_many((row,), client, partial, scope)[0] for row in rows]
            found = imap.get_many(scope, class_name, ids)
            # nothing of this page is mapped (instances are true, unless a model defines __len__ or
            # __bool__: then a page of false ones is built anew, which costs identity, not correctness)
            if not any(found):
                found = None
        page = _PagePointers() if enabled else None  # (with the map off, every pointer is a new stub)
        if found is None:  # every row is a new instance (first reads, map off)
            out = fresh = _loaded_instances(cls, rows, client, scope, page, partial)
        else:
            slow = partial or cls._merge is not Model._merge  # a model that merges its own way (User)
            out = []
            missing: List[int] = []
            for i, (row, inst) in enumerate(zip(rows, found)):
                if inst is not None and type(inst) is cls and inst._scope == scope:
                    if slow or inst._changed or inst._ops:
                        inst._merge(row, partial)
                    else:  # _merge's common case without the call: take the row whole
                        inst._data = row
                        inst._cache = {}
                        inst._deferred = False
                    inst._page = page
                else:
                    missing.append(i)
                out.append(inst)
            fresh = _loaded_instances(cls, [rows[i] for i in missing], client, scope, page, partial)
            for i, inst in zip(missing, fresh):
                out[i] = inst
        _announce(cls, fresh)
        if enabled:
            imap.put_many(scope, class_name, ids, out)
        return out

    def _loaded_under(self, client: "Client") -> None:
        """Record that the instance now holds data read (or written) under the current auth identity,
        and map it there: the identity it was mapped under before no longer finds it, nor does another
        backend it was loaded from (it now holds this backend's data)."""
        object_id = self.id
        previous = self._client
        if previous is not None and previous is not client and object_id is not None:
            previous.identity_map.discard(self._meta.class_name, object_id)
        self._client = client
        self._scope = scope = client.auth_identity()
        if client.identity_map.enabled and object_id is not None:
            client.identity_map.put(scope, self._meta.class_name, object_id, self)

    @classmethod
    def _stub(cls: Type[M], object_id: str, client: Optional["Client"]) -> M:
        """An instance known only by id (a pointer): it loads itself when a field is read.

        With a client: the one mapped in the current unit of work and auth identity when there is one,
        else a new one, mapped there. A pointer is read once per row, so this is one identity-map lookup
        with the stub built in place, not a page of one row through :meth:`_from_wire_many`. Without a
        client (cloud code's snapshots): :meth:`_from_wire`'s unmapped instance."""
        if client is None:
            return cls._from_wire({"objectId": object_id}, client, partial=True)
        scope = client.auth_identity()

        def usable(inst: Any) -> bool:
            return type(inst) is cls and inst._scope == scope

        def make() -> M:
            return _loaded_instances(cls, ({"objectId": object_id},), client, scope, None, partial=True)[0]

        inst, new = client.identity_map.get_or_put(scope, cls._meta.class_name, object_id, usable, make)
        if new:
            _announce(cls, (inst,))
        return inst

    @classmethod
    def pointer(cls: Type[M], object_id: str, *, client: Optional["Client"] = None) -> M:
        """An unloaded reference to the object with this id (the SDK's ``create_without_data``): it
        loads on first read of a field (through ``client``), and can be changed and saved without
        loading it first."""
        if not is_object_id(object_id):
            raise ValueError(f"{cls.__name__}.pointer() needs an objectId (1 to 64 letters and digits), "
                             f"got {object_id!r}")
        return cls._stub(object_id, get_client(client))

    def _merge(self, data: Dict[str, Any], partial: bool) -> None:
        """Take newer server data, keeping local unsaved changes."""
        if not partial and not self._changed and not self._ops:  # the common case: take it whole
            self._data = data
            self._cache.clear()
            self._deferred = False
            return
        local = self._changed | set(self._ops)
        for key, value in data.items():
            if key not in local:
                self._data[key] = value
                field = self._meta.by_db.get(key)
                self._cache.pop(field.name if field is not None else key, None)
        if not partial:
            self._deferred = False

    def _resolver(self, class_name: str, object_id: str, data: Optional[Dict[str, Any]]) -> Any:
        """:func:`resolve_pointer` for the values of this instance: an included object was read with
        it, under the identity it was read under; a plain pointer goes through the page's shared stubs."""
        if data is None:
            return self._pointer(class_name, object_id)
        return resolve_pointer(get_client(self._client), self._scope, class_name, object_id, data)

    def _pointer(self, class_name: str, object_id: str) -> Any:
        """A Pointer in this instance's data as an instance of its model: the one mapped in the current
        unit of work and auth identity, else a stub (see :meth:`_stub`); the wire dict for a class no
        model declares. Rows of one query page share what they resolved (:class:`_PagePointers`)."""
        client = get_client(self._client)
        page = self._page
        if page is not None:
            session = current_session()
            scope = client.auth_identity()
            if page.session is None or page.session() is not session or page.scope != scope:
                page.session, page.scope, page.stubs = weakref.ref(session), scope, {}
            stub = page.stubs.get((class_name, object_id))
            if stub is not None and stub._scope == scope:  # (else loaded under another identity since)
                return stub
        stub = resolve_pointer(client, self._scope, class_name, object_id, None)
        if page is not None and isinstance(stub, Model):
            page.stubs[(class_name, object_id)] = stub
        return stub

    # -- attribute access (called by Field descriptors) ---------------------------------------------------
    def _read(self, field: Field[Any]) -> Any:
        cache = self._cache
        if field.name in cache:
            return cache[field.name]
        wire = self._data.get(field.db_field, MISSING)
        if wire is MISSING and self._deferred and self.id:
            self._load_rest()
            return self._read(field)
        value = None if wire is MISSING or wire is None else field.from_wire(wire, self)
        cache[field.name] = value
        return value

    def _write(self, field: Field[Any], value: Any) -> None:
        if isinstance(value, Operation):
            self._queue(field, value)
            return
        if isinstance(value, F):
            raise TypeError(f"assign F({value.name!r}) + n (an operation), not a bare F()")
        self._cache[field.name] = value
        self._changed.add(field.db_field)
        self._ops.pop(field.db_field, None)

    # -- the instance's state, for the features built on Model (users, files, relations, cloud code) ------
    # Stored values are keyed by wire key, decoded ones by field name: these keep the two in step, so no
    # other module writes the private slots.
    def _holds_all_read_by(self, client: "Client", scope: str) -> bool:
        """Whether every field of this instance was read through ``client`` under the auth identity
        ``scope`` (so it may serve a ``get(id=...)`` there without a request)."""
        return not self._deferred and self._scope == scope and self._client is client

    def _stored(self, key: str, default: Any = None) -> Any:
        """The value the server holds for the wire key ``key``, as it came (not decoded)."""
        return self._data.get(key, default)

    def _stored_copy(self) -> Dict[str, Any]:
        """Every stored value, as a new dict (wire keys, wire values)."""
        return dict(self._data)

    def _store(self, key: str, value: Any) -> None:
        """Take ``value`` as what the server holds for ``key`` (not a change to send); the field read
        from it decodes anew."""
        self._data[key] = value
        self._forget_decoded(key)

    def _unstore(self, key: str) -> None:
        """Forget what the server held for ``key``."""
        self._data.pop(key, None)
        self._forget_decoded(key)

    def _forget_decoded(self, key: str) -> None:
        field = self._meta.by_db.get(key)
        self._cache.pop(field.name if field is not None else key, None)

    def _discard_change(self, key: str) -> None:
        """Forget the unsaved change to the wire key ``key`` (a password is never kept after its save)."""
        self._changed.discard(key)
        self._forget_decoded(key)

    def _memo(self, key: str) -> Any:
        """A value derived from this instance and kept with it (prefetched relation members); None."""
        return self._cache.get(key)

    def _set_memo(self, key: str, value: Any) -> None:
        self._cache[key] = value

    def _drop_memo(self, key: str) -> None:
        self._cache.pop(key, None)

    def _queued_wire(self, key: str) -> Any:
        """For a key with a queued atomic operation: the local result of the operations, as wire JSON
        (the value cloud code answers for it); MISSING for a key without one."""
        field = self._meta.by_db.get(key)
        if key not in self._ops or field is None or field.name not in self._cache:
            return MISSING
        return field.to_wire(self._cache[field.name])

    def _queued_op(self, key: str) -> Optional[Operation]:
        """The atomic operation queued for the wire key ``key``, if any."""
        return self._ops.get(key)

    def __getitem__(self, key: str) -> Any:
        """Any stored key, declared or not, decoded: ``post["legacyField"]``."""
        field = self._meta.by_db.get(key)
        if field is not None:
            return self._read(field)
        if key in self._cache:
            return self._cache[key]
        if key not in self._data and self._deferred and self.id:
            self._load_rest()
        if key not in self._data:
            raise KeyError(key)
        return decode(self._data[key], self._resolver)

    def __setitem__(self, key: str, value: Any) -> None:
        """Set any key, declared or not (undeclared keys are sent as they are, encoded)."""
        field = self._meta.by_db.get(key)
        if field is not None:
            setattr(self, field.name, value)
            return
        if key in RESERVED_KEYS:
            raise FieldError(f"{key!r} is managed by leanorm")
        check_assignment(key, key, value)  # post["x"] = F("y") + 1 would silently become x + 1
        self._cache[key] = value
        self._changed.add(key)

    @property
    def extra(self) -> Dict[str, Any]:
        """The stored keys this model does not declare, decoded (they are kept and round-tripped)."""
        keys = set(self._data) - set(self._meta.by_db) - RESERVED_KEYS
        return {k: self[k] for k in sorted(keys | {k for k in self._changed if k not in self._meta.by_db})}

    # -- built-in attributes -------------------------------------------------------------------------------
    @property
    def id(self) -> Optional[str]:
        """The objectId (None until saved)."""
        return self._data.get("objectId")

    pk = id

    @property
    def created_at(self) -> Optional[arrow.Arrow]:
        """When the server created the object (UTC)."""
        value = self._data.get("createdAt")
        return decode_date(value) if isinstance(value, str) else None

    @property
    def updated_at(self) -> Optional[arrow.Arrow]:
        """When the server last updated the object (UTC)."""
        value = self._data.get("updatedAt") or self._data.get("createdAt")
        return decode_date(value) if isinstance(value, str) else None

    @property
    def is_dirty(self) -> bool:
        """Whether the instance has changes or queued operations not saved yet."""
        return bool(self._changed or self._ops or self._mutated_keys())

    # -- atomic operations (queued until save) -------------------------------------------------------------
    def _field_named(self, name: str) -> Field[Any]:
        try:
            return self._meta.fields[name]
        except KeyError:
            raise FieldError(f"{type(self).__name__} has no field {name!r}") from None

    def _path(self, name: str) -> Tuple[Field[Any], Tuple[str, ...]]:
        """A field (``score``), or a key inside a DictField (``stats__views``): the field and the keys
        inside it (none for the field itself)."""
        top, *inner = name.split("__")
        field = self._field_named(top)
        if inner and not isinstance(field, DictField):
            raise FieldError(f"{name!r}: only a DictField has keys to operate on inside it")
        if any(not part for part in inner):
            raise FieldError(f"{name!r} is not a field or a key inside a DictField")
        return field, tuple(inner)

    def _queue(self, field: Field[Any], op: Operation, inner: Tuple[str, ...] = ()) -> None:
        if inner:
            self._queue_inside(field, op, inner)
            return
        key = field.db_field
        if any(k.startswith(key + ".") for k in self._ops):
            raise ValueError(f"{key} has operations on keys inside it pending; save first")
        pending = self._ops.get(key)
        self._ops[key] = pending.merge(op) if pending is not None else op
        self._changed.discard(key)
        if field.name in self._cache or key in self._data:
            current = self._cache[field.name] if field.name in self._cache else self._read(field)
            self._cache[field.name] = op.apply(current)

    def _queue_inside(self, field: Field[Any], op: Operation, inner: Tuple[str, ...]) -> None:
        """An operation on a key inside a DictField, sent as a dotted key (``{"stats.views": {"__op":
        ...}}``): the server applies it there, the rest of the field untouched. The local value shows the
        guess until the save's answer."""
        key = ".".join((field.db_field, *inner))
        if field.db_field in self._changed or field.db_field in self._ops or self._mutated(field):
            raise ValueError(f"{field.db_field} itself is changed; save it before operating on keys inside it")
        pending = self._ops.get(key)
        self._ops[key] = pending.merge(op) if pending is not None else op
        current = self._cache[field.name] if field.name in self._cache else self._read(field)
        self._cache[field.name] = _apply_inside(current, inner, op)

    def increment(self, field: str, amount: float = 1) -> Self:
        """Queue ``field += amount`` (atomic on the server); negative amounts decrement. ``field`` may name
        a key inside a DictField: ``increment("stats__views")``."""
        self._queue(*self._path_op(field, Increment(amount)))
        return self

    def _path_op(self, name: str, op: Operation) -> Tuple[Field[Any], Operation, Tuple[str, ...]]:
        field, inner = self._path(name)
        return field, op, inner

    def decrement(self, field: str, amount: float = 1) -> Self:
        """Queue ``field -= amount`` (atomic on the server)."""
        return self.increment(field, -amount)

    def add(self, field: str, *values: Any) -> Self:
        """Queue appending ``values`` to an array field (or an array inside a DictField: ``meta__tags``)."""
        self._queue(*self._path_op(field, Add(list(values))))
        return self

    def add_unique(self, field: str, *values: Any) -> Self:
        """Queue appending those ``values`` the array does not hold yet."""
        self._queue(*self._path_op(field, AddUnique(list(values))))
        return self

    def remove(self, field: str, *values: Any) -> Self:
        """Queue removing every occurrence of ``values`` from an array field."""
        self._queue(*self._path_op(field, Remove(list(values))))
        return self

    def unset(self, field: str) -> Self:
        """Queue removing ``field`` (or a key inside a DictField: ``unset("meta__draft")``) from the stored
        object."""
        self._queue(*self._path_op(field, Delete()))
        return self

    def bit_and(self, field: str, value: int) -> Self:
        """Queue ``field &= value`` (LeanCloud and the embedded backend only)."""
        self._queue(self._field_named(field), BitAnd(value))
        return self

    def bit_or(self, field: str, value: int) -> Self:
        """Queue ``field |= value`` (LeanCloud and the embedded backend only)."""
        self._queue(self._field_named(field), BitOr(value))
        return self

    def bit_xor(self, field: str, value: int) -> Self:
        """Queue ``field ^= value`` (LeanCloud and the embedded backend only)."""
        self._queue(self._field_named(field), BitXor(value))
        return self

    # -- hook control (LeanCloud's body markers; the embedded backend honours them) -------------------------
    def ignore_hook(self, name: str) -> Self:
        """Skip the server hook ``name`` (``beforeSave``, ``afterUpdate``, ``beforeDelete``...) on the next
        save or delete: sends ``__ignore_hooks``, which the server accepts under the master key only
        (``using_master()``)."""
        if name not in _HOOK_NAMES:
            raise ValueError(f"unknown hook {name!r}; expected one of {', '.join(_HOOK_NAMES)}")
        self._hook_control.setdefault("ignore", []).append(name)
        return self

    def disable_before_hook(self) -> Self:
        """Skip the before hooks on the next save or delete (a ``__before`` marker signed with the master
        key, which the client must have)."""
        self._hook_control["__before"] = True
        return self

    def disable_after_hook(self) -> Self:
        """Skip the after hooks on the next save or delete (a signed ``__after`` marker)."""
        self._hook_control["__after"] = True
        return self

    def _hook_body(self, client: "Client") -> Dict[str, Any]:
        """The hook-control keys a save or delete adds to its body (never stored on the instance). Parse
        Server has no hook control (it refuses the keys as field names): ``NotSupported`` there."""
        client.require("hook_control", "hook control (ignore_hook, disable_before_hook, disable_after_hook)")
        body: Dict[str, Any] = {}
        if self._hook_control.get("ignore"):
            body["__ignore_hooks"] = list(dict.fromkeys(self._hook_control["ignore"]))
        for marker in ("__before", "__after"):
            if self._hook_control.get(marker):
                if not client.master_key:
                    raise LeanORMError(f"disabling hooks signs a {marker} marker with the master key: "
                                       "pass master_key to connect()")
                body[marker] = sign_marker(marker, self._meta.class_name, client.master_key)
        return body

    # -- saving --------------------------------------------------------------------------------------------
    def _mutated(self, field: Field[Any]) -> bool:
        """Whether the list/dict value of ``field`` was changed in place since it was loaded."""
        value = self._cache.get(field.name)
        return isinstance(value, (list, dict)) and field.to_wire(value) != self._data.get(field.db_field)

    def _mutated_keys(self) -> Set[str]:
        """Keys of list/dict values changed in place since they were loaded (``post.tags.append(x)``); a
        DictField with operations pending on keys inside it shows their guess, and is not sent whole."""
        keys = set()
        inside = {k.split(".", 1)[0] for k in self._ops if "." in k}
        for name in self._cache:
            field = self._meta.fields.get(name)
            if (field is not None and field.db_field not in self._changed and field.db_field not in self._ops
                    and field.db_field not in inside and self._mutated(field)):
                keys.add(field.db_field)
        acl = self._cache.get("ACL")
        if acl is not None and "ACL" not in self._changed and acl.to_wire() != self._data.get("ACL"):
            keys.add("ACL")
        return keys

    def changed_keys(self) -> Set[str]:
        """The wire keys a save would send."""
        return self._changed | set(self._ops) | self._mutated_keys()

    def _payload(self, is_new: bool, only: Optional[AbstractSet[str]] = None) -> Dict[str, Any]:
        """Validate and encode what a save sends (of the keys ``only`` names, when given: a queryset's
        ``update()`` writes its own fields, not the instance's other unsaved changes); raise
        ValidationError listing every bad field."""
        keys = self.changed_keys() if only is None else self.changed_keys() & only
        errors: Dict[str, List[str]] = {}
        for name, field in self._meta.fields.items():
            if field.db_field in self._ops:
                continue
            if field.db_field in keys or (is_new and field.required):
                problems = field.validate(self._read(field) if field.db_field in keys else None)
                if problems:
                    errors[name] = problems
        if errors:
            raise ValidationError(errors)
        payload: Dict[str, Any] = {}
        for key in keys:
            if key in self._ops:
                payload[key] = self._ops[key].to_wire()
                continue
            known = self._meta.by_db.get(key)
            value = self._cache.get(known.name if known else key)
            payload[key] = known.to_wire(value) if known is not None else encode(value)
        if is_new and "ACL" not in payload and self._meta.default_acl is not None:
            default = self._meta.default_acl
            payload["ACL"] = encode(default(self) if callable(default) else default)
        return payload

    def _check_capabilities(self, client: "Client") -> None:
        for op in self._ops.values():
            if op.capability:
                client.require(op.capability, f"the {op.op} operation")

    def save(self: M, *, where: Optional[Q] = None, fetch_when_save: bool = False,
             client: Optional["Client"] = None) -> M:
        """Create or update the object, sending only what changed.

        :param where: a :class:`Q` the stored object must match, or nothing is written and
            :class:`~leanorm.errors.NoEffect` (305) is raised (LeanCloud and the embedded backend)
        :param fetch_when_save: ask the server for every field after the write (exact values after
            atomic operations)
        """
        self._check_not_in_flight("save")
        client = get_client(client, self._client)
        is_new = self.id is None
        if where is not None:
            client.require("conditional_update", "conditional save (save(where=...))")
        self._check_capabilities(client)
        sender = type(self)
        if is_new:
            signals.before_save.send(sender, instance=self)
        else:
            keys = self.changed_keys()
            if not keys:
                # nothing to send, but the promise holds: a ``where`` the stored object fails is NoEffect
                if where is not None and not QuerySet(type(self), client).filter(where, id=self.id).exists():
                    raise NoEffect(305, f"{self!r} does not match the save's where: nothing was written")
                return self
            signals.before_update.send(sender, instance=self, changed=keys)
        payload = self._payload(is_new)
        if is_new:
            pending = self._pending_id or (new_object_id() if client.client_ids else None)
            if pending is not None:
                self._pending_id = payload["objectId"] = pending
        params = self._write_params(client, where, fetch_when_save)
        path = self._collection_path()
        body = {**payload, **self._hook_body(client)} if self._hook_control else payload
        transaction = transactions.current()
        if transaction is not None:
            self._queue_write(client, transaction, "POST" if is_new else "PUT",
                              path if is_new else f"{path}/{self.id}", params, body, payload)
            return self
        try:
            self._writing = True
            if is_new:
                answer = self._create(client, path, params, body)
            else:
                answer = client.request("PUT", f"{path}/{self.id}", params, body)
        except BaseException:
            self._expire(client)
            raise
        finally:
            self._writing = False
        self._hook_control.clear()
        self._saved(client, payload, answer)
        (signals.after_save if is_new else signals.after_update).send(sender, instance=self)
        return self

    def _check_not_in_flight(self, what: str) -> None:
        """Refuse a write of this instance while another is in flight (two tasks under
        ``asyncio.gather``, or two threads, writing one instance): it would send the first write's queued
        changes again (an Increment applied twice, a second create) before the first folds its answer in."""
        if self._writing:
            raise LeanORMError(f"cannot {what} {self!r}: a save() or delete() of this instance is in flight (another "
                               "task or thread is writing it): await that write first, or give each task its own "
                               "instance (docs/async.md, \"Units of work, per task\")")

    def _queue_write(self, client: "Client", transaction: "transactions.Transaction", method: str, path: str,
                     params: Mapping[str, Any], body: Optional[Dict[str, Any]],
                     payload: Optional[Dict[str, Any]]) -> None:
        """Queue this object's write in the atomic block's transaction; the answer folds in at commit."""
        if params:
            raise NotSupported(f"{', '.join(sorted(params))} inside atomic()", None,
                               "a write of a transactional batch carries no query parameters")
        sender = type(self)

        def done(answer: Dict[str, Any]) -> None:
            self._hook_control.clear()
            if method == "DELETE":
                client.identity_map.discard(self._meta.class_name, self.id)  # type: ignore[arg-type]
                signals.after_delete.send(sender, instance=self)
                return
            self._saved(client, payload or {}, answer)
            (signals.after_save if method == "POST" else signals.after_update).send(sender, instance=self)

        transaction.add(client, self, method, path, body, done, lambda: self._expire(client))

    def assign_id(self, object_id: Optional[str] = None) -> str:
        """Give this unsaved instance the objectId its create will carry (a fresh one by default) and
        return it. Sending such a create again is safe: when the first attempt had landed, the server
        refuses the duplicate id and the save takes the stored object instead of creating a second one.
        The embedded backend accepts client-made ids; Parse Server with ``allowCustomObjectId``.
        ``connect(..., client_ids=True)`` gives every create one."""
        if self.id is not None:
            raise LeanORMError(f"{self!r} is saved already: its objectId is the server's")
        if object_id is not None and (not isinstance(object_id, str) or not 0 < len(object_id) <= 64):
            raise ValueError(f"an objectId is a string of 1 to 64 characters, not {object_id!r}")
        self._pending_id = object_id or self._pending_id or new_object_id()
        return self._pending_id

    @property
    def pending_id(self) -> Optional[str]:
        """The client-made objectId the next create carries (see :meth:`assign_id`), None if none."""
        return self._pending_id if self.id is None else None

    def _create(self, client: "Client", path: str, params: Dict[str, Any], body: Dict[str, Any]) -> Any:
        """POST the create; with a client-made id, a duplicate-id refusal means an earlier attempt
        landed: answer with the stored object (read by that id) instead."""
        try:
            return client.request("POST", path, params, body)
        except DuplicateValue as refused:
            if self._pending_id is None:
                raise
            try:
                stored = client.request("GET", f"{path}/{self._pending_id}")
            except ObjectNotFound:
                stored = None
            if not stored:  # another unique field was taken: the create did not land
                raise refused
            return stored

    def _expire(self, client: "Client") -> None:
        """After a failed write: drop the queued changes and operations and forget the loaded state, so
        that nothing is sent again by a later save and the next read of a field reloads it. An unsaved
        instance keeps its values (there is no server state to forget): saving it again creates it,
        which is safe when it carries a client-made id (:meth:`assign_id`)."""
        self._hook_control.clear()
        object_id = self.id
        if object_id is None:
            return
        self._data = {"objectId": object_id}
        self._cache = {}
        self._changed = set()
        self._ops = {}
        self._deferred = True
        client.identity_map.discard(self._meta.class_name, object_id)

    def _collection_path(self) -> str:
        """Where objects of this model are created (``users`` for ``_User``)."""
        return f"classes/{self._meta.class_name}"

    def _write_params(self, client: "Client", where: Optional[Q], fetch_when_save: bool) -> Dict[str, Any]:
        params: Dict[str, Any] = {}
        if fetch_when_save:
            params["fetchWhenSave"] = "true"
        if where is not None:
            context = CompileContext(client.dialect, client.backend, client.capabilities)
            params["where"] = compile_where(type(self), where, context)
        return params

    def _saved(self, client: "Client", payload: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Fold a successful write into the instance: sent values, server values, op results."""
        inside = {k.split(".", 1)[0] for k in self._ops if "." in k}
        for key, wire in payload.items():
            op = self._ops.get(key)
            field = self._meta.by_db.get(key)
            if op is not None and "." in key:
                self._fold_inside(key, op, answer)
                continue
            if op is None:
                self._data[key] = wire
                continue
            if key in answer:
                self._data[key] = answer[key]
            elif isinstance(op, Delete):
                self._data.pop(key, None)
            else:
                # LeanCloud does not echo op results: keep the local guess (exact with fetch_when_save)
                guess = self._cache.get(field.name) if field else None
                self._data[key] = field.to_wire(guess) if field else encode(guess)
            if field is not None:
                self._cache.pop(field.name, None)
        # The answer wins: op results, and values a server hook changed (Parse and the embedded backend
        # echo those; with fetch_when_save the whole object comes back).
        if answer:
            for key, value in answer.items():
                if key not in ("__type", "className") and key not in inside:
                    self._data[key] = value
                    field = self._meta.by_db.get(key)
                    if field is not None:
                        self._cache.pop(field.name, None)
        for key in ("objectId", "createdAt", "updatedAt"):
            if key in answer:
                self._data[key] = answer[key]
        if "updatedAt" not in answer and "createdAt" in answer:
            self._data["updatedAt"] = answer["createdAt"]
        # what was sent is saved; changes a partial write (a queryset's update()) did not send stay pending
        for key in payload:
            self._changed.discard(key)
            self._ops.pop(key, None)
        self._pending_id = None
        self._loaded_under(client)  # the answer to a create carries the objectId

    def _fold_inside(self, key: str, op: Operation, answer: Mapping[str, Any]) -> None:
        """The stored value after an operation on a key inside a DictField: the answer's value at that
        key when the server sent one (Parse answers only the path, the embedded backend the whole field),
        else the operation applied to what was stored."""
        top, *inner = key.split(".")
        path = tuple(inner)
        answered = _inside(answer.get(top), path)
        stored = self._data.get(top)
        if answered is not _ABSENT:
            self._data[top] = _set_inside(stored, path, answered)
        else:
            self._data[top] = encode(_apply_inside(decode(stored) if stored is not None else None, path, op))
        field = self._meta.by_db.get(top)
        if field is not None:
            self._cache.pop(field.name, None)

    def delete(self, *, where: Optional[Q] = None, client: Optional["Client"] = None) -> None:
        """Delete the object. ``where`` makes it conditional (NoEffect/305 when it does not hold)."""
        if self.id is None:
            raise LeanORMError(f"{self!r} was never saved: nothing to delete")
        self._check_not_in_flight("delete")
        client = get_client(client, self._client)
        if where is not None:
            client.require("conditional_update", "conditional delete (delete(where=...))")
        # LeanCloud's SDKs send a delete's hook control as its JSON body, as a save's
        body = self._hook_body(client) if self._hook_control else None
        signals.before_delete.send(type(self), instance=self)
        params = self._write_params(client, where, False)
        transaction = transactions.current()
        if transaction is not None:
            self._queue_write(client, transaction, "DELETE", f"classes/{self._meta.class_name}/{self.id}",
                              params, body, None)
            return
        try:
            self._writing = True
            client.request("DELETE", f"classes/{self._meta.class_name}/{self.id}", params, body)
        except BaseException:
            self._expire(client)
            raise
        finally:
            self._writing = False
        self._hook_control.clear()
        client.identity_map.discard(self._meta.class_name, self.id)
        signals.after_delete.send(type(self), instance=self)

    def refresh(self: M, *, client: Optional["Client"] = None) -> M:
        """Reload every field from the server, dropping unsaved changes."""
        if self.id is None:
            raise LeanORMError(f"{self!r} was never saved: nothing to refresh")
        client = get_client(client, self._client)
        data = self._fetch_stored(client)
        self._data = data
        self._cache.clear()
        self._changed.clear()
        self._ops.clear()
        self._deferred = False
        self._loaded_under(client)
        return self

    # -- async (docs/async.md): the methods above, their sends awaited on the event loop (leanorm.aio) --
    async def asave(self, *, where: Optional[Q] = None, fetch_when_save: bool = False,
                    client: Optional["Client"] = None) -> Self:
        """:meth:`save` from async code."""
        return await run_async(self.save, where=where, fetch_when_save=fetch_when_save, client=client)

    async def adelete(self, *, where: Optional[Q] = None, client: Optional["Client"] = None) -> None:
        """:meth:`delete` from async code."""
        await run_async(self.delete, where=where, client=client)

    async def arefresh(self, *, client: Optional["Client"] = None) -> Self:
        """:meth:`refresh` from async code."""
        return await run_async(self.refresh, client=client)

    def _fetch_stored(self, client: "Client") -> Dict[str, Any]:
        """The stored object (``GET`` by id); the model's ``DoesNotExist`` when there is none, whichever way
        the backend says so (LeanCloud answers ``{}``, Parse Server error 101)."""
        try:
            data = client.request("GET", f"classes/{self._meta.class_name}/{self.id}")
        except ObjectNotFound as missing:
            if isinstance(missing, self.DoesNotExist):
                raise
            raise self.DoesNotExist(101, f"{self._meta.class_name} {self.id} does not exist") from missing
        if not data:
            raise self.DoesNotExist(101, f"{self._meta.class_name} {self.id} does not exist")
        return data

    def _load_rest(self) -> None:
        """Load the fields a partial instance (pointer stub, ``only()``) lacks, keeping local changes."""
        client = get_client(self._client)
        data = self._fetch_stored(client)
        self._merge(data, partial=False)
        self._deferred = False
        self._loaded_under(client)

    # -- comparisons and display -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Model) or self.id is None:
            return False
        return self._meta.class_name == other._meta.class_name and self.id == other.id

    def __hash__(self) -> int:
        if self.id is None:
            raise TypeError("model instances without an id are unhashable")
        return hash((self._meta.class_name, self.id))

    def __repr__(self) -> str:
        shown = []
        for name, field in list(self._meta.fields.items())[:3]:
            if name in self._cache or field.db_field in self._data:
                value = self._cache.get(name, self._data.get(field.db_field))
                text = repr(value)
                shown.append(f"{name}={text[:40] + '...' if len(text) > 40 else text}")
        ident = f" id={self.id!r}" if self.id else " (unsaved)"
        return f"<{type(self).__name__}{ident}{' ' if shown else ''}{' '.join(shown)}>"

    def __copy__(self) -> "Model":
        raise TypeError("copying a model instance would break the identity map; build a new one")

    def to_dict(self) -> Dict[str, Any]:
        """Every declared field (and id, created_at, updated_at) as Python values."""
        out: Dict[str, Any] = {"id": self.id, "created_at": self.created_at, "updated_at": self.updated_at}
        out.update((name, getattr(self, name)) for name in self._meta.fields)
        return out


for _name, _hint in _SDK_METHODS.items():
    setattr(Model, _name, _SDKMethodHint(_name, _hint))


#: a key absent from a dict (``None`` is a value)
_ABSENT: Any = object()


def _inside(value: Any, path: Tuple[str, ...]) -> Any:
    """The value at ``path`` inside nested dicts, or ``_ABSENT``."""
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _ABSENT
        value = value[key]
    return value


def _set_inside(value: Any, path: Tuple[str, ...], new: Any) -> Dict[str, Any]:
    """A copy of the dict ``value`` (a new one when it is not a dict) with ``new`` at ``path``, the dicts
    on the way copied or made."""
    root = dict(value) if isinstance(value, dict) else {}
    node = root
    for key in path[:-1]:
        node[key] = dict(node[key]) if isinstance(node.get(key), dict) else {}
        node = node[key]
    node[path[-1]] = new
    return root


def _apply_inside(value: Any, path: Tuple[str, ...], op: Operation) -> Dict[str, Any]:
    """A copy of the dict ``value`` after ``op`` on the key at ``path`` (``Delete`` removes the key), as
    the server applies a dotted key."""
    current = _inside(value, path)
    result = _set_inside(value, path, op.apply(None if current is _ABSENT else current))
    if isinstance(op, Delete):
        node = result
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return result


def resolve_pointer(client: Optional["Client"], scope: Optional[str], class_name: str, object_id: str,
                    data: Optional[Dict[str, Any]]) -> Any:
    """The one pointer resolver (a :data:`~leanorm.protocol.encoding.PointerResolver` once ``client`` and
    ``scope`` are bound): a Pointer (``data`` None) or an Object on the wire as an instance of its model.

    A Pointer is a stub that loads on first read; an Object with an objectId is built by
    :meth:`Model._from_wire` for ``client`` (identity-mapped under ``scope``; a snapshot when ``client``
    is None); an Object without one (built by cloud code, never saved) is a new instance whose values are
    all unsaved changes. A class with no model stays the wire dict."""
    model = registry.get(class_name)
    if model is None:
        return wire_pointer(class_name, object_id) if data is None else data
    if data is None:
        return model._stub(object_id, client)
    body = {k: v for k, v in data.items() if k not in ("__type", "className")}
    if object_id:
        return model._from_wire(body, client, scope=scope)
    instance = model()
    for key, value in body.items():
        field = model._meta.by_db.get(key)
        if field is not None:
            setattr(instance, field.name, field.from_wire(value, instance))
        else:
            instance[key] = decode(value, functools.partial(resolve_pointer, client, scope))
    return instance
