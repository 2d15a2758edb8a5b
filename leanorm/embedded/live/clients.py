"""One live connection's side of the protocol: ``connect``, ``subscribe``, ``update``, ``unsubscribe``.

A connection is checked at ``connect``: the application id, a client key unless the server takes the id
alone (``client_key_required``), or the master key; a session token must be one the server knows and
has not expired (error 209). Each subscription is checked when it is made, as a find with its ``where``
would be: the class-level permission (``get`` for a ``where`` of one objectId, else ``find``), the
``where`` compiled under the subscriber's rights (a protected field in it or in ``watch``: 119). What it
then receives passes the read filter at each change (:mod:`.hub`).
"""
from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import orjson

from ...protocol.dialects import same_secret
from ..access.authz import ReadPolicy
from ..answers import ProtocolError
from ..budget import Budget, OverBudget
from ..caller import Caller
from ..endpoints.sessions import authenticate
from ..storage.interface import Store
from ..storage.query_compiler import QueryCompiler, reads_other_rows
from ..storage.store import check_class_name
from ..storage.values import canonical
from .matching import queried_fields
from .messages import BAD_KEYS, EVENTS, INVALID_MESSAGE, NOT_CONNECTED, LiveError, check_request, error
from .outlet import Outlet
from .triggers import CONNECT, EventLine, subscription_query

if TYPE_CHECKING:  # the hub holds the clients
    from .hub import LiveQueries

__all__ = ["LiveClient", "Subscription", "REQUEST_LIMIT", "HELD_TOGETHER", "check_subscription"]

#: Parse's code for a request over a limit (``Parse.Error.REQUEST_LIMIT_EXCEEDED``)
REQUEST_LIMIT = 155
#: the fields a subscription's ``keys`` (and ``watch``) may name: each change walks ``watch``, and a class
#: holds at most this many fields from clients (``Settings.max_fields``)
MAX_QUERY_FIELDS = 1000
#: whose budget the ``where`` of subscriptions held together charge (as its errors name it)
HELD_TOGETHER = "a live connection's (or LeanCloud installation's) subscriptions together"


class Subscription:
    """One query a connection subscribed to, with who it reads as (refreshed when roles change)."""

    __slots__ = ("request_id", "class_name", "where", "keys", "watch", "token", "caller", "operation", "plain",
                 "where_text", "since", "queried")

    def __init__(self, request_id: int, class_name: str, where: Dict[str, Any], keys: Optional[List[str]],
                 watch: Optional[List[str]], token: Optional[str], caller: Caller, since: int = 0) -> None:
        self.request_id, self.class_name, self.where = request_id, class_name, where
        #: the fields its events show (besides the object's own); None: all
        self.keys = None if keys is None else frozenset(keys)
        self.watch, self.token, self.caller = watch, token, caller
        #: the feed's position when it was made: it hears the changes after it only (a reader that is
        #: behind, polling for another worker's writes, reads older ones after the subscription)
        self.since = since
        #: the class-level permission its reads need: Parse's ``get`` for one objectId, else ``find``
        self.operation = "get" if set(where) == {"objectId"} and isinstance(where["objectId"], str) else "find"
        #: whether the ``where`` reads only the object (then it is the same condition whoever subscribed)
        self.plain = not reads_other_rows(where)
        self.where_text = canonical(where)
        #: the object's fields its ``where`` and ``watch`` read: each must stay visible to its subscriber
        self.queried = queried_fields(where) | frozenset(field.split(".")[0] for field in watch or ())


