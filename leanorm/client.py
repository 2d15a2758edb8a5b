"""The Client: every request of the ORM goes through one.

It builds the request for its :class:`~leanorm.protocol.dialects.Dialect` (prefix, auth headers from the current
auth context), sends it through its :class:`~leanorm.transport.Transport`, decodes the JSON answer and
turns protocol errors into typed exceptions. It also owns the identity map, partitioned by unit of work
and auth identity (see ``leanorm.identity``).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union

import orjson

from . import auth_context, transactions
from .aio import await_only, bridged
from .protocol.dialects import Dialect
from .errors import (ConfigurationError, LeanCloudError, LeanORMError, NotSent, NotSupported, OutcomeUnknown,
                     TransactionFailed, TransportError, error_for)
from .identity import IdentityMap
from .transport import Body, Request, Transport

if TYPE_CHECKING:  # pragma: no cover
    from .live_connection import Connector
    from .live_session import Backoff
    from .embedded import EmbeddedServer

__all__ = ["Client", "BatchItem", "BatchResult", "BatchOutcome"]

#: one batch operation: (method, path under the prefix, body or None)
BatchItem = Tuple[str, str, Optional[Mapping[str, Any]]]
#: one batch outcome: the ``success`` JSON, or the error it failed with
BatchResult = Union[Dict[str, Any], LeanCloudError]
#: one batch outcome as :meth:`Client.batch_outcomes` reports it: also NotSent / OutcomeUnknown
BatchOutcome = Union[Dict[str, Any], LeanCloudError, TransportError]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode



def _loads(body: bytes) -> Any:
    """Decode an answer: orjson (about twice as fast as json on the read path of every query), and
    json for what orjson refuses but JSON allows (integers beyond 64 bits, NaN)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            return json.loads(body)
        except RecursionError:  # nested past what a parser follows (a hostile answer): not readable JSON
            raise ValueError("the answer is nested too deep to decode") from None


def _reads_only(path: str, body: Any) -> bool:
    """Whether a request that is not a GET only reads: a batch of GETs (``prefetch_related`` sends those)."""
    requests_ = body.get("requests") if path == "batch" and isinstance(body, dict) else None
    return isinstance(requests_, list) and all(isinstance(r, dict) and r.get("method") == "GET" for r in requests_)


