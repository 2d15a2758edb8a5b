"""``Engine``: declare cloud functions and hooks, serve them over WSGI, run them in-process."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Type, TypeVar, Union, overload

from .. import signals as _signals
from ..config import bound_client
from ..embedded import EmbeddedServer
from ..models import Model
from . import dispatch as _dispatch
from . import leanengine_http, parse_webhooks
from .declarations import (CONNECT_CLASS, HOOKS, VERIFY_KINDS, Declaration, Declarations, ModelOrName, class_name_of,
                           live_trigger_path)
from .keys import EngineKeys
from .embedded import EmbeddedEngine
from .wsgi_util import json_response

__all__ = ["Engine"]

F = TypeVar("F", bound=Callable[..., Any])
WSGIApp = Callable[[Dict[str, Any], Any], Iterable[bytes]]


class Engine:
    """A LeanEngine application: cloud functions and hooks, as a WSGI app and in-process.

    >>> engine = Engine(app_id="app", app_key="key", master_key="master", hook_key="hook")
    >>> @engine.define
    ... def hello(name="world"):
    ...     return f"hello, {name}"
    >>> engine.dispatch("functions/hello", {"name": "leanorm"})
    {'result': 'hello, leanorm'}

    Functions receive their JSON parameters as keyword arguments; hooks receive the object as an
    instance of its model. Everything else about the call is :func:`leanorm.engine.current_request`,
    and the caller is ``leanorm.current_user()``. Keys not given are read from the environment
    LeanEngine sets (see :class:`~leanorm.engine.keys.EngineKeys`).

    :param app: the WSGI app that answers every other path (also settable with :meth:`wrap`)
    :param fetch_user: when a call carries only a session token, load the user (``User.become``) so
        ``current_user()`` is set; False leaves it None and only sends the token
    """

    def __init__(self, app: Optional[WSGIApp] = None, *, app_id: Optional[str] = None,
                 app_key: Optional[str] = None, master_key: Optional[str] = None,
                 hook_key: Optional[str] = None, parse_webhook_key: Optional[str] = None,
                 fetch_user: bool = True) -> None:
        self.app = app
        self.keys = EngineKeys.resolve(app_id, app_key, master_key, hook_key, parse_webhook_key)
        self.fetch_user = fetch_user
        self.declarations = Declarations()
        #: the Parse Server the legacy-login function acts on (set by :meth:`register_parse_webhooks`)
        self.parse_client: Optional[Any] = None

    # -- declaring -------------------------------------------------------------------------------------
    @overload
    def define(self, name_or_func: F) -> F: ...

    @overload
    def define(self, name_or_func: str) -> Callable[[F], F]: ...

    def define(self, name_or_func: Union[str, F]) -> Any:
        """Declare a cloud function, named after the Python function or by ``@engine.define("name")``."""
        if isinstance(name_or_func, str):
            name = name_or_func
            if not name or "/" in name:
                raise ValueError(f"invalid cloud function name {name!r}")
            return lambda func: self._declare(f"functions/{name}", func, "function")
        return self._declare(f"functions/{name_or_func.__name__}", name_or_func, "function")

    def job(self, name: str) -> Callable[[F], F]:
        """Declare ``func(**params)`` as the background job ``name`` (Parse's ``Parse.Cloud.job``). The
        embedded server starts it on ``POST jobs/NAME`` (master key only) and answers at once; the job
        runs outside the request and its ``_JobStatus`` row says how it ended: ``succeeded`` with what
        it returned as the ``message``, or ``failed`` with its error's message. See docs/engine.md."""
        if not name or "/" in name:
            raise ValueError(f"invalid job name {name!r}")
        return lambda func: self._declare(f"jobs/{name}", func, "job")

    def _class_hook(self, kind: str, model: ModelOrName) -> Callable[[F], F]:
        class_name = class_name_of(model)
        given = model if isinstance(model, type) else None
        return lambda func: self._declare(f"functions/{class_name}/{HOOKS[kind]}", func, kind, class_name, given)

    def before_save(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run before a new object of ``model`` is created; changes it makes
        are saved, raising :class:`~leanorm.errors.LeanCloudError` (or :func:`reject`) refuses the write."""
        return self._class_hook("before_save", model)

    def after_save(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run after a new object of ``model`` was created."""
        return self._class_hook("after_save", model)

    def before_update(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run before an object of ``model`` is updated
        (:func:`updated_keys` names what changes); like ``before_save`` it may change or refuse."""
        return self._class_hook("before_update", model)

    def after_update(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run after an object of ``model`` was updated."""
        return self._class_hook("after_update", model)

    def before_delete(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run before an object of ``model`` is deleted (raise to refuse)."""
        return self._class_hook("before_delete", model)

    def after_delete(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(instance)`` to run after an object of ``model`` was deleted."""
        return self._class_hook("after_delete", model)

    def on_login(self, func: F) -> F:
        """Declare ``func(user)`` to run when a user logs in (raise to refuse the login)."""
        return self._declare("functions/_User/onLogin", func, "on_login", "_User")

    def on_auth_data(self, func: F) -> F:
        """Declare ``func(auth_data) -> auth_data`` to check or rewrite third-party auth data at login;
        returning None keeps it as it is."""
        return self._declare("functions/_User/onAuthData", func, "on_auth_data", "_User")

    def on_verified(self, kind: str) -> Callable[[F], F]:
        """Declare ``func(user)`` to run after a user verified their phone (``"sms"``) or e-mail
        (``"email"``)."""
        if kind not in VERIFY_KINDS:
            raise ValueError(f"on_verified kind must be one of {VERIFY_KINDS}, not {kind!r}")
        return lambda func: self._declare(f"functions/onVerified/{kind}", func, "on_verified", "_User")

    def before_connect(self, func: F) -> F:
        """Declare ``func(request)`` to run when a live query client connects (Parse's
        ``Parse.Cloud.beforeConnect``); ``request`` is a
        :class:`~leanorm.engine.live_triggers.LiveConnectRequest` (``user``, ``session_token``,
        ``installation_id``, ``master``). Raising refuses the connection: the client gets the error."""
        return self._declare(live_trigger_path("before_connect"), func, "before_connect", CONNECT_CLASS)

    def before_subscribe(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(request)`` to run before a live query subscription to ``model`` is made
        (Parse's ``Parse.Cloud.beforeSubscribe``); ``request`` is a
        :class:`~leanorm.engine.live_triggers.LiveSubscribeRequest` whose ``where``, ``keys`` and
        ``watch`` it may change (``request.narrow(queryset)``). Raising refuses the subscription."""
        return self._live_trigger("before_subscribe", model)

    def after_live_query_event(self, model: ModelOrName) -> Callable[[F], F]:
        """Declare ``func(request)`` to run before each live query event about ``model`` is sent to a
        subscriber (Parse's ``Parse.Cloud.afterLiveQueryEvent``); ``request`` is a
        :class:`~leanorm.engine.live_triggers.LiveEventRequest`: it may change ``request.object`` and
        ``request.original`` or set ``request.send_event = False``. The server still hides from the
        subscriber what it may not read (docs/engine.md, "Live query triggers")."""
        return self._live_trigger("after_live_query_event", model)

    def _live_trigger(self, kind: str, model: ModelOrName) -> Callable[[F], F]:
        class_name = class_name_of(model)
        given = model if isinstance(model, type) else None
        return lambda func: self._declare(live_trigger_path(kind, class_name), func, kind, class_name, given)

    def hook_and_signal(self, kind: str, model: Type[Model]) -> Callable[[F], F]:
        """Declare ``func(instance)`` as the server hook ``kind`` (``"before_save"`` ... ``"after_delete"``)
        for ``model`` *and* connect it to the client-side signal of the same name, so one function
        checks writes wherever they start. Both run when a client in this process writes through a
        backend that calls this engine."""
        if kind not in HOOKS:
            raise ValueError(f"kind must be one of {sorted(HOOKS)}, not {kind!r}")
        register = self._class_hook(kind, model)

        def decorate(func: F) -> F:
            register(func)

            def receiver(sender: Any, instance: Model, **_: Any) -> None:
                func(instance)
            # weak=False: the adapter has no other reference and must live as long as the signal
            getattr(_signals, kind).connect(receiver, sender=model, weak=False)
            return func
        return decorate

    def _declare(self, key: str, func: F, kind: str, class_name: Optional[str] = None,
                 model: Optional[Type[Model]] = None) -> F:
        if not callable(func):
            raise TypeError(f"{key}: expected a function, not {func!r}")
        self.declarations.add(Declaration(key, func, kind, class_name, model))
        return func

    def register(self, other: "Engine") -> None:
        """Add every declaration of ``other`` (e.g. one engine per module); ValueError on a clash."""
        if not isinstance(other, Engine):
            raise TypeError(f"register() takes an Engine, not {other!r}")
        self.declarations.merge(other.declarations)

    # -- running ---------------------------------------------------------------------------------------
    def serving(self, server: EmbeddedServer) -> EmbeddedEngine:
        """This engine as the embedded ``server`` runs it (``EmbeddedServer(engine=...)`` and ``leanorm serve
        --engine`` call this): its functions and hooks reach that server's database through a client
        bound to it in-process, acting as their caller, whatever the process's default client is. Hooks
        sign their loop-stopping markers with the server's master key, whatever keys this engine holds."""
        return EmbeddedEngine(self, bound_client(server), server.settings.master_key)

    def has(self, path: str) -> bool:
        """Whether ``path`` (e.g. ``functions/Post/beforeSave``, ``call/hello``) is declared, so callers
        can skip hooks nobody declared."""
        return self.declarations.get(path) is not None

    def job_names(self) -> List[str]:
        """The names of the background jobs declared (``@engine.job``)."""
        return self.declarations.job_names()

    def dispatch(self, path: str, payload: Dict[str, Any], *, user: Optional[Dict[str, Any]] = None,
                 session_token: Optional[str] = None, master: bool = False, prod: bool = True,
                 remote_address: Optional[str] = None) -> Dict[str, Any]:
        """Run what ``path`` declares and return the LeanEngine answer; the one entry point.

        :param path: LeanEngine path without ``/1.1/``: ``functions/NAME``, ``call/NAME``,
            ``functions/CLASS/beforeSave`` (``afterSave``, ``beforeUpdate``, ``afterUpdate``,
            ``beforeDelete``, ``afterDelete``), ``functions/_User/onLogin``, ``functions/_User/onAuthData``,
            ``functions/onVerified/sms`` (``email``), ``functions/_ops/metadatas`` (``master`` only)
        :param payload: the request JSON: params for functions; ``{"object": {...}, "user": {...}}`` for
            hooks, the object as wire JSON as it will be stored, with ``_updatedKeys`` for updates;
            ``{"authData": {...}}`` for ``onAuthData``
        :param user: the caller as wire JSON (``_User`` with ``sessionToken``); for hooks defaults to
            ``payload["user"]``
        :param session_token: the caller's token (defaults to the user's ``sessionToken``)
        :param master: the caller used the master key (does not make the code inside use it)
        :param prod: production (True) or staging
        :return: ``{"result": ...}`` for functions, ``onLogin``, ``onVerified``, ``onAuthData`` and
            after-hooks (``"ok"``); the object to store (wire JSON, without ``className``, ``__before``,
            ``__after``, ``_updatedKeys``) for ``beforeSave``/``beforeUpdate``; ``{}`` for ``beforeDelete``
        :raises LeanCloudError: the code and message a hook or function raised; 142 when a changed field
            is invalid; 141 (status 404) when nothing is declared for ``path``; 141 (status 500) when
            the code failed unexpectedly (the exception is the ``__cause__``)
        """
        return self._run(path, payload, user=user, session_token=session_token, master=master, prod=prod,
                         remote_address=remote_address, markers=True, rich_params=False)

    def _run(self, path: str, payload: Dict[str, Any], *, markers: bool, rich_params: bool,
             user: Optional[Dict[str, Any]] = None, session_token: Optional[str] = None,
             master: bool = False, prod: bool = True, remote_address: Optional[str] = None) -> Dict[str, Any]:
        return _dispatch.run(self.declarations, path, payload, user=user, session_token=session_token,
                             master=master, prod=prod, remote_address=remote_address,
                             master_key=self.keys.master_key, fetch_user=self.fetch_user, markers=markers,
                             rich_params=rich_params)

    # -- serving ---------------------------------------------------------------------------------------
    def wrap(self, app: WSGIApp) -> "Engine":
        """Answer the engine's paths and pass every other request to ``app``; returns the engine."""
        self.app = app
        return self

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(parse_webhooks.WEBHOOK_PREFIX):
            return parse_webhooks.handle(self, environ, start_response)
        if leanengine_http.is_engine_path(path):
            return leanengine_http.handle(self, environ, start_response)
        if self.app is not None:
            return self.app(environ, start_response)
        return json_response(start_response, 404, {"code": 404, "error": f"Not found: {path}"})

    def register_parse_webhooks(self, url: str, client: Optional[Any] = None) -> List[Dict[str, str]]:
        """Register every function and trigger with a Parse Server (``client``, or the current client,
        which needs the master key), as webhooks to this engine served at ``url``; already registered
        ones are updated. Returns the hooks registered. See :mod:`leanorm.engine.parse_webhooks`."""
        return parse_webhooks.register(self, url, client)

    def __repr__(self) -> str:
        return f"<Engine {len(list(self.declarations))} declarations>"
