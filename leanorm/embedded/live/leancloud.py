"""LeanCloud LiveQuery's HTTP side: ``POST LiveQuery/subscribe`` and ``POST LiveQuery/unsubscribe``
(LeanCloud dialect), as the leancloud-storage SDK sends them (docs/embedded.md, "LeanCloud LiveQuery").

``subscribe`` ``{"query": {className, where, keys, returnACL}, "id": <installation>}`` goes through cloud
code's ``beforeSubscribe`` when one is declared (:func:`.triggers.subscription_query`), is checked as a
find with that ``where`` by the caller would be (:func:`.clients.check_subscription`), then stored
(``storage.live_subscriptions``) with the caller's session token: events are filtered as that session
reads, whichever worker holds the installation's realtime connection (:mod:`.realtime`). It answers
``{"query_id": ...}``, the same one for the same query of the same installation (the SDK subscribes
again after every reconnect and keeps its first id).
"""
from __future__ import annotations

import functools
import secrets
from typing import Any, Dict, List, Optional

from ..access.authz import ReadPolicy
from ..answers import ProtocolError
from ..routing import Context, route
from ..storage import live_subscriptions
from ..storage.store import check_class_name
from .clients import REQUEST_LIMIT, Subscription, check_subscription
from .messages import LiveError
from .triggers import run, subscription_query

__all__ = ["query_keys", "MAX_ID_LENGTH"]

#: the longest installation id (the SDK's are UUIDs; a user-defined one is any string)
MAX_ID_LENGTH = 128


def _installation(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ProtocolError(107, f"id must be a string of 1 to {MAX_ID_LENGTH} characters.")
    return value


def query_keys(keys: Any) -> Optional[List[str]]:
    """The fields a query shows: the SDK's ``keys`` is a comma-separated string (or a list); None: all."""
    if keys is None or keys == "":
        return None
    names = keys.split(",") if isinstance(keys, str) else keys
    if not isinstance(names, list) or not all(isinstance(k, str) and k for k in names):
        raise ProtocolError(107, "keys must be a comma-separated string of field names.")
    return names


def _leancloud_only(ctx: Context) -> None:
    if ctx.dialect != "leancloud":  # Parse's LiveQuery is its own WebSocket protocol
        raise ProtocolError(1, f"Unknown endpoint: {ctx.method} /{ctx.path}.", 404)


@route("POST", r"LiveQuery/subscribe")
def _subscribe(ctx: Context) -> Dict[str, Any]:
    _leancloud_only(ctx)
    body = ctx.json_body()
    installation, query = _installation(body.get("id")), body.get("query")
    if not isinstance(query, dict) or not isinstance(query.get("className"), str):
        raise ProtocolError(107, "query must be an object with a className.")
    where = query.get("where") or {}
    if not isinstance(where, dict):
        raise ProtocolError(107, "query.where must be an object.")
    class_name = check_class_name(query["className"])
    keys = query_keys(query.get("keys"))
    caller = ctx.caller
    try:  # cloud code's beforeSubscribe, as for Parse's protocol (run in this request's thread, as hooks are)
        rewritten = subscription_query(ctx.services, functools.partial(run, ctx.services), caller,
                                       {"className": class_name, "where": where, **({"keys": keys} if keys else {})},
                                       {"sessionToken": caller.session_token, "installationId": installation,
                                        "useMasterKey": caller.master})
    except LiveError as exc:
        raise ProtocolError(exc.code, exc.message) from None
    where, keys = rewritten["where"], rewritten.get("keys") or rewritten.get("fields")
    stored = {"className": class_name, "where": where, "keys": keys, "returnACL": query.get("returnACL") is True}
    limits = ctx.settings.live
    # what is committed from here on is heard (as for Parse's subscribe): a realtime reader behind the
    # feed would otherwise deliver changes made before the subscription
    since = ctx.store.latest_change()
    with ctx.store.write() as conn:
        # checked with the installation's other subscriptions (the same query is renewed, not added),
        # under the write lock: two subscribes at once can not both take the last of their budget
        held = [(row.query["className"], row.query["where"]) for row in
                live_subscriptions.of_installations(conn, [installation]) if row.query != stored]
        check_subscription(ctx.store, ReadPolicy(ctx),
                           Subscription(0, class_name, where, keys, None, caller.session_token, caller), held)
        new = live_subscriptions.query_id_of(conn, installation, stored) is None
        if new and live_subscriptions.count_of(conn, installation) >= limits.max_subscriptions:
            raise ProtocolError(REQUEST_LIMIT, f"Too many subscriptions: an installation holds at most "
                                               f"{limits.max_subscriptions}.", 429)
        if new and not live_subscriptions.count_of(conn, installation) and live_subscriptions.installations_from(
                conn, ctx.client_address) >= limits.max_connections_per_address:
            raise ProtocolError(REQUEST_LIMIT, f"Too many live query installations from {ctx.client_address}: "
                                               f"at most {limits.max_connections_per_address}.", 429)
        query_id = live_subscriptions.save(conn, secrets.token_hex(16), installation, stored, caller.session_token,
                                           caller.master, ctx.client_address, since)
    return {"query_id": query_id}


@route("POST", r"LiveQuery/unsubscribe")
def _unsubscribe(ctx: Context) -> Dict[str, Any]:
    _leancloud_only(ctx)
    body = ctx.json_body()
    installation, query_id = _installation(body.get("id")), body.get("query_id")
    if not isinstance(query_id, str):
        raise ProtocolError(107, "query_id must be a string.")
    with ctx.store.write() as conn:
        live_subscriptions.remove(conn, installation, query_id)
    return {}
