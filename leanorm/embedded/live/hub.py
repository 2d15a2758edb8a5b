"""Live queries of one server process: its connections and subscriptions, and the reader of the change
feed that turns each committed change into the events of the subscriptions it concerns.

The reader is one thread per process. It reads the store's change feed (``Store.changes_after``) in
commit order, whichever process wrote, waking at once for a write of its own process and every
``poll_interval`` for the others' (``Store.wait_for_changes``). For each batch of changes it:

1. checks the session of every subscription (a token deleted or expired ends the subscriptions using it:
   error 209, nothing more is sent to them);
2. for each change, tests every subscription of its class (:mod:`.matching`, the query compiler in
   SQL) and passes the object before and after through the subscriber's read filter
   (``ReadPolicy.reveal``: class-level permissions, ACL and protected fields as they are now, the class
   permissions read once per batch), then decides the event (:mod:`.events`);
3. after a change to ``_Role``, resolves its subscribers' roles again, so the next change is filtered by
   the roles they hold now.

Events go out in commit order. A subscription hears every change committed after the feed position it
was made at (``Subscription.since``): a batch the reader matched while a subscription was being made
(after its position was read, before it was added: ``beforeSubscribe`` runs between) is matched again
for it alone, before anything later (:meth:`LiveQueries.subscribe`). A reader that falls further behind
than the feed keeps tells its clients that changes were missed (error, ``reconnect``) and closes them,
instead of skipping; so does a reader that finds the feed ending before what it read (changes it sent
were lost by the database: a crash, a failover, a restore), which then reads on from the feed's end.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..access.authz import ReadPolicy
from ..answers import ProtocolError
from ..budget import deadline
from ..caller import Caller
from ..endpoints.sessions import authenticate, valid_tokens
from ..routing import Context, Services
from ..settings import LiveLimits
from ..storage.interface import Change, Connection, Store
from .clients import REQUEST_LIMIT, LiveClient, Subscription
from .events import Seen, decide, shown
from .matching import Conditions
from .messages import LiveError, error
from .outlet import Outlet
from .triggers import LiveTriggers, event_path

__all__ = ["LiveQueries"]

log = logging.getLogger("leanorm.embedded")
#: changes read from the feed at once
BATCH = 500
#: seconds the reader waits before reading the feed again after a read failed (the database away)
RETRY = 1.0
#: Parse's code for an invalid session token
INVALID_SESSION = 209
#: the protocol's code for a timeout (a read past its deadline)
TIMEOUT = 124
#: what a client dropped for changes it missed is told
MISSED = ("Changes were missed (this server fell behind its change feed, or failed to deliver them). "
          "Connect again and read the current state.")

#: a subscription a change may concern: who, which, and whether its ``where`` selected the object
#: before and after the change
_Candidate = Tuple[LiveClient, Subscription, bool, bool]

Viewer = Tuple[bool, Optional[str], Tuple[str, ...]]
#: a subscription made after the reader matched changes past its ``since`` without it, and the newest of them
_Behind = Tuple[LiveClient, Subscription, int]


class LiveQueries:
    """The live connections of one server process and the reader of the change feed that serves them."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.limits: LiveLimits = services.settings.live
        self._lock = threading.RLock()  # a send under it may drop (and so close) its client
        self._clients: Dict[LiveClient, None] = {}  # in the order they connected
        self._per_address: Dict[str, int] = collections.Counter()
        self._seq = 0
        #: the change read at ``_seq`` (None: none read since the reader started there), checked to be
        #: still in the feed at each read (``Store.changes_after``)
        self._last: Optional[Change] = None
        self._reader: Optional[threading.Thread] = None
        #: the newest change of the batches whose subscriptions the reader took (:meth:`_subscribed`)
        self._taken = 0
        #: subscriptions made since, that the batches taken before them concern (:meth:`subscribe`)
        self._behind: List[_Behind] = []
        #: bumped whenever a subscription comes or goes: the compiled plans are then made again
        self._version = 0
        self._plans: Dict[str, _Plan] = {}
        self._plans_version = -1
        self._stop = threading.Event()
        #: called before each batch of changes is delivered: a protocol whose subscriptions are kept in
        #: the store (LeanCloud's, :mod:`.leancloud`) loads them here, so a subscription any process
        #: stored before the batch's changes were committed hears them
        self.before_batch: List[Callable[[], None]] = []
        #: cloud code's live query triggers, run off the reader's thread (:mod:`.triggers`)
        self.triggers = LiveTriggers(self)

    # -- connections -----------------------------------------------------------------------------------
    def open(self, outlet: Outlet, address: str,
             client_type: Callable[["LiveQueries", Outlet, str], LiveClient] = LiveClient) -> LiveClient:
        """A new connection from ``address`` (a ``client_type``: Parse's protocol, or another speaking
        its own messages); :class:`LiveError` (155) past the bounds on connections."""
        with self._lock:
            if len(self._clients) >= self.limits.max_connections:
                raise LiveError(REQUEST_LIMIT, f"Too many live connections: this server holds at most "
                                               f"{self.limits.max_connections}.")
            if self._per_address[address] >= self.limits.max_connections_per_address:
                raise LiveError(REQUEST_LIMIT, f"Too many live connections from {address}: at most "
                                               f"{self.limits.max_connections_per_address}.")
            client = client_type(self, outlet, address)
            self._clients[client] = None
            self._per_address[address] += 1
            if self._reader is None and not self._stop.is_set():
                # the feed is read from here on: a subscription made after this sees every later change
                self._seq = self.services.store.latest_change()
                self._reader = threading.Thread(target=self._read, name="leanorm-live", daemon=True)
                self._reader.start()
        return client

    def close(self, client: LiveClient) -> None:
        """Forget a connection that ended (its subscriptions with it)."""
        with self._lock:
            if client.closed:
                return
            client.closed = True
            self._version += 1
            self._clients.pop(client, None)
            self._per_address[client.address] -= 1
            if not self._per_address[client.address]:
                del self._per_address[client.address]
        client.outlet.close()

    def drop(self, client: LiveClient, message: Dict[str, Any]) -> None:
        """Close a connection the server ends, telling it why first."""
        client.outlet.put(client.encode(message), force=True)
        self.close(client)

    def counts(self) -> Tuple[int, int]:
        """The connections and subscriptions this process holds (what live query triggers are told)."""
        with self._lock:
            return len(self._clients), sum(len(c.subscriptions) for c in self._clients)

    def context(self, caller: Caller, class_permissions: Optional[Dict[str, Any]] = None) -> Context:
        """A request context for reading as ``caller`` (the read rules take one)."""
        ctx = Context(self.services, "GET", "live", "parse", {}, caller, None)
        if class_permissions is not None:
            ctx.class_permissions = class_permissions
        return ctx

    def subscribe(self, client: LiveClient, subscription: Subscription,
                  confirmation: Optional[Dict[str, Any]] = None) -> None:
        """Add (or replace) a subscription, ``confirmation`` (``subscribed``) queued first: the reader
        takes subscriptions under the same lock, so no event of it can go out before the confirmation.
        (LeanCloud's subscriptions are confirmed over HTTP: none is sent for them.)

        Its ``since`` was read before (a ``beforeSubscribe`` ran since): if the reader has taken changes
        after it, matched without this subscription, they are matched again for it before the next batch:
        for a new request id (one replaced heard them as what it was), and at most :data:`BATCH` of them (a
        subscription stored long before, LeanCloud's heard again by a new connection, is not replayed)."""
        with self._lock:
            if confirmation is not None:
                client.send(confirmation)
            new = subscription.request_id not in client.subscriptions
            client.subscriptions[subscription.request_id] = subscription
            self._version += 1
            if new and 0 < self._taken - subscription.since <= BATCH:
                self._behind.append((client, subscription, self._taken))

    def unsubscribe(self, client: LiveClient, request_id: int) -> bool:
        with self._lock:
            self._version += 1
            return client.subscriptions.pop(request_id, None) is not None

    def shutdown(self) -> None:
        """Stop reading the feed and close every connection."""
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            self.close(client)
        self.triggers.shutdown()

    # -- the reader of the change feed -----------------------------------------------------------------
    def _read(self) -> None:
        store = self.services.store
        while not self._stop.is_set():
            try:
                store.wait_for_changes(self.limits.poll_interval)
                self.triggers.expire()
                while not self._stop.is_set():
                    changes, missed = store.changes_after(self._seq, BATCH, self._last)
                    if missed:
                        self._missed()
                        if not changes:  # what the reader read is gone: it reads on from the feed's end
                            self._seq, self._last = store.latest_change(), None
                    if not changes:
                        if self._behind:
                            self._catch_up(self._subscribed(self._taken)[2])
                        break
                    self._seq, self._last = changes[-1].seq, changes[-1]
                    try:
                        self._deliver(changes)
                    except Exception:  # noqa: BLE001 - a bug in one batch: its events are lost, and said so
                        log.exception("live queries: delivering changes failed")
                        self._missed()
            except ProtocolError as exc:
                if self._stop.is_set():  # the store closed under the reader: the server is stopping
                    return
                # the database away for a while (503): read again once it is back, from where it stopped
                log.warning("live queries: reading the change feed failed: %s", exc.message)
                self._stop.wait(RETRY)
            except Exception:  # noqa: BLE001 - the reader must outlive a failed read of the feed
                log.exception("live queries: reading the change feed failed")
                self._stop.wait(RETRY)

    def _missed(self) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            self.drop(client, error(1, MISSED, reconnect=True))

    def _subscribed(self, taken: int) -> Tuple[int, List[Tuple[LiveClient, Subscription]], List[_Behind]]:
        """The subscriptions a batch of changes up to ``taken`` is matched with, and those made since the
        last batch that earlier batches concern, at one moment: a subscription is in one or the other."""
        with self._lock:
            self._taken = taken
            behind, self._behind = self._behind, []
            entries = [(c, s) for c in self._clients if c.id is not None for s in c.subscriptions.values()]
            return self._version, entries, behind

    def _deliver(self, changes: List[Change]) -> None:
        for load in self.before_batch:
            load()
        version, entries, behind = self._subscribed(changes[-1].seq)
        self._catch_up(behind)
        if version != self._plans_version:  # subscriptions changed: every class's plan is made again
            self._plans, self._plans_version = {}, version
        self._match(changes, entries, self._plans)

    def _catch_up(self, behind: List[_Behind]) -> None:
        """Match for each subscription alone the changes after its ``since`` up to those the reader took
        before it was added, read from the feed again."""
        store = self.services.store
        for client, subscription, taken in behind:
            seq = subscription.since
            while seq < taken:
                changes, missed = store.changes_after(seq, BATCH)
                if missed:
                    self.drop(client, error(1, MISSED, reconnect=True))
                    break
                changes = [change for change in changes if change.seq <= taken]
                if not changes:
                    break
                self._match(changes, [(client, subscription)], {}, held=self.counts()[1])
                seq = changes[-1].seq

    def _match(self, changes: List[Change], entries: List[Tuple[LiveClient, Subscription]],
               plans: Dict[str, "_Plan"], held: Optional[int] = None) -> None:
        """Send the events ``changes`` make for the subscriptions ``entries`` (``plans``: their compiled
        conditions by class, kept from batch to batch; ``held``: the subscriptions of the process, when
        ``entries`` are not all of them)."""
        entries = self._with_live_sessions(entries)
        if not entries:
            return
        batch = _Batch(self, entries, held)
        with self.services.store.read() as conn:
            for change in changes:
                if change.class_name in batch.classes:
                    self._events(conn, batch, change, plans)
                if change.class_name == "_Role":  # roles may have changed: the next change sees them
                    entries = self._with_live_sessions(entries, refresh=True)
                    batch = _Batch(self, entries, held)

    def _with_live_sessions(self, entries: List[Tuple[LiveClient, Subscription]],
                            refresh: bool = False) -> List[Tuple[LiveClient, Subscription]]:
        """The subscriptions whose session is still valid (``refresh``: with their callers' roles read
        again); those whose token was deleted or expired end with error 209."""
        valid = valid_tokens(self.services.store, (s.token for _, s in entries if s.token))
        callers: Dict[str, Caller] = {}
        if refresh:
            for token in sorted(valid):  # a copy: a token that fails now is taken out of ``valid``
                try:
                    callers[token] = authenticate(self.services.store, token, False)
                except ProtocolError:
                    valid.discard(token)
        kept = []
        for client, subscription in entries:
            if subscription.token and subscription.token not in valid and not subscription.caller.master:
                if self.unsubscribe(client, subscription.request_id):
                    client.send(error(INVALID_SESSION, "Invalid session token: the session ended.",
                                      request_id=subscription.request_id))
                continue
            if subscription.token in callers:
                subscription.caller = dataclasses.replace(callers[subscription.token],
                                                          master=subscription.caller.master)
            kept.append((client, subscription))
        return kept

    def _plan(self, conn: Connection, class_name: str, entries: List[Tuple[LiveClient, Subscription]],
              plans: Dict[str, "_Plan"]) -> "_Plan":
        """The compiled plain conditions of a class's subscriptions, kept in ``plans`` while they and its
        schema last."""
        schema = self.services.store.schema(conn, class_name)
        plan = plans.get(class_name)
        if plan is None or plan.schema != schema:
            plan = plans[class_name] = _Plan(self.services.store, conn, class_name, entries, schema)
        return plan

    def _events(self, conn: Connection, batch: "_Batch", change: Change, plans: Dict[str, "_Plan"]) -> None:
        """Send the events ``change`` makes for the subscriptions of its class."""
        if change.class_name not in batch.checked:  # the class permissions are read once per batch
            batch.checked.add(change.class_name)
            self._end_blind(batch, change.class_name)
        plan = self._plan(conn, change.class_name, batch.classes[change.class_name], plans)
        before_hits, after_hits = plan.shared.test(conn, change.before), plan.shared.test(conn, change.after)
        candidates: List[_Candidate] = [
            (client, subscription, before_hits[index], after_hits[index])
            for index in range(len(before_hits)) if before_hits[index] or after_hits[index]
            for client, subscription in plan.by_condition[index]]
        if plan.own:  # conditions with sub-queries read as their subscriber, now
            candidates += self._matched_with_sub_queries(conn, batch, change, plan.own)
        trigger = event_path(change.class_name)
        triggered = self.triggers.declared(trigger)
        for client, subscription, where_before, where_after in candidates:
            if client.closed or client.subscriptions.get(subscription.request_id) is not subscription:
                continue  # ended since the plan was made (unsubscribed, replaced, its session gone)
            if change.seq <= subscription.since:
                continue  # committed before the subscription was made
            before, after = batch.seen(change, subscription)
            event = decide(Seen(before, after, where_before, where_after), change.before, change.after,
                           subscription.watch)
            if event is None or event["op"] not in client.events:
                continue
            message = {"op": event["op"], "clientId": client.id, "requestId": subscription.request_id,
                       "object": shown(event["object"], change.class_name, subscription.keys)}
            if event.get("original") is not None:
                message["original"] = shown(event["original"], change.class_name, subscription.keys)
            if not triggered:
                client.line.put(message)
                continue
            payload = {"event": event["op"], "object": {**event["object"], "className": change.class_name},
                       "original": None if event.get("original") is None else
                       {**event["original"], "className": change.class_name},
                       "sessionToken": subscription.token, "installationId": client.installation_id,
                       "useMasterKey": client.master, "requestId": subscription.request_id,
                       "clients": len(self._clients), "subscriptions": batch.subscriptions}
            client.line.put_after(self.triggers.submit(trigger, payload, subscription.caller),
                                  _Edited(self, client, subscription, message), subscription.request_id)

    def _end_blind(self, batch: "_Batch", class_name: str) -> None:
        """End (119, a find's refusal) the subscriptions of ``class_name`` whose ``where`` or ``watch``
        reads a field hidden from their subscriber now: it was visible when they were made, and matching
        on it would tell the subscriber what a find is refused. (A ``where`` with sub-queries is compiled
        again with its subscriber's rights at each change: it then matches nothing.)"""
        for client, subscription in batch.classes[class_name]:
            policy = batch.policy(subscription.caller)
            try:
                for field in sorted(subscription.queried):
                    policy.check_key(class_name, field)
            except ProtocolError as exc:
                if self.unsubscribe(client, subscription.request_id):
                    client.send(error(exc.code, exc.message, request_id=subscription.request_id))

    def _matched_with_sub_queries(self, conn: Connection, batch: "_Batch", change: Change,
                                  entries: List[Tuple[LiveClient, Subscription]]) -> List[_Candidate]:
        """The subscriptions among ``entries`` (each ``where`` with sub-queries) whose ``where`` selects
        the object before or after ``change``. Each reads other rows again at every change, so those of
        one client address are matched within ``match_seconds`` together; the subscriptions that
        deadline interrupts end with error 124, naming the bound: one client can not make the reader,
        which every subscriber of the process waits for, spend more than that per change."""
        by_address: Dict[str, List[Tuple[LiveClient, Subscription]]] = collections.defaultdict(list)
        for client, subscription in entries:
            by_address[client.address].append((client, subscription))
        matched: List[_Candidate] = []
        for held in by_address.values():
            own = Conditions(self.services.store, conn, change.class_name)
            indexes = [own.add(s.where, batch.policy(s.caller)) for _, s in held]
            with deadline(self.limits.match_seconds):
                before, after = own.test(conn, change.before), own.test(conn, change.after)
            for (client, subscription), index in zip(held, indexes):
                if index in own.interrupted:
                    if self.unsubscribe(client, subscription.request_id):
                        client.send(error(TIMEOUT, f"This subscription's where took longer than "
                                                   f"{self.limits.match_seconds:g} s to match a change, with the "
                                                   "other subscriptions with sub-queries from this address: it "
                                                   "is ended.", request_id=subscription.request_id))
                elif before[index] or after[index]:
                    matched.append((client, subscription, before[index], after[index]))
        return matched


