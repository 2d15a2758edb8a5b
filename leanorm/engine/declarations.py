"""What an engine declares: cloud functions and hooks, keyed by the LeanEngine path that runs them.

Keys are paths without the ``/1.1/`` prefix: ``functions/hello``, ``functions/Post/beforeSave``,
``functions/_User/onLogin``, ``functions/_User/onAuthData``, ``functions/onVerified/sms``; background jobs
are ``jobs/NAME``. ``call/NAME`` runs the declaration of ``functions/NAME``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Type, Union

from ..models import Model

__all__ = ["HOOKS", "LIVE_TRIGGERS", "CONNECT_CLASS", "live_trigger_path", "Declaration", "Declarations", "normalize_path", "strip_prefix", "is_rpc", "ModelOrName",
           "class_name_of", "METADATA_KEY", "VERIFY_KINDS"]

#: the Python name of each class hook and the LeanEngine name in its path
HOOKS = {
    "before_save": "beforeSave", "after_save": "afterSave",
    "before_update": "beforeUpdate", "after_update": "afterUpdate",
    "before_delete": "beforeDelete", "after_delete": "afterDelete",
}
VERIFY_KINDS = ("sms", "email")
#: the Python name of each live query trigger and Parse Server's name in its path
#: (``functions/CLASS/beforeSubscribe``; ``beforeConnect`` is for no class: ``functions/@Connect/...``)
LIVE_TRIGGERS = {
    "before_connect": "beforeConnect", "before_subscribe": "beforeSubscribe",
    "after_live_query_event": "afterLiveQueryEvent",
}
#: the class name Parse Server files ``beforeConnect`` under
CONNECT_CLASS = "@Connect"
#: where LeanCloud reads the declared names (master key only)
METADATA_KEY = "functions/_ops/metadatas"

ModelOrName = Union[Type[Model], str]

#: prefixes LeanCloud and the official SDKs put before the engine paths
_PREFIXES = ("/__engine/1.1/", "/__engine/1/", "/1.1/", "/1/", "__engine/1.1/", "__engine/1/", "1.1/", "1/", "/")


def strip_prefix(path: str) -> str:
    """The path without ``/1.1/``, ``/1/`` or ``/__engine/1.1/``: ``call/hello``."""
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    return path.strip("/")


def is_rpc(path: str) -> bool:
    """Whether ``path`` is an rpc call (``call/NAME``: instances in, instances out)."""
    return strip_prefix(path).startswith("call/")


def normalize_path(path: str) -> str:
    """The declaration key ``path`` runs: ``/1.1/call/x`` -> ``functions/x``."""
    path = strip_prefix(path)
    if path.startswith("call/"):
        path = "functions/" + path[len("call/"):]
    return path


@dataclass(frozen=True)
class Declaration:
    """One declared function or hook."""

    key: str
    func: Callable[..., object]
    #: ``function``, ``job``, a key of :data:`HOOKS` or :data:`LIVE_TRIGGERS`, ``on_login``,
    #: ``on_auth_data`` or ``on_verified``
    kind: str
    #: the class a hook is for (``_User`` for login/auth data/verification hooks)
    class_name: Optional[str] = None
    #: the model given at declaration, used when no model is registered for the class at call time
    model: Optional[Type[Model]] = None

    @property
    def metadata_name(self) -> str:
        """The name LeanCloud reads from ``_ops/metadatas`` (the official SDKs' naming)."""
        if self.kind == "function":
            return self.key[len("functions/"):]
        if self.kind in HOOKS:
            return f"__{self.kind}_for_{self.class_name}"
        if self.kind == "on_verified":
            return "__on_verified_" + self.key.rsplit("/", 1)[1]
        return "__on_login__User" if self.kind == "on_login" else "__on_authdata__User"


class Declarations:
    """The declarations of one engine. Declaring the same key twice is an error."""

    def __init__(self) -> None:
        self._by_key: Dict[str, Declaration] = {}

    def add(self, declaration: Declaration) -> None:
        """Add ``declaration``; ValueError when its key is taken."""
        if declaration.key in self._by_key:
            raise ValueError(f"{declaration.key} is already declared")
        self._by_key[declaration.key] = declaration

    def merge(self, other: "Declarations") -> None:
        """Add every declaration of ``other``; ValueError naming the clashes, adding none of them."""
        clashes = sorted(set(self._by_key) & set(other._by_key))
        if clashes:
            raise ValueError(f"already declared: {', '.join(clashes)}")
        self._by_key.update(other._by_key)

    def get(self, path: str) -> Optional[Declaration]:
        """The declaration a path runs (any prefix, ``call/`` or ``functions/``), or None."""
        return self._by_key.get(normalize_path(path))

    def metadata_names(self) -> List[str]:
        """Every declared name, as ``_ops/metadatas`` lists them (jobs and live query triggers are not
        LeanEngine's: not listed)."""
        return sorted(d.metadata_name for d in self._by_key.values()
                      if d.kind != "job" and d.kind not in LIVE_TRIGGERS)

    def job_names(self) -> List[str]:
        """The names of the declared background jobs (``POST jobs/NAME`` starts one)."""
        return sorted(d.key[len("jobs/"):] for d in self._by_key.values() if d.kind == "job")

    def __iter__(self) -> Iterator[Declaration]:
        return iter(list(self._by_key.values()))


def class_name_of(model: ModelOrName) -> str:
    """The protocol class name of a model class or a class name."""
    if isinstance(model, str):
        return model
    if isinstance(model, type) and issubclass(model, Model):
        return model._meta.class_name
    raise TypeError(f"expected a Model class or a class name, not {model!r}")


def live_trigger_path(kind: str, class_name: str = CONNECT_CLASS) -> str:
    """The path a live query trigger is declared and dispatched under:
    ``live_trigger_path("before_subscribe", "Post")`` is ``functions/Post/beforeSubscribe``."""
    return f"functions/{class_name}/{LIVE_TRIGGERS[kind]}"
