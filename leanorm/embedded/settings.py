"""How one embedded server is configured: :class:`Settings`, built once by ``EmbeddedServer`` from its
keywords (``leanorm serve``'s flags) and read by endpoints through their request's context
(``ctx.settings``), so a handler never needs the server itself."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol

__all__ = ["Settings", "LiveLimits", "AccountVerifier", "DEFAULT_PHONE_REGION", "DEFAULT_MAX_UPLOAD",
           "DEFAULT_MAX_OBJECT"]

#: where a phone number written without its country code is from, unless configured: LeanCloud's reading
DEFAULT_PHONE_REGION = "CN"
#: the most bytes an upload may have, unless configured (``leanorm serve --max-upload-size``)
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
#: the largest object a client stores (its document as stored, in bytes), unless configured (``leanorm serve
#: --max-object-size``). Every query of a class reads each row's document again for each condition and
#: order key, one SQLite step the request's deadline cannot cut: a 15 MB object made every find of its class
#: take seconds. MongoDB's 16 MB document limit (LeanCloud's) is for a store that indexes into documents;
#: Parse.com bounded objects at 128 KB. The master key is not bound (an import keeps what the app had).
DEFAULT_MAX_OBJECT = 1024 * 1024


class AccountVerifier(Protocol):
    """What the server needs of a third-party login provider's checker (``access.verifiers``)."""

    #: whether :meth:`verify` also proves the ``unionid`` an authData names
    checks_unionid: bool

    def verify(self, platform: str, auth_data: Mapping[str, Any]) -> None:
        """Raise a ``ProtocolError`` unless ``auth_data`` proves the account."""


@dataclass
class LiveLimits:
    """Bounds on live queries (``embedded/live/``), per server process (a ``leanorm serve`` worker);
    docs/security.md, "Live queries". The defaults are an in-process server's, whose one client is the
    app itself; ``leanorm serve`` holds its clients to 256 connections an address and 100 subscriptions
    a connection (its flags)."""

    #: live connections the process holds at once
    max_connections: int = 10_000
    #: live connections from one client address at once
    max_connections_per_address: int = 10_000
    #: subscriptions one connection holds at once
    max_subscriptions: int = 10_000
    #: the largest message a client may send, in bytes
    max_message_bytes: int = 1024 * 1024
    #: messages waiting for a connection that does not read them; beyond, the connection is closed
    max_pending: int = 1_000
    #: bytes of messages waiting for a connection that does not read them (past one message); beyond, the
    #: connection is closed: an event carries its object twice (``original``), and objects have no size
    #: bound of their own, so 1,000 messages could hold gigabytes for one stalled socket
    max_pending_bytes: int = 4 * 1024 * 1024
    #: seconds between reads of the change feed for what other processes wrote (this process's own
    #: writes wake the reader at once)
    poll_interval: float = 0.01
    #: seconds a live query trigger of cloud code (``beforeConnect``, ``beforeSubscribe``,
    #: ``afterLiveQueryEvent``) may take before its connection, subscription or event is refused (141)
    trigger_timeout: float = 5.0
    #: threads running live query triggers, so none runs on the change feed's reader (``live/triggers.py``)
    trigger_workers: int = 4
    #: seconds the change feed's reader may spend, on one change, matching the subscriptions with
    #: sub-queries (``$inQuery``, ``$select``...) of one client address: each reads other rows again at
    #: every change; past it they end with error 124 (docs/security.md, "Live queries: red-team pass")
    match_seconds: float = 0.1


@dataclass
class Settings:
    """One server's configuration. Every field has the default an in-process ``local://`` server gets;
    ``leanorm serve`` sets several from its flags (docs/embedded.md lists them)."""

    app_id: str = "leanorm-local"
    app_key: str = "leanorm-local-key"
    master_key: str = "leanorm-local-master"
    #: LeanEngine's hook key: a request carrying it (``X-LC-Hook-Key``) may skip hooks (``__ignore_hooks``)
    hook_key: Optional[str] = None
    #: which environment cloud code runs in (LeanEngine's production flag)
    prod: bool = True
    #: where a phone number written without its country code is from (``CN``: LeanCloud's reading)
    phone_region: str = DEFAULT_PHONE_REGION
    #: the most bytes an upload may have (``leanorm serve --max-upload-size``)
    max_upload_size: int = DEFAULT_MAX_UPLOAD
    #: the most bytes an object a client writes may have as stored (``leanorm serve --max-object-size``;
    #: the master key is not bound)
    max_object_size: int = DEFAULT_MAX_OBJECT
    #: the folder of uploaded files' bytes ("" when they are kept in the PostgreSQL store: ``Services.file_bytes``)
    files_dir: str = ""
    #: file URLs start with this when given; else with the address the request was sent to
    public_url: Optional[str] = None
    #: whether ``X-Forwarded-Host``/``-Proto``/``-For`` count (behind a reverse proxy that sets them)
    trust_proxy: bool = False
    #: seconds a request's reads may run in SQLite before they are interrupted (error 124); None: no limit
    #: (in-process, the app's own queries; ``leanorm serve`` sets ``budget.QUERY_TIMEOUT``)
    query_timeout: Optional[float] = None
    #: whether a signup (or a new email) is sent a verification mail (Parse's ``verifyUserEmails``)
    verify_user_emails: bool = False
    #: whether a password login of a user whose email is not verified is refused (205)
    prevent_login_with_unverified_email: bool = False
    #: whether Parse-dialect clients must send the app key; False is Parse Server's rule for an app with
    #: no client keys configured: the application id alone makes a client request (docs/security.md)
    client_key_required: bool = True
    #: whether clients without the master key may choose new objects' ids (``[A-Za-z0-9]{1,64}``)
    allow_custom_object_id: bool = False
    #: whether a write without the master key may create a class (Parse's ``allowClientClassCreation``;
    #: ``leanorm serve`` turns it off unless ``--client-class-creation``)
    client_class_creation: bool = True
    #: ``{class: {principal: [field, ...]}}``: the default ``protectedFields`` of classes that set none
    protected_fields: Dict[str, Mapping[str, List[str]]] = field(default_factory=dict)
    #: third-party login providers this server can check (``anonymous`` needs none); others are refused
    auth_verifiers: Dict[str, AccountVerifier] = field(default_factory=dict)
    #: whether ``POST push`` accepts the app key too (LeanCloud's client push switch); else master key only
    client_push: bool = False
    #: seconds before an SMS code of the same purpose can be asked for the same number again (error 601)
    sms_interval: float = 60.0
    #: a client's write creates a class only while the database holds fewer classes than this (each is a
    #: table that every new SQLite connection reads)
    max_classes: int = 1000
    #: a client's write adds a field only while its class has fewer fields than this
    max_fields: int = 1000
    #: how many of the newest messages the outbox keeps
    outbox_size: int = 10_000
    #: background jobs (``POST jobs/NAME``) one server runs at once; another is refused (155) meanwhile
    max_running_jobs: int = 2
    #: bounds on live queries
    live: LiveLimits = field(default_factory=LiveLimits)

    def client_address(self, forwarded_for: Optional[str], peer: str) -> str:
        """Who sent a request or opened a connection, for the limits kept per client (wrong code guesses,
        live connections): ``peer``, the connection's other end, or behind a trusted proxy the address the
        proxy says it forwarded for (the last one in ``X-Forwarded-For``: the one it appended). Every
        listener asks this: the realtime port took its peer alone, so behind a proxy every client shared
        the proxy's 256 connections."""
        forwarded = (forwarded_for or "") if self.trust_proxy else ""
        return forwarded.rsplit(",", 1)[-1].strip() or peer or "unknown"
