"""Cloud code's live query triggers as the live server calls them: ``beforeConnect``, ``beforeSubscribe``
and ``afterLiveQueryEvent`` (Parse Server's), through the server's one entry into cloud code
(``CloudCode.dispatch``; the Engine declares them as ``@engine.before_connect`` and so on).

Triggers are user code, and may be slow. None runs on a thread the server cannot spare:

- every call runs on this process's trigger pool (``LiveLimits.trigger_workers`` threads), and whoever
  waits for it waits at most ``LiveLimits.trigger_timeout`` seconds; then the call counts as failed
  (error 141 saying so) and its answer, if it ever comes, is thrown away;
- ``connect`` and ``subscribe`` wait in the thread handling that connection's message (a trigger that
  fails or times out refuses it);
- events never wait in the change feed's reader: an event that needs ``afterLiveQueryEvent`` is queued
  on its connection's :class:`EventLine` with the call running on the pool, and the reader goes on to
  the next change and the other connections. A connection's events still go out in commit order: one
  waiting for its trigger holds back the connection's later events (not other connections'), until the
  trigger answers or its time is up; a line longer than ``LiveLimits.max_pending`` closes its
  connection (155), as a client that does not read does.
"""
from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Optional, Set

from ...errors import LeanCloudError
from ..caller import Caller
from ..endpoints.hooks import caller_user
from ..routing import Context, Services
from .messages import LiveError, check_request, error

if TYPE_CHECKING:  # the hub holds the triggers, a client its line
    from .clients import LiveClient
    from .hub import LiveQueries

__all__ = ["LiveTriggers", "EventLine", "CONNECT", "subscribe_path", "event_path", "SCRIPT_FAILED", "run",
           "subscription_query"]

log = logging.getLogger("leanorm.embedded")

#: where cloud code declares each trigger (``Engine`` paths; Parse files ``beforeConnect`` under ``@Connect``)
CONNECT = "functions/@Connect/beforeConnect"
#: Parse's code for a trigger that failed (a throw without a code of its own)
SCRIPT_FAILED = 141


def subscribe_path(class_name: str) -> str:
    return f"functions/{class_name}/beforeSubscribe"


def event_path(class_name: str) -> str:
    return f"functions/{class_name}/afterLiveQueryEvent"


#: how a trigger is run: ``(path, payload, caller) -> answer``, :class:`LiveError` for a refusal
Runner = Callable[[str, Dict[str, Any], Caller], Dict[str, Any]]


def run(services: Services, path: str, payload: Dict[str, Any], caller: Caller) -> Dict[str, Any]:
    """Run the trigger at ``path`` in this thread, as ``caller``; its refusal is a :class:`LiveError`
    with the trigger's code and message."""
    cloud_code = services.cloud_code
    assert cloud_code is not None, "callers ask whether it is declared first"
    ctx = Context(services, "GET", "live", "parse", {}, caller, None)
    services.store.settle()  # cloud code acts outside the server: a request can no longer be run again
    try:
        return cloud_code.dispatch(path, payload, user=caller_user(ctx),
                                   session_token=caller.session_token if caller.user_id else None,
                                   master=caller.master, prod=services.settings.prod)
    except LeanCloudError as exc:  # the trigger's own code and message reach the client
        raise LiveError(exc.code, exc.message) from None


def subscription_query(services: Services, runner: Runner, caller: Caller, query: Dict[str, Any],
                       about: Dict[str, Any]) -> Dict[str, Any]:
    """The query a subscription is made with: the client's, or the one cloud code's ``beforeSubscribe``
    for its class answered (LiveError when it refuses). Every protocol's subscribe goes through here
    before :func:`.clients.check_subscription`, so a trigger that narrows subscriptions for access
    cannot be gone around by subscribing another way. The answer is checked as a client's query
    would be: the same class, a ``where``, lists of field names."""
    class_name = query["className"]
    path = subscribe_path(class_name)
    cloud_code = services.cloud_code
    if cloud_code is None or not cloud_code.has(path):
        return query
    answer = runner(path, {**about, "event": "subscribe", "query": query}, caller)
    rewritten = answer.get("query") if isinstance(answer, dict) else None
    try:
        checked: Dict[str, Any] = check_request({"op": "subscribe", "requestId": 0, "query": rewritten})["query"]
    except LiveError as exc:
        raise LiveError(SCRIPT_FAILED, f"beforeSubscribe answered an invalid query: {exc.message}") from None
    if checked["className"] != class_name:
        raise LiveError(SCRIPT_FAILED, "beforeSubscribe may not change the query's class.")
    return checked


