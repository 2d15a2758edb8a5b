"""Hook and rpc objects: the server's wire JSON as model instances, and instances back as wire JSON.

Instances built here are snapshots of what the server sent: they are not put in the identity map (the
server may act for many users; the map is scoped per caller) and they hold no client until they load
or save something, which then goes through ``leanorm.get_client()`` like any other instance.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Iterable, Optional, Type, TypeVar, overload

from ..protocol.encoding import decode
from ..errors import ScriptError
from ..fields import MISSING
from ..models import Model, resolve_pointer
from ..registry import registry
from ..operations import Delete

__all__ = ["CONTROL_KEYS", "model_named", "instance_from_wire", "answer_object", "decode_rich",
           "updated_keys", "drop_private"]

#: keys of a hook object that steer the server rather than hold data
CONTROL_KEYS = frozenset({"className", "__type", "_updatedKeys", "__before", "__after", "__ignore_hooks"})

_UPDATED_KEYS_ATTR = "_engine_updated_keys"

M = TypeVar("M", bound=Model)


# With a model as fallback, the answer has its type: a model registered later for the same class name
# subclasses it (``class MyUser(User)`` for ``_User``, as docs/users.md asks).
@overload
def model_named(class_name: str, fallback: Type[M]) -> Type[M]: ...
@overload
def model_named(class_name: str, fallback: Optional[Type[Model]] = None) -> Type[Model]: ...


def model_named(class_name: str, fallback: Optional[Type[Model]] = None) -> Type[Model]:
    """The model registered for ``class_name`` (a subclass registered later wins, e.g. ``MyUser`` for
    ``_User``), else ``fallback``; ScriptError (141) when there is neither."""
    model = registry.get(class_name) or fallback
    if model is None:
        raise ScriptError(141, f"no leanorm model is declared for class {class_name!r}")
    return model


def instance_from_wire(model: Type[M], data: Dict[str, Any], partial: bool = False) -> M:
    """An instance of ``model`` holding ``data`` (control keys dropped); ``partial`` marks a pointer
    whose other fields load on first read."""
    inst = model._from_wire({k: v for k, v in data.items() if k not in CONTROL_KEYS}, None, partial)
    updated = data.get("_updatedKeys")
    if isinstance(updated, list):
        setattr(inst, _UPDATED_KEYS_ATTR, frozenset(str(k) for k in updated))
    return inst


def updated_keys(instance: Model) -> frozenset:
    """The wire keys the update being hooked changes (``before_update`` / ``after_update`` hooks);
    empty for other instances."""
    return getattr(instance, _UPDATED_KEYS_ATTR, frozenset())


def answer_object(instance: Model, is_new: bool) -> Dict[str, Any]:
    """The object a before-hook answers: what the server sent with the hook's changes applied, as plain
    wire values (queued operations applied locally; ``unset`` removes the key of a new object and stays a
    ``Delete`` operation on an update). Raises ValidationError when a changed field is invalid."""
    payload = instance._payload(is_new=False)  # validates only what the hook changed
    out = {k: v for k, v in instance._stored_copy().items() if k not in CONTROL_KEYS}
    for key, wire in payload.items():
        if key in CONTROL_KEYS:
            continue
        op = instance._queued_op(key)
        if op is None:
            out[key] = wire
        elif isinstance(op, Delete):
            if is_new:
                out.pop(key, None)
            else:
                out[key] = wire
        else:
            result = instance._queued_wire(key)
            out[key] = wire if result is MISSING else result
    return out


#: rpc parameters are what the server sent for its caller: snapshots, like hook objects
_SNAPSHOT_RESOLVER = functools.partial(resolve_pointer, None, None)


def decode_rich(value: Any) -> Any:
    """Decode rpc parameters: dates, points, bytes, and Pointers/Objects into model instances."""
    return decode(value, _SNAPSHOT_RESOLVER)


def drop_private(params: Dict[str, Any], keep: Iterable[str] = ("__type",)) -> Dict[str, Any]:
    """Parameters without the ``_``-prefixed keys browser SDKs add (``_ApplicationId``...)."""
    return {k: v for k, v in params.items() if not k.startswith("_") or k in keep}