class Client:
    """A connection to one backend, in one dialect.

    ``request_count`` counts the round trips sent, so that tests and users can check that an operation
    costs what it should.
    """

    def __init__(self, transport: Transport, dialect: Dialect, app_id: str, app_key: str,
                 master_key: Optional[str] = None, *, sign: bool = False, backend: Optional[str] = None,
                 url: str = "", identity_ttl: float = 60.0, identity_size: int = 10_000,
                 capabilities: FrozenSet[str] = frozenset(), client_ids: bool = False) -> None:
        self.transport = transport
        self.dialect = dialect
        self.app_id = app_id
        self.app_key = app_key
        self.master_key = master_key
        self.sign = sign
        #: the backend's name in messages: ``embedded``, ``parse`` or ``leancloud``
        self.backend = backend or dialect.name
        self.url = url
        #: what this backend can do: its dialect's capabilities and those of the server itself
        #: (the embedded backend has the schema API in either dialect, hosted LeanCloud does not)
        self.capabilities = dialect.capabilities | capabilities
        self.request_count = 0
        self.identity_map = IdentityMap(ttl=identity_ttl, maxsize=identity_size)
        #: whether creates carry a client-made objectId (``Model.assign_id``), which makes them safe to
        #: send again (the embedded backend, Parse Server with ``allowCustomObjectId``)
        self.client_ids = client_ids
        #: the embedded server this client reaches in-process (``local://``), for what only it can do
        #: (``leanorm.schema.create_index``); None for a backend reached over HTTP
        self.embedded_server: Optional["EmbeddedServer"] = None
        #: LeanEngine's hook key, sent as ``X-LC-Hook-Key`` (LeanCloud dialect) so that cloud code may skip
        #: hooks (``ignore_hook``) without the master key, as on LeanEngine: the embedded server lends its
        #: own to the Engine it runs
        self.hook_key: Optional[str] = None
        #: opens a connection to the backend's LiveQuery server (docs/live.md): a WebSocket for an HTTP
        #: backend whose live URL is known, else None (``live()`` then needs ``url=``)
        self.live_connector: Optional["Connector"] = None
        #: the waits between a live connection's reconnection attempts (None: ``Backoff()``'s defaults)
        self.live_backoff: Optional["Backoff"] = None

    # -- capabilities -------------------------------------------------------------------------------
    def supports(self, capability: str) -> bool:
        """Whether the backend has ``capability`` (see :meth:`Dialect.supports`)."""
        return capability in self.capabilities

    def require(self, capability: str, feature: Optional[str] = None) -> None:
        """Raise :class:`NotSupported` naming the backend unless it has ``capability``."""
        if capability not in self.capabilities:
            raise NotSupported(feature or capability, self.backend)

    # -- auth ------------------------------------------------------------------------------------------
    #: who the current context acts as (``master``, ``anonymous`` or a digest of the session token): the
    #: identity map scopes instances by it. A plain function: it is on the read path of every pointer
    auth_identity = staticmethod(auth_context.identity)

    def _headers(self) -> Dict[str, str]:
        headers = self.dialect.auth_headers(self.app_id, self.app_key, self.master_key,
                                            auth_context.master_active(), auth_context.session_token(),
                                            self.sign)
        if self.hook_key and self.dialect.name == "leancloud":
            headers["X-LC-Hook-Key"] = self.hook_key
        headers["Content-Type"] = "application/json"
        return headers

    # -- requests --------------------------------------------------------------------------------------
    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                body: Optional[Any] = None, *, timeout: Optional[float] = None) -> Any:
        """Send one request to ``path`` (under the dialect prefix) and return the decoded JSON answer.

        ``params`` values that are not strings are JSON-encoded (``where`` is a dict in, a string out).
        ``timeout`` bounds this request as a whole (connect, send, read, retries); by default the
        enclosing ``leanorm.timeout()`` block's, else the client's.
        """
        if auth_context.master_active() and not self.master_key:
            raise ConfigurationError("using_master() needs a master key: pass master_key to connect()")
        if method != "GET" and transactions.current() is not None and not _reads_only(path, body):
            transactions.check_joinable(self)
            raise NotSupported(f"{method} {path} inside atomic()", None, "only object writes (save, delete, "
                               "create, bulk writes, update) join the block's transaction; this request would "
                               "be sent outside it")
        if method == "GET":
            params = {**self.dialect.read_params, **(params or {})}
        query = {k: v if isinstance(v, str) else _dumps(v) for k, v in (params or {}).items()}
        data = None if body is None else _dumps(body).encode("utf-8")
        return self._send(Request(method, self.dialect.path(path), query, self._headers(), data, timeout))

    def send_raw(self, method: str, path: str, body: Body, content_type: str,
                 headers: Optional[Mapping[str, str]] = None) -> Any:
        """Send file bytes as the raw body, never reading a file object into memory (the transport
        streams it), and return the JSON answer ({} when the answer is not JSON, as from storage
        providers).

        ``path`` under the dialect prefix goes with the app's auth headers; an absolute URL (a storage
        provider's upload address) goes with ``headers`` only, so the app's keys never leave for it.
        """
        if path.startswith(("http://", "https://")):
            req = Request(method, path, {}, {**(headers or {}), "Content-Type": content_type}, body)
            return self._send(req, json_answer=False)
        all_headers = {**self._headers(), **(headers or {}), "Content-Type": content_type}
        return self._send(Request(method, self.dialect.path(path), {}, all_headers, body))

    def _send(self, req: Request, json_answer: bool = True) -> Any:
        """Send ``req``, count it, and decode the answer; errors become typed exceptions."""
        method = req.method
        self.request_count += 1
        # the async API's operations run in a greenlet (leanorm.aio): their sends are awaited on the loop
        resp = await_only(self.transport.asend(req)) if bridged() else self.transport.send(req)
        if not json_answer and resp.status < 400:
            return {}
        try:
            payload = _loads(resp.body) if resp.body else {}
        except ValueError:
            # not the protocol's answer (a gateway's error page): whether the server acted is not known
            raise OutcomeUnknown(f"{method} {req.path} answered {resp.status} with a body that is not JSON: "
                                 f"{resp.body[:200]!r}") from None
        if resp.status >= 400:
            if isinstance(payload, dict) and "code" in payload:
                error = error_for(int(payload["code"]), str(payload.get("error", payload.get("message", ""))),
                                  resp.status)
                error.answer = payload
                raise error
            if isinstance(payload, dict) and isinstance(payload.get("error"), str):
                # the protocol's error shape without a code: Parse Server's refusals of keys and master-only
                # routes (``{"error": "unauthorized"}``, 403); their status is what they mean
                raise error_for(resp.status, payload["error"], resp.status)
            # an error not in the protocol's shape came from something in between (a proxy's 403, a
            # gateway's 502): its HTTP status is no protocol code, and whether the server acted is not known
            raise OutcomeUnknown(f"{method} {req.path} answered {resp.status} without a protocol error: "
                                 f"{str(payload)[:200]}")
        return payload

    def batch(self, items: Sequence[BatchItem]) -> List[BatchResult]:
        """Send ``items`` through the batch endpoint, chunked to the backend's limit.

        Returns one outcome per item, in order: the ``success`` JSON, or a :class:`LeanCloudError`.
        Items fail alone; the others are applied. A chunk that fails in transport raises its
        :class:`~leanorm.errors.TransportError` (:meth:`batch_outcomes` reports it per item instead).
        """
        results: List[BatchResult] = []
        for outcome in self.batch_outcomes(items):
            if isinstance(outcome, TransportError):
                raise outcome
            results.append(outcome)
        return results

    def batch_outcomes(self, items: Sequence[BatchItem]) -> List[BatchOutcome]:
        """:meth:`batch` that reports transport failures per item instead of raising: the items of a
        chunk whose request failed get its :class:`~leanorm.errors.NotSent` or
        :class:`~leanorm.errors.OutcomeUnknown`, and the items after it ``NotSent`` (nothing more is sent
        once a chunk failed). The chunks before it were answered: their outcomes stand."""
        results: List[BatchOutcome] = []
        limit = self.dialect.batch_limit
        for start in range(0, len(items), limit):
            chunk = items[start:start + limit]
            requests_ = [{"method": m, "path": self.dialect.path(p),
                          **({"body": {**self.dialect.read_params, **(b or {})}} if m == "GET" else
                             {"body": b} if b is not None else {})}
                         for m, p, b in chunk]
            try:
                answer = self.request("POST", "batch", body={"requests": requests_})
            except TransportError as exc:
                results.extend([exc] * len(chunk))
                unsent = NotSent(f"not sent: an earlier batch request failed ({exc})")
                results.extend([unsent] * (len(items) - len(results)))
                return results
            for outcome in answer:
                if "success" in outcome:
                    results.append(outcome["success"])
                else:
                    err = outcome.get("error", {})
                    results.append(error_for(int(err.get("code", 1)), str(err.get("error", err))))
        return results

    def transaction(self, items: Sequence[BatchItem]) -> List[Dict[str, Any]]:
        """Send ``items`` as ONE transactional batch (``"transaction": true``): every item is applied, or
        none. Returns each item's ``success`` answer; raises :class:`TransactionFailed` with each item's
        error (or the error that undid it) when the server undid the batch, and the transport's error
        when no answer came (:class:`OutcomeUnknown`: it may have been committed)."""
        transactions.check_joinable(self)
        requests_ = [{"method": m, "path": self.dialect.path(p), **({"body": b} if b is not None else {})}
                     for m, p, b in items]
        try:
            answer = self.request("POST", "batch", body={"requests": requests_, "transaction": True})
        except LeanCloudError as exc:
            outcomes = exc.answer.get("results")
            if not isinstance(outcomes, list) or len(outcomes) != len(items):
                # Parse Server answers one error for an undone transaction, not which item failed
                outcomes = [{"error": {"code": exc.code, "error": exc.message}}] * len(items)
            undone = LeanORMError(f"undone with the transaction ({exc})")
            errors: List[Tuple[Any, LeanORMError]] = []
            for (method, path, _), outcome in zip(items, outcomes):
                err = outcome.get("error") if isinstance(outcome, dict) else None
                errors.append((f"{method} {path}", error_for(int(err.get("code", 1)), str(err.get("error", "")))
                               if isinstance(err, dict) else undone))
            raise TransactionFailed(errors, exc) from exc
        if not isinstance(answer, list) or len(answer) != len(items) or \
                not all(isinstance(a, dict) and "success" in a for a in answer):
            # a server that ran the items one by one (no transactions) answers per item
            raise OutcomeUnknown(f"the transactional batch was answered item by item: {str(answer)[:200]}")
        return [a["success"] for a in answer]

    def close(self) -> None:
        """Close the transport (pooled connections, or the embedded database)."""
        self.transport.close()

    async def aclose(self) -> None:
        """:meth:`close` from async code: the async transport's connections close on the event loop."""
        await self.transport.aclose()

    def __repr__(self) -> str:
        return f"<Client {self.backend} {self.url}>"