class LiveTriggers:
    """One process's calls of live query triggers: declared or not, run on a bounded pool, waited for
    a bounded time."""

    def __init__(self, hub: "LiveQueries") -> None:
        self.hub = hub
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        #: lines holding events, checked by the feed's reader for calls past their time
        self._waiting: Set["EventLine"] = set()

    def declared(self, path: str) -> bool:
        cloud_code = self.hub.services.cloud_code
        return cloud_code is not None and cloud_code.has(path)

    def submit(self, path: str, payload: Dict[str, Any], caller: Caller) -> "concurrent.futures.Future[Dict[str, Any]]":
        """Start the trigger at ``path`` on the pool; the future's answer is cloud code's, its failure a
        :class:`LiveError` with the trigger's code and message."""
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.hub.limits.trigger_workers,
                                                                   thread_name_prefix="leanorm-live-trigger")
            return self._pool.submit(self._run, path, payload, caller)

    def call(self, path: str, payload: Dict[str, Any], caller: Caller) -> Dict[str, Any]:
        """Run the trigger at ``path`` and wait for its answer (at most ``trigger_timeout``)."""
        future = self.submit(path, payload, caller)
        try:
            return future.result(timeout=self.hub.limits.trigger_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise timed_out(path, self.hub.limits.trigger_timeout) from None

    def _run(self, path: str, payload: Dict[str, Any], caller: Caller) -> Dict[str, Any]:
        return run(self.hub.services, path, payload, caller)

    def line_waits(self, line: "EventLine", waiting: bool) -> None:
        with self._lock:
            (self._waiting.add if waiting else self._waiting.discard)(line)

    def expire(self) -> None:
        """Let lines whose head waited past its time go on (the feed's reader calls this as it polls)."""
        with self._lock:
            lines = list(self._waiting)
        for line in lines:
            line.flush()

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def timed_out(path: str, seconds: float) -> LiveError:
    name = path.rsplit("/", 1)[-1]
    return LiveError(SCRIPT_FAILED, f"{name} did not answer within {seconds:g} s (the server's trigger timeout).")


class _Queued:
    """One event in its line: ``ready`` once its message is known (None: nothing to send)."""
    __slots__ = ("message", "ready", "future", "finish", "deadline", "request_id")

    def __init__(self, message: Optional[Dict[str, Any]], future: "Optional[concurrent.futures.Future[Dict[str, Any]]]",
                 finish: Optional[Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]], deadline: float,
                 request_id: Optional[int]) -> None:
        self.message, self.ready, self.future, self.finish = message, future is None, future, finish
        self.deadline, self.request_id = deadline, request_id


class EventLine:
    """One connection's events in commit order, while some wait for their ``afterLiveQueryEvent``: an
    event is sent when every event before it was sent (or dropped)."""

    def __init__(self, client: "LiveClient", triggers: LiveTriggers) -> None:
        self.client, self.triggers = client, triggers
        self._queue: Deque[_Queued] = collections.deque()
        self._lock = threading.Lock()
        self._waits = False  # known to the triggers as a line to check for calls past their time

    def put(self, message: Dict[str, Any]) -> None:
        """Send an event that needs no trigger (at once, unless earlier ones wait)."""
        with self._lock:
            if not self._queue:  # the common case: nothing waits, nothing to order
                self.client.send(message)
                return
        self._add(_Queued(message, None, None, 0.0, None))

    def put_after(self, future: "concurrent.futures.Future[Dict[str, Any]]",
                  finish: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]], request_id: int) -> None:
        """Send, in its turn, what ``finish`` makes of the trigger's answer (None: nothing); a trigger
        that fails or takes longer than ``trigger_timeout`` sends its error instead."""
        deadline = time.monotonic() + self.triggers.hub.limits.trigger_timeout
        item = _Queued(None, future, finish, deadline, request_id)
        self._add(item)
        future.add_done_callback(lambda _: self._answered(item))

    def _answered(self, item: _Queued) -> None:
        # finished outside the line's lock: finishing reads the store (the read filter), and the feed's
        # reader, which may hold the store (the in-memory store's one connection), waits for that lock
        item.message = self._finished(item)
        item.ready = True
        self.flush()

    def _add(self, item: _Queued) -> None:
        limits = self.triggers.hub.limits
        with self._lock:
            too_many = len(self._queue) >= limits.max_pending
            if not too_many:
                self._queue.append(item)
        if too_many:
            self.triggers.hub.drop(self.client, error(155, f"More than {limits.max_pending} events waited for "
                                                           "afterLiveQueryEvent: the connection is closed.",
                                                      reconnect=True))
            return
        self.flush()

    def flush(self) -> None:
        """Send what is ready at the head of the line."""
        with self._lock:
            while self._queue and not self.client.closed:
                item = self._queue[0]
                if item.ready:
                    message = item.message
                elif time.monotonic() >= item.deadline:
                    assert item.future is not None
                    item.future.cancel()
                    message = timed_out("afterLiveQueryEvent", self.triggers.hub.limits.trigger_timeout).as_message()
                    message["requestId"] = item.request_id
                else:
                    break
                self._queue.popleft()
                if message is not None:
                    self.client.send(message)
            if self.client.closed:
                self._queue.clear()
            if self._waits != bool(self._queue):
                self._waits = bool(self._queue)
                self.triggers.line_waits(self, self._waits)

    @staticmethod
    def _finished(item: _Queued) -> Optional[Dict[str, Any]]:
        assert item.future is not None and item.finish is not None
        if item.future.cancelled():
            return None
        try:
            return item.finish(item.future.result())
        except LiveError as exc:
            exc.request_id = item.request_id
            return exc.as_message()
        except Exception:  # noqa: BLE001 - the event is lost, and the subscriber told so
            log.exception("live queries: finishing an event after its trigger failed")
            return error(SCRIPT_FAILED, "afterLiveQueryEvent's answer could not be sent.", request_id=item.request_id)
