"""LeanCloud LiveQuery's realtime side: the WebSocket the leancloud-realtime SDK opens for live queries
(subprotocol ``lc.protobuf2.3``, or ``lc.proto2base64.3``), its router answer, and the connection's
client over the same change feed as Parse's LiveQuery (docs/embedded.md, "LeanCloud LiveQuery").

A connection logs in one or more installations (``login`` with ``service`` 1 and the SDK's subscription
id as ``installationId``). Before each batch of changes, the subscriptions those installations stored
(:mod:`.leancloud`) become the connection's subscriptions in the hub (:mod:`.hub`), so matching, the
read filter at each change and the session checks are the hub's, as for Parse's protocol; only the
encoding differs: each event is a ``data`` command whose message is LeanCloud's event JSON.

The WebSocket is served by the ``websockets`` library on a port of its own: granian's RSGI WebSocket
cannot answer with a subprotocol, and the SDK's WebSocket (Node's ``ws``) refuses a handshake without
the one it asked for.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import importlib
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set, Tuple

import orjson

from ..answers import ProtocolError
from ..endpoints.sessions import authenticate
from .clients import REQUEST_LIMIT, LiveClient, Subscription
from .leancloud import MAX_ID_LENGTH
from .messages import EVENTS, LiveError, error
from .outlet import LoopOutlet, Outlet
from .realtime_wire import CMD, WireError, decode, encode
from ..storage import live_subscriptions

if TYPE_CHECKING:
    from .hub import LiveQueries

__all__ = ["RealtimeClient", "RealtimeListener", "router_answer", "SUBPROTOCOLS", "ROUTER_PATH"]

log = logging.getLogger("leanorm.embedded")

#: the WebSocket subprotocols of the SDK: protobuf frames, or (``noBinary``) the same in base64 text
BINARY, BASE64 = "lc.protobuf2.3", "lc.proto2base64.3"
SUBPROTOCOLS = (BINARY, BASE64)
#: where the SDK asks for the realtime server's address (``{RTMRouter}/v1/route``)
ROUTER_PATH = "/v1/route"
#: how long the SDK keeps the router's answer, in seconds
ROUTER_TTL = 3600
#: LeanCloud's ``service`` number of LiveQuery
LIVE_QUERY_SERVICE = 1
#: LeanCloud realtime's error codes
APP_NOT_AVAILABLE, INVALID_LOGIN, NOT_SERVED = 4100, 4103, 4200
#: fields of an object a write never "updates" (``updatedKeys`` leaves them out)
_OWN = {"objectId", "createdAt", "updatedAt", "className"}


def router_answer(app_id: str, asked_app_id: Optional[str], host: str, port: int,
                  secure: bool = False) -> Optional[Dict[str, Any]]:
    """The router's answer for ``GET /v1/route?appId=``: the realtime WebSocket at ``host`` (the
    request's, without its port) on ``port`` (``wss`` when the request came over TLS through a trusted
    proxy, which must then forward that port too); None for another app's id."""
    if asked_app_id != app_id:
        return None
    server = f"{'wss' if secure else 'ws'}://{host}:{port}/"
    return {"server": server, "secondary": server, "ttl": ROUTER_TTL}


def updated_keys(original: Optional[Dict[str, Any]], obj: Dict[str, Any]) -> List[str]:
    """The fields whose value differs between what the subscriber saw before and after the write."""
    before = original or {}
    return sorted(k for k in {*before, *obj} - _OWN if before.get(k) != obj.get(k))


class _Installations:
    """The realtime connections of one hub and the installations they logged in: it loads their stored
    subscriptions into the hub before each batch of changes (``LiveQueries.before_batch``)."""

    def __init__(self, hub: "LiveQueries") -> None:
        self.hub = hub
        self.clients: "weakref.WeakSet[RealtimeClient]" = weakref.WeakSet()
        hub.before_batch.append(self.load)

    def load(self) -> None:
        clients = [c for c in list(self.clients) if not c.closed and c.installations]
        if not clients:
            return
        with self.hub.services.store.read() as conn:
            rows = live_subscriptions.of_installations(conn, sorted({i for c in clients for i in frozenset(
                c.installations)}))  # a copy: logins change the set meanwhile
        for client in clients:
            client.take(r for r in rows if r.installation_id in client.installations)


_REGISTRIES: "weakref.WeakKeyDictionary[LiveQueries, _Installations]" = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def _registry(hub: "LiveQueries") -> _Installations:
    with _REGISTRY_LOCK:
        registry = _REGISTRIES.get(hub)
        if registry is None:
            registry = _REGISTRIES[hub] = _Installations(hub)
        return registry


