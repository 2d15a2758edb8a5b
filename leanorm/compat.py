"""``LeanCloudObjectMixin``: the LeanCloud SDK's object methods, for code being ported (opt-in).

Code written for the ``leancloud`` SDK reads and writes objects by key: ``todo.get("title")``,
``todo.set({"title": t, "done": False})``, ``todo.dump()`` for a template or a JSON answer. leanorm's
models use attributes instead, and a plain :class:`~leanorm.models.Model` answers those names with an
AttributeError naming the leanorm way. Templates are where that hurts: Jinja turns the error into an
empty string, so ``{{ todo.get('title') }}`` renders nothing and says nothing. A model that derives from
this mixin answers them as the SDK did, typed, while the rest of the app moves to attributes::

    class Todo(LeanCloudObjectMixin):          # or (LeanCloudObjectMixin, Model)
        title: StringField[Optional[str]] = StringField()

Keys are field names (``title``), stored names (``db_field``, ``createdAt``, ``objectId``) or keys the
model does not declare. Nothing here is on plain ``Model``: new code keeps attributes, which checkers
type field by field where ``get()`` is ``Any``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union, overload

from typing_extensions import Self

from .acl import ACL
from .fields import Field
from .models import Model
from .protocol.encoding import encode

__all__ = ["LeanCloudObjectMixin"]

_BUILT_IN = {"objectId": "id", "createdAt": "created_at", "updatedAt": "updated_at"}


class LeanCloudObjectMixin(Model):
    """The ``leancloud.Object`` methods ``get``, ``set``, ``has``, ``dump``, ``fetch``, ``destroy``,
    ``get_acl`` and ``set_acl`` on a model (see the module)."""

    class Meta:
        abstract = True

    def _compat_field(self, key: str) -> Optional[Field[Any]]:
        meta = self._meta
        return meta.query_fields.get(_BUILT_IN.get(key, key)) or meta.by_db.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (a field name, a stored name or an undeclared key), ``default`` when it
        has none, as the SDK's ``get``. ``createdAt``/``updatedAt`` are dates (``arrow.Arrow``)."""
        if key == "ACL":
            return self.acl
        field = self._compat_field(key)
        if field is not None:
            value = getattr(self, field.name)
        else:
            try:
                value = self[key]
            except KeyError:
                return default
        return default if value is None else value

    @overload
    def set(self, key: str, value: Any) -> Self: ...
    @overload
    def set(self, key: Mapping[str, Any]) -> Self: ...

    def set(self, key: Union[str, Mapping[str, Any]], value: Any = None) -> Self:
        """Set one key (``set("title", t)``) or several (``set({"title": t, "done": False})``), as the
        SDK's ``set``; returns the object. Nothing is sent until ``save()``."""
        values = dict(key) if isinstance(key, Mapping) else {key: value}
        for name, given in values.items():
            if name == "ACL":
                self.acl = given
                continue
            field = self._compat_field(name)
            if field is not None:
                setattr(self, field.name, given)
            else:
                self[name] = given
        return self

    def has(self, key: str) -> bool:
        """Whether ``key`` holds a value (not None)."""
        return self.get(key) is not None

    def dump(self) -> Dict[str, Any]:
        """The object as the SDK's ``dump()`` gives it: stored names and wire JSON values, with
        ``objectId``, ``createdAt`` and ``updatedAt``. Dates are the protocol's ``{"__type": "Date",
        "iso": "2026-01-31T08:00:00.000Z"}`` (UTC, milliseconds); ``createdAt`` and ``updatedAt`` are that
        ``iso`` string alone, as the server sends them; pointers are Pointers, files
        ``{"__type": "File", "id", "name", "url"}``, the ACL its JSON."""
        out: Dict[str, Any] = {}
        for name, field in self._meta.fields.items():
            value = getattr(self, name)
            if value is not None:
                out[field.db_field] = field.to_wire(value)
        for key, value in self.extra.items():
            out[key] = encode(value)
        if self.id is not None:
            out["objectId"] = self.id
        for key in ("createdAt", "updatedAt"):
            stamp = getattr(self, _BUILT_IN[key])
            if stamp is not None:
                out[key] = encode(stamp)["iso"]
        if self.acl is not None:
            out["ACL"] = self.acl.to_wire()
        return out

    def fetch(self) -> Self:
        """Reload the object from the server (leanorm's :meth:`~leanorm.models.Model.refresh`)."""
        return self.refresh()

    def destroy(self) -> None:
        """Delete the object (leanorm's :meth:`~leanorm.models.Model.delete`)."""
        self.delete()

    def get_acl(self) -> Optional[ACL]:
        """The object's ACL (``obj.acl``)."""
        return self.acl

    def set_acl(self, acl: ACL) -> Self:
        """Set the object's ACL (``obj.acl = acl``); returns the object."""
        self.acl = acl
        return self