def check_subscription(store: Store, policy: ReadPolicy, subscription: Subscription,
                       held: Sequence[Tuple[str, Dict[str, Any]]] = ()) -> None:
    """Refuse a subscription its subscriber may not make (``policy`` reads as it): as a find with its
    ``where`` would be refused (the class-level permission, 102 for a ``where`` that does not compile,
    119 for a protected field in it or in ``watch``). ``held``: the ``(className, where)`` of the
    subscriptions held with it (its connection's, or its installation's), which it joins: every ``where``
    runs again at every change of its class, so what they ask together is one request's budget (102
    naming the bound, :data:`HELD_TOGETHER`). Every protocol's subscribe goes through it."""
    class_name, caller = subscription.class_name, subscription.caller
    for name, fields in (("keys", subscription.keys), ("watch", subscription.watch)):
        if fields is not None and len(fields) > MAX_QUERY_FIELDS:  # (a class holds no more fields)
            raise OverBudget(f"Invalid query: a subscription's {name} names at most {MAX_QUERY_FIELDS} fields.")
    policy.permit(class_name, subscription.operation)
    for field in subscription.watch or ():
        policy.check_key(class_name, field)
    with store.read() as conn:
        QueryCompiler(store, conn, caller, "parse", policy).where(class_name, "t0", subscription.where)
        together = Budget(holder=HELD_TOGETHER)
        for held_class, where in (*held, (class_name, subscription.where)):
            try:  # (the rights were checked when each was made: here only what it costs is counted)
                QueryCompiler(store, conn, Caller(master=True), "parse", budget=together).where(held_class, "t0",
                                                                                              where)
            except ProtocolError:
                continue  # a held ``where`` that no longer compiles matches nothing: it costs nothing


