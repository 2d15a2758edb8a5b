"""Cloud code's live query triggers, as Parse Server's: what ``before_connect``, ``before_subscribe`` and
``after_live_query_event`` receive, and what they answer to the server that called them.

Each trigger is called with one request object (not with keyword parameters, not with a bare instance):
the caller as ``user`` (a ``_User`` instance or None), its ``session_token``, ``installation_id`` and
whether it connected with the master key (``master``). Raising refuses: the client gets the error's code
and message (a plain exception: 141 "Cloud Code script had an error."). The server side is
``leanorm/embedded/live/triggers.py``; docs/engine.md, "Live query triggers", has the rules.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Type, Union

from ..auth import User
from ..models import Model
from .declarations import Declaration
from .objects import answer_object, instance_from_wire, model_named

if TYPE_CHECKING:  # pragma: no cover
    from ..query.queryset import QuerySet

__all__ = ["LiveConnectRequest", "LiveSubscribeRequest", "LiveEventRequest", "HANDLERS"]


class _LiveRequest:
    """What every live query trigger is told about the connection it runs for."""

    def __init__(self, payload: Dict[str, Any], user: Optional[User]) -> None:
        #: the connection's (or subscription's) user, or None: no session token, or one the server
        #: does not know (``before_connect`` runs before the server refuses such a token)
        self.user = user
        self.session_token: Optional[str] = payload.get("sessionToken")
        self.installation_id: Optional[str] = payload.get("installationId")
        #: the connection was opened with the master key
        self.master = bool(payload.get("useMasterKey"))
        #: live connections and subscriptions this server process holds now
        self.clients: int = int(payload.get("clients") or 0)
        self.subscriptions: int = int(payload.get("subscriptions") or 0)


class LiveConnectRequest(_LiveRequest):
    """A client's ``connect``: ``@engine.before_connect`` raises to refuse it (the client is not
    connected and gets the error)."""

    def __repr__(self) -> str:
        return f"<LiveConnectRequest user={self.user!r} installation_id={self.installation_id!r}>"


class LiveSubscribeRequest(_LiveRequest):
    """A ``subscribe`` (or ``update``) to ``class_name``: ``@engine.before_subscribe`` may change
    ``where``, ``keys`` and ``watch`` (the subscription is made with what they hold when it returns),
    or raise to refuse it. What it sets is checked as the client's own query would be (class-level
    permissions, protected fields) and read with the subscriber's rights: a trigger narrows what a
    subscriber hears, it cannot widen what the subscriber may read.

    >>> request = LiveSubscribeRequest({"query": {"className": "Post", "where": {"score": 1}}}, None)
    >>> request.narrow({"draft": False})
    >>> request.where
    {'$and': [{'score': 1}, {'draft': False}]}
    """

    def __init__(self, payload: Dict[str, Any], user: Optional[User]) -> None:
        super().__init__(payload, user)
        query = payload.get("query") or {}
        self.class_name: str = query.get("className", "")
        self.where: Dict[str, Any] = dict(query.get("where") or {})
        self.keys: Optional[List[str]] = query.get("keys") or query.get("fields")  # ``fields``: its old name
        self.watch: Optional[List[str]] = query.get("watch")
        self.request_id: Optional[int] = payload.get("requestId")

    def narrow(self, condition: Union["QuerySet[Any]", Dict[str, Any]]) -> None:
        """Keep only what also matches ``condition`` (a queryset of the class, compiled as ``filter()``
        compiles it, or a ``where``): ``request.narrow(Post.objects.filter(owner=request.user))``."""
        where = condition if isinstance(condition, dict) else condition.where()
        if where:
            self.where = {"$and": [self.where, where]} if self.where else dict(where)

    def answer(self) -> Dict[str, Any]:
        query: Dict[str, Any] = {"className": self.class_name, "where": self.where}
        if self.keys is not None:
            query["keys"] = list(self.keys)
        if self.watch is not None:
            query["watch"] = list(self.watch)
        return {"query": query}

    def __repr__(self) -> str:
        return f"<LiveSubscribeRequest {self.class_name} where={self.where!r}>"


class LiveEventRequest(_LiveRequest):
    """One event about to be sent to one subscriber: ``event`` (``create``, ``enter``, ``update``,
    ``leave``, ``delete``), ``object`` and ``original`` as instances of the class's model, as that
    subscriber may see them. ``@engine.after_live_query_event`` may change them (the event carries the
    changes) or set ``send_event = False`` to drop the event; raising drops it too, and sends the
    subscriber the error."""

    def __init__(self, payload: Dict[str, Any], user: Optional[User], model: Type[Model]) -> None:
        super().__init__(payload, user)
        self.event: str = payload.get("event", "")
        self.object: Model = instance_from_wire(model, payload.get("object") or {})
        original = payload.get("original")
        self.original: Optional[Model] = instance_from_wire(model, original) if isinstance(original, dict) else None
        #: False: the subscriber does not get this event
        self.send_event = True

    def answer(self) -> Dict[str, Any]:
        if not self.send_event:
            return {"sendEvent": False}
        return {"sendEvent": True, "object": answer_object(self.object, is_new=True),
                "original": None if self.original is None else answer_object(self.original, is_new=True)}

    def __repr__(self) -> str:
        return f"<LiveEventRequest {self.event} {self.object!r}>"


def _before_connect(declaration: Declaration, payload: Dict[str, Any], user: Optional[User]) -> Dict[str, Any]:
    declaration.func(LiveConnectRequest(payload, user))
    return {"result": "ok"}


def _before_subscribe(declaration: Declaration, payload: Dict[str, Any], user: Optional[User]) -> Dict[str, Any]:
    request = LiveSubscribeRequest(payload, user)
    declaration.func(request)
    return request.answer()


def _after_event(declaration: Declaration, payload: Dict[str, Any], user: Optional[User]) -> Dict[str, Any]:
    model = model_named(declaration.class_name or "", declaration.model)
    request = LiveEventRequest(payload, user, model)
    declaration.func(request)
    return request.answer()


#: the dispatcher's handler of each live query trigger kind
HANDLERS = {
    "before_connect": _before_connect,
    "before_subscribe": _before_subscribe,
    "after_live_query_event": _after_event,
}