class _Edited:
    """What an event becomes once ``afterLiveQueryEvent`` answered: nothing (``sendEvent: false``, or
    the subscription ended meanwhile), or the message with the objects the trigger answered. Those pass
    the subscriber's read filter again (fields hidden from it are taken out, ``keys`` applied): the
    trigger runs with the server's rights and could put into an object what the subscriber may not read.
    Whether the subscriber may read the object at all was decided on the stored object, before the
    trigger ran (Parse Server's order too: ACL, then the trigger, then the sensitive-data filter)."""

    def __init__(self, hub: LiveQueries, client: LiveClient, subscription: Subscription,
                 message: Dict[str, Any]) -> None:
        self.hub, self.client, self.subscription, self.message = hub, client, subscription, message

    def __call__(self, answer: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        subscription = self.subscription
        if answer.get("sendEvent") is False or self.client.subscriptions.get(subscription.request_id) is not subscription:
            return None
        policy = ReadPolicy(self.hub.context(subscription.caller))
        class_name, message = subscription.class_name, self.message
        for key in ("object", "original"):
            edited = answer.get(key)
            if key in message and isinstance(edited, dict):
                own = {k: message[key][k] for k in ("objectId", "createdAt") if k in message[key]}
                message[key] = shown(policy.visible(class_name, {**edited, **own}), class_name, subscription.keys)
        return message


class _Plan:
    """One class's subscriptions: their plain ``where`` conditions compiled together (equal ones once),
    and those with sub-queries apart."""

    def __init__(self, store: Store, conn: Connection, class_name: str,
                 entries: List[Tuple[LiveClient, Subscription]], schema: Dict[str, Any]) -> None:
        self.schema = schema
        self.shared = Conditions(store, conn, class_name)
        self.by_condition: Dict[int, List[Tuple[LiveClient, Subscription]]] = collections.defaultdict(list)
        self.own: List[Tuple[LiveClient, Subscription]] = []
        indexes: Dict[str, int] = {}
        for client, subscription in entries:
            if not subscription.plain:
                self.own.append((client, subscription))
                continue
            if subscription.where_text not in indexes:
                indexes[subscription.where_text] = self.shared.add(subscription.where)
            self.by_condition[indexes[subscription.where_text]].append((client, subscription))


class _Batch:
    """What one batch of changes reads once: the subscriptions by class, and each subscriber's read
    policy (class-level permissions read once for all of them, as they are now)."""

    def __init__(self, hub: LiveQueries, entries: List[Tuple[LiveClient, Subscription]],
                 held: Optional[int] = None) -> None:
        self.hub = hub
        #: the subscriptions the process holds (what ``afterLiveQueryEvent`` is told)
        self.subscriptions = len(entries) if held is None else held
        self.classes: Dict[str, List[Tuple[LiveClient, Subscription]]] = collections.defaultdict(list)
        for client, subscription in entries:
            self.classes[subscription.class_name].append((client, subscription))
        self._permissions: Dict[str, Any] = {}
        #: the classes whose subscriptions were checked against the fields hidden now (``_end_blind``)
        self.checked: Set[str] = set()
        self._policies: Dict[Viewer, ReadPolicy] = {}
        self._seen: Dict[Tuple[int, Viewer, str], Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]] = {}

    def policy(self, caller: Caller) -> ReadPolicy:
        viewer = (caller.master, caller.user_id, caller.principals)
        if viewer not in self._policies:
            self._policies[viewer] = ReadPolicy(self.hub.context(caller, self._permissions))
        return self._policies[viewer]

    def seen(self, change: Change, subscription: Subscription) -> Tuple[Optional[Dict[str, Any]],
                                                                       Optional[Dict[str, Any]]]:
        """The object before and after ``change`` through the subscriber's read filter (None: unreadable)."""
        caller = subscription.caller
        key = (change.seq, (caller.master, caller.user_id, caller.principals), subscription.operation)
        if key not in self._seen:
            policy = self.policy(caller)
            self._seen[key] = (
                None if change.before is None else policy.reveal(change.class_name, dict(change.before),
                                                                 subscription.operation),
                None if change.after is None else policy.reveal(change.class_name, dict(change.after),
                                                                subscription.operation))
        return self._seen[key]