class LiveClient:
    """One live connection (a WebSocket, an in-process connection): its keys, session and
    subscriptions. :meth:`receive` takes each message the client sends (in a thread that may block on
    the store); what it answers, and the events, go out through its :class:`Outlet`."""

    #: the events its protocol has (Parse's; LeanCloud's adds ``login``)
    events: Tuple[str, ...] = EVENTS

    def __init__(self, hub: "LiveQueries", outlet: Outlet, address: str) -> None:
        self.hub, self.outlet, self.address = hub, outlet, address
        #: set by ``connect``
        self.id: Optional[str] = None
        self.master = False
        self.installation_id: Optional[str] = None
        self.token: Optional[str] = None
        self.subscriptions: Dict[int, Subscription] = {}
        self.closed = False
        #: its events in commit order, some waiting for cloud code's ``afterLiveQueryEvent``
        self.line = EventLine(self, hub.triggers)
        self._lock = threading.Lock()  # one message at a time

    # -- out -------------------------------------------------------------------------------------------
    def send(self, message: Dict[str, Any]) -> None:
        """Send one message; a client that leaves ``max_pending`` messages (or ``max_pending_bytes``)
        unread is disconnected."""
        if self.installation_id is not None and message["op"] != "error":
            message["installationId"] = self.installation_id
        if not self.outlet.put(self.encode(message)):
            limits = self.hub.limits
            self.hub.drop(self, error(REQUEST_LIMIT, f"More than {limits.max_pending} messages, or "
                                                     f"{limits.max_pending_bytes} bytes, were not read: the "
                                                     "connection is closed.", reconnect=True))

    def encode(self, message: Dict[str, Any]) -> bytes:
        """A message as it goes over the connection (JSON text here; another protocol encodes its own)."""
        return orjson.dumps(message)

    # -- in --------------------------------------------------------------------------------------------
    def receive(self, data: Any) -> None:
        """Handle one message as it came off the connection (JSON text or bytes, or a decoded object)."""
        with self._lock:
            try:
                self._handle(self._decoded(data))
            except LiveError as exc:
                self.send(exc.as_message())

    def _decoded(self, data: Any) -> Any:
        if isinstance(data, (str, bytes, bytearray)):
            if len(data) > self.hub.limits.max_message_bytes:
                raise LiveError(INVALID_MESSAGE, f"Message too large: at most {self.hub.limits.max_message_bytes} "
                                                 "bytes.")
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                raise LiveError(INVALID_MESSAGE, "Invalid message: not JSON.") from None
        return data

    def _handle(self, message: Any) -> None:
        request = check_request(message)
        op = request["op"]
        if op == "connect":
            self._connect(request)
            return
        request_id = request["requestId"]
        if self.id is None:
            raise LiveError(NOT_CONNECTED, "Can not find this client, make sure you connect to server before "
                                           f"{'subscribing' if op != 'unsubscribe' else 'unsubscribing'}",
                            reconnect=True)
        try:
            if op == "unsubscribe":
                self._unsubscribe(request_id)
                self.send({"op": "unsubscribed", "clientId": self.id, "requestId": request_id})
            else:  # subscribe, or update: the same request id subscribed to another query
                self._subscribe(request)
        except ProtocolError as exc:
            raise LiveError(exc.code, exc.message, request_id=request_id) from None
        except OverBudget as exc:  # a ``where`` asking more than its budget: refused, naming the bound
            raise LiveError(exc.code, str(exc), request_id=request_id) from None
        except LiveError as exc:
            exc.request_id = request_id
            raise

    def _connect(self, request: Dict[str, Any]) -> None:
        settings = self.hub.services.settings
        if self.id is not None:
            raise LiveError(INVALID_MESSAGE, "This connection is connected already.")
        master = "masterKey" in request and same_secret(request["masterKey"], settings.master_key)
        client_key = any(same_secret(request.get(k), settings.app_key) for k in
                         ("javascriptKey", "clientKey", "restAPIKey", "windowsKey") if request.get(k))
        if request["applicationId"] != settings.app_id or ("masterKey" in request and not master) or not (
                master or client_key or not settings.client_key_required):
            raise LiveError(BAD_KEYS, "Key in request is not valid")
        token = request.get("sessionToken")
        store, triggers = self.hub.services.store, self.hub.triggers
        if triggers.declared(CONNECT):  # before the token is refused, as Parse Server runs it (user None then)
            triggers.call(CONNECT, {**self._about(token, master), "event": "connect",
                                    "installationId": request.get("installationId")},
                          authenticate(store, token, master, tolerant=True))
        try:
            authenticate(store, token, master)  # 209 for a token the server does not know
        except ProtocolError as exc:
            raise LiveError(exc.code, exc.message) from None
        self.master, self.token, self.installation_id = master, token, request.get("installationId")
        self.id = uuid.uuid4().hex
        self.send({"op": "connected", "clientId": self.id})

    def _subscribe(self, request: Dict[str, Any]) -> None:
        request_id, query = request["requestId"], request["query"]
        if request_id not in self.subscriptions and len(self.subscriptions) >= self.hub.limits.max_subscriptions:
            raise LiveError(REQUEST_LIMIT, f"Too many subscriptions: a connection holds at most "
                                           f"{self.hub.limits.max_subscriptions}.")
        token = request.get("sessionToken") or self.token
        store = self.hub.services.store
        since = store.latest_change()  # what is committed from here on is heard
        caller = authenticate(store, token, self.master)  # 209: unknown or expired
        class_name = check_class_name(query["className"])
        query = subscription_query(self.hub.services, self.hub.triggers.call, caller,
                                   {**query, "className": class_name},
                                   {**self._about(token, self.master), "requestId": request_id})
        where = query["where"]
        subscription = Subscription(request_id, class_name, where, query.get("keys") or query.get("fields"),
                                    query.get("watch"), token, caller, since)
        held = [(s.class_name, s.where) for held_id, s in self.subscriptions.items() if held_id != request_id]
        check_subscription(store, ReadPolicy(self.hub.context(caller)), subscription, held)
        self.hub.subscribe(self, subscription, {"op": "subscribed", "clientId": self.id, "requestId": request_id})

    def _about(self, token: Optional[str], master: bool) -> Dict[str, Any]:
        """What every live query trigger is told about this connection."""
        clients, subscriptions = self.hub.counts()
        return {"sessionToken": token, "installationId": self.installation_id, "useMasterKey": master,
                "clients": clients, "subscriptions": subscriptions}

    def _unsubscribe(self, request_id: int) -> None:
        if not self.hub.unsubscribe(self, request_id):
            raise LiveError(NOT_CONNECTED, f"Cannot find subscription with clientId {self.id} subscriptionId "
                                           f"{request_id}. Make sure you subscribe to live query server before "
                                           "unsubscribing.")
