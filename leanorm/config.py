"""``connect()``: pick a backend by URL (or keywords) and make it the default client.

URL forms::

    local:///path/app.sqlite3     embedded backend in a SQLite file (``local://app.sqlite3``: relative)
    local://:memory:              embedded backend in memory
    local+postgresql://USER:PASSWORD@host:5432/db   embedded backend on a PostgreSQL database
    parse://APP_ID:REST_KEY@host:1337/parse?master_key=...        Parse Server over http
    parse+https://...             Parse Server over https
    leancloud://APP_ID:APP_KEY@api.example.com?master_key=...     LeanCloud over https
    leancloud+http://...          a LeanCloud-dialect server over plain http (e.g. ``leanorm serve``)

Query options: ``master_key``, ``sign=1`` (LeanCloud request signing), ``timeout`` (seconds for a whole
request, retries included), ``identity_ttl`` / ``identity_size`` (identity map), ``client_ids=1`` (creates
carry client-made objectIds), ``live_url`` (the WebSocket URL of the LiveQuery server, docs/live.md; a
``parse:`` URL's default is its own host and path over ``ws``/``wss``, a ``leancloud:`` URL has none, and
a ``local:`` client's live queries run in-process), and for ``local:`` ``dialect=parse`` (speak the Parse dialect to the
embedded backend), ``app_id``, ``app_key``. The same settings given as keywords of :func:`connect` win
over the URL's.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import threading
import warnings
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Type
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .auth_context import current_user, using_master
from .client import Client
from .errors import ConfigurationError
from .live_connection import checked_live_url, in_process_connector, live_url_for, websocket_connector
from .protocol.dialects import dialect_named
from .transport import HTTPTransport, LocalTransport, Transport

if TYPE_CHECKING:  # pragma: no cover
    from .embedded import EmbeddedServer

__all__ = ["connect", "get_client", "using", "using_master", "current_user", "DEFAULT_URL", "parse_url",
           "ImplicitBackendWarning", "embedded_server_class"]

#: what ``connect()`` uses with no argument and no ``LEANORM_URL``: a SQLite file in the working directory
DEFAULT_URL = "local://leanorm.sqlite3"
#: the embedded server, loaded by name on the first ``local:`` connect only, so that a client of Parse
#: Server or LeanCloud never imports it or what it needs (RE2, the upload-form parser)
EMBEDDED_SERVER_MODULE = "leanorm.embedded"
LOCAL_APP_ID, LOCAL_APP_KEY, LOCAL_MASTER_KEY = "leanorm-local", "leanorm-local-key", "leanorm-local-master"

#: connect()'s numeric settings when neither its keywords nor the URL give them (one place for both forms)
_DEFAULTS: Dict[str, Any] = {"timeout": 30.0, "identity_ttl": 60.0, "identity_size": 10_000}

_default: Optional["Client"] = None
_default_lock = threading.Lock()
_override: ContextVar[Optional["Client"]] = ContextVar("leanorm_client", default=None)


def parse_url(url: str) -> Dict[str, Any]:
    """Split a backend URL into the keywords of :func:`connect` (see the module docs for the forms)."""
    parts = urlsplit(url)
    scheme, _, transport = parts.scheme.partition("+")
    options = dict(parse_qsl(parts.query))
    common: Dict[str, Any] = {
        "master_key": options.pop("master_key", None),
        "sign": options.pop("sign", "0").lower() in ("1", "true", "yes"),
        "timeout": float(options.pop("timeout", _DEFAULTS["timeout"])),
        "identity_ttl": float(options.pop("identity_ttl", _DEFAULTS["identity_ttl"])),
        "identity_size": int(options.pop("identity_size", _DEFAULTS["identity_size"])),
        "client_ids": options.pop("client_ids", "0").lower() in ("1", "true", "yes"),
        "live_url": options.pop("live_url", None),
    }
    if scheme == "local" and transport in ("postgresql", "postgres"):
        # the embedded server on a PostgreSQL database: the rest of the URL (and options leanorm does not
        # take, such as sslmode) is the database's
        cfg = {"dialect": options.pop("dialect", "leancloud"),
               "app_id": options.pop("app_id", LOCAL_APP_ID), "app_key": options.pop("app_key", LOCAL_APP_KEY),
               **common}
        cfg["database"] = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(options), ""))
        cfg["master_key"] = cfg["master_key"] or LOCAL_MASTER_KEY
        options = {}
    elif scheme == "local":
        location = unquote(parts.netloc + parts.path) or "leanorm.sqlite3"
        cfg = {"database": location, "dialect": options.pop("dialect", "leancloud"),
               "app_id": options.pop("app_id", LOCAL_APP_ID), "app_key": options.pop("app_key", LOCAL_APP_KEY),
               **common}
        cfg["master_key"] = cfg["master_key"] or LOCAL_MASTER_KEY
    elif scheme in ("parse", "leancloud"):
        if not parts.username or parts.password is None:
            raise ValueError(f"{scheme} URL needs APP_ID:KEY@host: {url!r}")
        http = transport or ("http" if scheme == "parse" else "https")
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        prefix = parts.path if scheme == "parse" else (parts.path or "/1.1/")
        cfg = {"server_url": f"{http}://{netloc}", "prefix": prefix or "/parse/", "dialect": scheme,
               "app_id": unquote(parts.username), "app_key": unquote(parts.password), **common}
    else:
        raise ValueError(f"unknown backend URL scheme {parts.scheme!r} in {url!r}; "
                         "expected local:, parse:, parse+https:, leancloud:, leancloud+http:")
    if options:
        raise ValueError(f"unknown options in backend URL: {', '.join(sorted(options))}")
    return cfg


def connect(url: Optional[str] = None, *, app_id: Optional[str] = None, app_key: Optional[str] = None,
            master_key: Optional[str] = None, server_url: Optional[str] = None, dialect: Optional[str] = None,
            prefix: Optional[str] = None, database: Optional[str] = None, sign: Optional[bool] = None,
            timeout: Optional[float] = None, identity_ttl: Optional[float] = None,
            identity_size: Optional[int] = None, client_ids: Optional[bool] = None,
            live_url: Optional[str] = None, engine: Any = None, default: bool = True) -> "Client":
    """Connect to a backend and (unless ``default=False``) make it the default for every model.

    With no URL and no keywords: ``$LEANORM_URL``, else the embedded backend in ``./leanorm.sqlite3``.
    Keywords describe a remote server (``server_url`` + ``app_id``/``app_key``/``master_key`` +
    ``dialect``) or an embedded one (``database``). ``engine`` (a :class:`leanorm.engine.Engine`) gives
    the embedded backend the cloud functions and hooks to run.

    The settings ``master_key``, ``sign``, ``timeout`` (seconds for a whole request: connect, send, read
    and retries; default 30), ``identity_ttl`` (default 60), ``identity_size`` (default 10,000) and
    ``client_ids`` (creates carry client-made objectIds; default off) and ``live_url`` (the LiveQuery
    server's ``ws://``/``wss://`` URL; for Parse Server its own host and path by default) apply with a URL
    too, over the URL's own; keywords that name another server (``server_url``, ``database``, ``app_id``, ``app_key``,
    ``dialect``, ``prefix``) are refused with a URL.
    """
    settings = {"master_key": master_key, "sign": sign, "timeout": timeout, "identity_ttl": identity_ttl,
                "identity_size": identity_size, "client_ids": client_ids, "live_url": live_url}
    _check_settings(settings)
    if url is None and server_url is None and database is None:
        url = os.environ.get("LEANORM_URL") or _default_url()
    if url is not None:
        clashing = [name for name, value in (("server_url", server_url), ("database", database),
                                             ("app_id", app_id), ("app_key", app_key), ("dialect", dialect),
                                             ("prefix", prefix)) if value is not None]
        if clashing:
            raise ValueError(f"connect() got a URL and {', '.join(clashing)}: give the server one way, "
                             "the URL or the keywords")
        cfg = parse_url(url)
        cfg.update((name, value) for name, value in settings.items() if value is not None)
    else:
        cfg = {"server_url": server_url, "database": database, "app_id": app_id, "app_key": app_key,
               "master_key": master_key, "dialect": dialect or "leancloud", "prefix": prefix,
               "sign": bool(sign), "client_ids": bool(client_ids), "live_url": live_url,
               **{name: default if settings[name] is None else settings[name]
                  for name, default in _DEFAULTS.items()}}
        if database is not None:
            cfg["app_id"] = app_id or LOCAL_APP_ID
            cfg["app_key"] = app_key or LOCAL_APP_KEY
            cfg["master_key"] = master_key or LOCAL_MASTER_KEY
        elif not (app_id and app_key):
            raise ValueError("connect(server_url=...) needs app_id and app_key")
    transport: Transport
    if cfg.get("live_url") and cfg.get("database") is not None:
        raise ValueError("live_url is for a server reached over HTTP; the embedded backend is in this process "
                         "and so are its live queries")
    if engine is not None and cfg.get("database") is None:
        raise ValueError("engine= is for the embedded backend; remote servers call the engine over HTTP")
    if cfg.get("database") is not None:
        # the app's own process is the only client: it may choose objectIds (safe retries, imports)
        server_class = embedded_server_class()
        server = server_class(cfg["database"], app_id=cfg["app_id"], app_key=cfg["app_key"],
                              master_key=cfg["master_key"], engine=engine, allow_custom_object_id=True)
        transport = LocalTransport(server)
        backend = "embedded"
        extra = server_class.capabilities
        shown = f"local://{cfg['database']}"
    else:
        transport = HTTPTransport(cfg["server_url"], timeout=cfg["timeout"])
        backend = cfg["dialect"]
        extra = frozenset()
        shown = cfg["server_url"]
    client = Client(transport, dialect_named(cfg["dialect"], cfg.get("prefix")), cfg["app_id"], cfg["app_key"],
                    cfg["master_key"], sign=cfg["sign"], backend=backend, url=shown,
                    identity_ttl=cfg["identity_ttl"], identity_size=cfg["identity_size"], capabilities=extra,
                    client_ids=cfg["client_ids"])
    if cfg.get("database") is not None:
        _reach_in_process(client, server)
    else:
        live = checked_live_url(cfg.get("live_url")) or (
            live_url_for(cfg["server_url"], client.dialect.prefix) if cfg["dialect"] == "parse" else None)
        if live:
            client.live_connector = websocket_connector(live)
    if default:
        global _default
        with _default_lock:
            _default = client
    return client


def embedded_server_class() -> Type["EmbeddedServer"]:
    """:class:`leanorm.embedded.EmbeddedServer`, imported on first use (the one import leanorm makes by name:
    see :data:`EMBEDDED_SERVER_MODULE`); a clear error when its dependencies are not installed."""
    try:
        module = importlib.import_module(EMBEDDED_SERVER_MODULE)
    except ImportError as exc:
        raise ConfigurationError(f"the embedded backend (local:) needs {exc.name!r}: "
                                 "pip install 'leanorm[embedded]'") from exc
    server_class: Type["EmbeddedServer"] = module.EmbeddedServer
    return server_class


def bound_client(server: "EmbeddedServer") -> Client:
    """A client of the embedded ``server``, in-process, with its keys (its hook key too); closing it
    leaves the server open (the server's owner closes it)."""
    client = Client(LocalTransport(server, owned=False), dialect_named("leancloud"), server.settings.app_id, server.settings.app_key,
                    server.settings.master_key, backend="embedded", url=f"local://{server.store.database}",
                    capabilities=type(server).capabilities)
    _reach_in_process(client, server)
    client.hook_key = server.settings.hook_key  # the server's cloud code acts with the server's keys
    return client


def _reach_in_process(client: Client, server: "EmbeddedServer") -> None:
    """Make ``client`` reach ``server`` in this process for what only it can do, live queries included
    (its connections, without a socket)."""
    client.embedded_server = server
    client.live_connector = in_process_connector(server.live_connection)


def _check_settings(settings: Dict[str, Any]) -> None:
    """Refuse impossible settings before anything connects."""
    timeout, ttl, size = settings["timeout"], settings["identity_ttl"], settings["identity_size"]
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout is a positive number of seconds, not {timeout!r}")
    if ttl is not None and not (isinstance(ttl, (int, float)) and ttl >= 0):
        raise ValueError(f"identity_ttl is a number of seconds (0 turns the identity map off), not {ttl!r}")
    if size is not None and not (isinstance(size, int) and size >= 0):
        raise ValueError(f"identity_size is a number of objects, not {size!r}")


class ImplicitBackendWarning(UserWarning):
    """``connect()`` was called without a URL and ``LEANORM_URL`` is not set: the embedded backend in
    ``./leanorm.sqlite3`` is used (a production app missing its variable would write there)."""


_warned_default_url = False


def _default_url() -> str:
    """:data:`DEFAULT_URL`, said once per process: a missing ``LEANORM_URL`` must not go unnoticed."""
    global _warned_default_url
    if not _warned_default_url:
        _warned_default_url = True
        warnings.warn(f"leanorm.connect() without a URL and without LEANORM_URL: using the embedded backend in "
                      f"{os.path.abspath('leanorm.sqlite3')} (pass a URL or set LEANORM_URL to say which backend)",
                      ImplicitBackendWarning, stacklevel=3)
    return DEFAULT_URL


def get_client(client: Optional[Client] = None, instance_client: Optional[Client] = None) -> Client:
    """The client a call uses, decided here and only here: ``client`` when the call was given one, else
    the one set by :func:`using`, else ``instance_client`` (the client an instance was loaded or saved
    through, for the instance's own writes), else the default one :func:`connect` made. With nothing
    connected it refuses (:class:`~leanorm.errors.ConfigurationError`) rather than pick a backend nobody
    named."""
    if client is not None:
        return client
    client = _override.get()
    if client is not None:
        return client
    if instance_client is not None:
        return instance_client
    if _default is None:
        raise ConfigurationError("no backend: call leanorm.connect(URL) (or leanorm.connect() with LEANORM_URL "
                                 "set) before the first query")
    return _default


@contextlib.contextmanager
def using(client: "Client") -> Iterator["Client"]:
    """Send the block's requests through ``client`` (for this thread/task only), e.g. to copy data
    between backends."""
    reset = _override.set(client)
    try:
        yield client
    finally:
        _override.reset(reset)