class RealtimeClient(LiveClient):
    """One realtime connection: LeanCloud's commands in, the hub's events out as ``data`` commands."""

    events = (*EVENTS, "login")

    def __init__(self, hub: "LiveQueries", outlet: Outlet, address: str) -> None:
        super().__init__(hub, outlet, address)
        #: frames as base64 text (``lc.proto2base64.3``) rather than bytes
        self.base64 = False
        self.installations: Set[str] = set()
        #: a stored subscription's id -> (its query id, its installation, whether it shows the ACL)
        self.queries: Dict[int, Tuple[str, str, bool]] = {}
        #: subscriptions the hub ended (their session did): not loaded again
        self.ended: Set[int] = set()
        #: whether the client was told its installations hold more subscriptions than it hears
        self.over_bound = False
        self._data_serial = 0
        self._registry = _registry(hub)

    # -- subscriptions, from the store --------------------------------------------------------------------
    def take(self, rows: Iterable[live_subscriptions.Stored]) -> None:
        """Make the installations' stored subscriptions this connection's (called before each batch): the
        oldest ``max_subscriptions`` of them, as a Parse connection holds at most that many. (Each
        installation holds that many, and a connection logs in as many installations: 10,000 on one
        socket, each heard again by every socket logging in the same ids, made the reader load and match
        millions per batch.) The first time some are left out the client is told (155)."""
        bound = self.hub.limits.max_subscriptions
        live = sorted((r for r in rows if r.id not in self.ended), key=lambda r: r.id)
        if len(live) > bound and not self.over_bound:
            self.over_bound = True
            self._reply({"cmd": CMD["error"], "errorMessage": {"code": REQUEST_LIMIT, "reason": (
                f"A connection hears at most {bound} subscriptions of the installations it logged in; "
                f"the newest {len(live) - bound} are not heard.")}})
        wanted = {r.id: r for r in live[:bound]}
        for request_id in [i for i in self.subscriptions if i not in wanted]:
            self.hub.unsubscribe(self, request_id)
            self.queries.pop(request_id, None)
        for row in wanted.values():
            held = self.subscriptions.get(row.id)
            if held is not None and held.token == row.token and held.caller.master == row.master \
                    and held.since == row.since:
                continue
            try:
                caller = authenticate(self.hub.services.store, row.token, row.master)
            except ProtocolError:  # the session ended before any change: nothing to hear
                self.ended.add(row.id)
                continue
            query = row.query
            self.queries[row.id] = (row.query_id, row.installation_id, bool(query.get("returnACL")))
            self.hub.subscribe(self, Subscription(row.id, query["className"], query["where"], query.get("keys"),
                                                  None, row.token, caller, row.since))

    # -- out -------------------------------------------------------------------------------------------
    def _frame(self, command: Dict[str, Any]) -> bytes:
        data = encode(command)
        return base64.b64encode(data) if self.base64 else data

    def encode(self, message: Dict[str, Any]) -> bytes:
        """The hub's last word to a connection it ends (it fell behind, or the client did not read):
        ``goaway``, after which the SDK connects again and subscribes again."""
        return self._frame({"cmd": CMD["goaway"]})

    def _reply(self, command: Dict[str, Any]) -> None:
        if not self.outlet.put(self._frame(command)):
            self.hub.drop(self, error(REQUEST_LIMIT, "Messages were not read."))

    def send(self, message: Dict[str, Any]) -> None:
        """An event of the hub (Parse's shape) as LeanCloud's ``data`` command; an error ends the
        subscription it names (its session ended: LeanCloud's protocol has no message for it)."""
        request_id = message.get("requestId")
        if message["op"] == "error":
            if isinstance(request_id, int):
                self.ended.add(request_id)
            return
        meta = self.queries.get(request_id) if isinstance(request_id, int) else None
        if meta is None:
            return
        query_id, installation, with_acl = meta
        obj = message["object"] if with_acl else {k: v for k, v in message["object"].items() if k != "ACL"}
        event: Dict[str, Any] = {"op": message["op"], "object": obj, "query_id": query_id}
        if message["op"] in ("update", "enter", "leave"):
            event["updatedKeys"] = updated_keys(message.get("original"), message["object"])
        self._data_serial += 1
        self._reply({"cmd": CMD["data"], "appId": self.hub.services.settings.app_id, "installationId": installation,
                     "service": LIVE_QUERY_SERVICE, "dataMessage": {
                         "ids": [f"{installation}-{self._data_serial}"],
                         "msg": [{"data": orjson.dumps(event).decode()}]}})

    # -- in --------------------------------------------------------------------------------------------
    def receive(self, data: Any) -> None:
        """Handle one frame the client sent (bytes, or base64 text)."""
        with self._lock:
            try:
                if isinstance(data, str):
                    data = base64.b64decode(data, validate=True)
                if len(data) > self.hub.limits.max_message_bytes:
                    raise WireError("frame too large")
                command = decode(data)
            except (WireError, binascii.Error, ValueError):
                self._reply({"cmd": CMD["error"], "errorMessage": {"code": NOT_SERVED,
                                                                  "reason": "Malformed command."}})
                return
            self._command(command)

    def _command(self, command: Dict[str, Any]) -> None:
        cmd, serial = command.get("cmd", 0), command.get("i")
        answer: Dict[str, Any] = {"i": serial}
        if cmd == CMD["echo"]:
            self._reply({"cmd": CMD["echo"], **answer})
        elif cmd == CMD["ack"]:
            pass  # delivery is at most once: nothing is kept to send again
        elif cmd in (CMD["login"], CMD["logout"]) and command.get("service") == LIVE_QUERY_SERVICE:
            installation = command.get("installationId")
            answer.update(appId=command.get("appId"), installationId=installation, service=LIVE_QUERY_SERVICE)
            refusal = self._login(command) if cmd == CMD["login"] else None
            if cmd == CMD["logout"]:
                self.installations.discard(installation)
            if refusal is not None:
                self._reply({"cmd": CMD["error"], "i": serial, "errorMessage": refusal})
            else:
                self._reply({"cmd": CMD["loggedin" if cmd == CMD["login"] else "loggedout"], **answer})
        else:  # IM: sessions, conversations, messages (docs/embedded.md says why not)
            self._reply({"cmd": CMD["error"], "i": serial, "errorMessage": {
                "code": NOT_SERVED, "reason": "Only LiveQuery (service 1) is served here: IM is not."}})

    def _login(self, command: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        installation = command.get("installationId")
        if command.get("appId") != self.hub.services.settings.app_id:
            return {"code": APP_NOT_AVAILABLE, "reason": "App not exists."}
        if not isinstance(installation, str) or not installation or len(installation) > MAX_ID_LENGTH:
            return {"code": INVALID_LOGIN, "reason": "Malformed installationId."}
        if installation not in self.installations and len(self.installations) >= self.hub.limits.max_subscriptions:
            return {"code": REQUEST_LIMIT, "reason": f"A connection logs in at most "
                                                     f"{self.hub.limits.max_subscriptions} installations."}
        self.installations.add(installation)
        self.id = self.id or installation  # the hub delivers to connected clients: this one is
        self._registry.clients.add(self)
        return None


class RealtimeListener:
    """The realtime WebSocket of one worker process: the ``websockets`` library on its own thread and
    event loop, at ``host:port`` (shared by the workers with ``SO_REUSEPORT``); each connection a
    :class:`RealtimeClient` of ``hub``."""

    def __init__(self, hub: "LiveQueries", host: str, port: int, threads: int = 2,
                 login_timeout: float = 30.0) -> None:
        self.hub, self.host, self.port = hub, host, port
        #: seconds a connection has to log in an installation: one that never does would hold its slot
        self.login_timeout = login_timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leanorm-rtm")
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopped: Optional[asyncio.Future[None]] = None
        self._ready = threading.Event()
        #: why it could not listen (raised by :meth:`start`)
        self._failure: Optional[OSError] = None
        self._thread = threading.Thread(target=self._run, name="leanorm-realtime", daemon=True)

    def start(self) -> None:
        """Listen (returns once the port is bound; OSError when it cannot be)."""
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        """Stop listening (connections still open end with the process)."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set_result, None)
        self._thread.join(timeout=5)
        self.pool.shutdown(wait=False)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        # websockets (the cli extra) is imported by name when a realtime port is served
        serve = importlib.import_module("websockets.asyncio.server").serve
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        try:
            server = await serve(self._connection, self.host, self.port, subprotocols=list(SUBPROTOCOLS),
                                 max_size=self.hub.limits.max_message_bytes, reuse_port=True)
        except OSError as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        async with server:
            await self._stopped

    async def _connection(self, ws: Any) -> None:
        if ws.subprotocol not in SUBPROTOCOLS:
            await ws.close(1002, "subprotocol lc.protobuf2.3 or lc.proto2base64.3 expected")
            return
        loop = asyncio.get_running_loop()
        outlet = LoopOutlet(loop, self.hub.limits.max_pending, self.hub.limits.max_pending_bytes)
        try:
            address = self.hub.services.settings.client_address(
                ",".join(ws.request.headers.get_all("X-Forwarded-For")), str((ws.remote_address or ("",))[0]))
            client = self.hub.open(outlet, address, client_type=RealtimeClient)
        except LiveError as exc:
            await ws.close(1008, exc.message[:120])
            return
        assert isinstance(client, RealtimeClient)
        client.base64 = ws.subprotocol == BASE64
        writer = asyncio.ensure_future(self._write(ws, outlet, client.base64))
        deadline = loop.time() + self.login_timeout
        try:
            while not client.closed:
                wait = None if client.id is not None else max(0.0, deadline - loop.time())
                data = await asyncio.wait_for(ws.recv(), wait)
                await loop.run_in_executor(self.pool, client.receive, data)
        except asyncio.TimeoutError:
            self.hub.drop(client, error(INVALID_LOGIN, "Not logged in in time."))
        except Exception:  # noqa: BLE001 - the connection broke: it ends
            pass
        finally:
            self.hub.close(client)
            await writer

    @staticmethod
    async def _write(ws: Any, outlet: LoopOutlet, text: bool) -> None:
        try:
            while True:
                data = await outlet.get()
                if data is None:
                    break
                await ws.send(data.decode() if text else data)
        except Exception:  # noqa: BLE001 - the client is gone
            pass
        finally:
            outlet.closed = True
            await ws.close()
