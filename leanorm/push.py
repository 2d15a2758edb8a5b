"""Push notifications: devices (:class:`Installation`, ``_Installation``), sent pushes
(:class:`Notification`, ``_Notification``) and :func:`send`.

An installation is an object like any other (unknown keys are kept), saved through ``installations``;
saving one whose ``installation_id`` or ``device_token`` is already registered updates that device's
object (LeanCloud, Parse Server and the embedded backend keep one object per device).

:func:`send` checks everything before it sends ``POST push``. LeanCloud answers the id of the
``_Notification`` it records. The embedded backend sends nothing: it records the notification with the
installations it targets (``installation_ids``, ``devices``), readable under ``using_master()``. Parse
Server pushes only with a push adapter configured; without one it answers 115, raised as
:class:`~leanorm.errors.NotSupported`. Both LeanCloud (by default) and Parse need the master key to push.

>>> import leanorm
>>> from leanorm import push
>>> _ = leanorm.connect("local://:memory:")
>>> phone = push.Installation(device_type="android", installation_id="d-1", channels=["news"]).save()
>>> with leanorm.using_master():
...     sent = push.send({"alert": "Hello"}, channels=["news"])
...     [i.id for i in sent.installations()] == [phone.id]
True
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import arrow

from .client import Client
from .config import get_client
from .protocol.encoding import encode, encode_date
from .errors import LeanCloudError, NotSupported
from .fields import BooleanField, DateTimeField, DictField, IntegerField, ListField, StringField
from .models import Model
from .query.queryset import QuerySet

__all__ = ["Installation", "Notification", "send"]

When = Union[_dt.datetime, _dt.date, arrow.Arrow]

#: Parse Server's answer to a push when no push adapter is configured
_PUSH_MISCONFIGURED = 115


class Installation(Model):
    """A device that can receive pushes (``_Installation``): ``device_type`` and one of
    ``installation_id`` (Android) or ``device_token`` (iOS) identify it; ``channels`` subscribe it."""

    device_type: StringField[str] = StringField(db_field="deviceType", required=True)
    device_token: StringField[Optional[str]] = StringField(db_field="deviceToken")
    installation_id: StringField[Optional[str]] = StringField(db_field="installationId")
    channels: ListField[List[str]] = ListField(StringField())
    badge: IntegerField[Optional[int]] = IntegerField()
    time_zone: StringField[Optional[str]] = StringField(db_field="timeZone")
    device_profile: StringField[Optional[str]] = StringField(db_field="deviceProfile")
    apns_topic: StringField[Optional[str]] = StringField(db_field="apnsTopic")
    apns_team_id: StringField[Optional[str]] = StringField(db_field="apnsTeamId")
    #: ``False`` stops pushes to this device (LeanCloud and the embedded backend)
    valid: BooleanField[Optional[bool]] = BooleanField()

    class Meta:
        class_name = "_Installation"

    def _collection_path(self) -> str:
        return "installations"


class Notification(Model):
    """A push that was sent (``_Notification``). ``status`` is ``done`` (``scheduled`` while its
    ``push_time`` is ahead), ``devices`` how many installations it targets; on the embedded backend
    ``installation_ids`` lists them."""

    data: DictField[Optional[Dict[str, Any]]] = DictField()
    #: the JSON text of the push's query (a stored object has no ``$`` keys), as Parse's ``query``
    where: StringField[Optional[str]] = StringField()
    channels: ListField[List[str]] = ListField(StringField())
    cql: StringField[Optional[str]] = StringField()
    prod: StringField[Optional[str]] = StringField()
    status: StringField[Optional[str]] = StringField()
    devices: IntegerField[Optional[int]] = IntegerField()
    successes: IntegerField[Optional[int]] = IntegerField()
    invalid_tokens: IntegerField[Optional[int]] = IntegerField(db_field="invalidTokens")
    push_time: DateTimeField[Optional[arrow.Arrow]] = DateTimeField()
    expiration_time: DateTimeField[Optional[arrow.Arrow]] = DateTimeField()
    expiration_interval: IntegerField[Optional[int]] = IntegerField()
    flow_control: IntegerField[Optional[int]] = IntegerField()
    installation_ids: ListField[List[str]] = ListField(StringField(), db_field="installationIds")

    class Meta:
        class_name = "_Notification"

    def installations(self) -> "QuerySet[Installation]":
        """The installations this push targets (from ``installation_ids``: the embedded backend)."""
        return Installation.objects.filter(id__in=self.installation_ids or [])


def _iso(name: str, value: Any) -> str:
    if not isinstance(value, (_dt.datetime, _dt.date, arrow.Arrow)):
        raise TypeError(f"{name} must be a datetime, date or arrow.Arrow, not {type(value).__name__}")
    return encode_date(value)["iso"]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
        if value != int(value):
            raise ValueError(f"{name} must be whole seconds, not {value}")
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {value}")
    return value


def _push_body(client: "Client", data: Mapping[str, Any], channels: Optional[Sequence[str]],
               push_time: Optional[When], expiration_time: Optional[When],
               expiration_interval: Union[int, _dt.timedelta, None], where: Optional[QuerySet[Any]],
               cql: Optional[str], flow_control: Optional[int], prod: Optional[str]) -> Dict[str, Any]:
    """The body of ``POST push``, every argument checked (nothing is sent when one is wrong)."""
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict, not {type(data).__name__}")
    body: Dict[str, Any] = {"data": encode(dict(data))}
    if channels is not None:
        if isinstance(channels, str) or not all(isinstance(c, str) for c in channels) or not channels:
            raise TypeError("channels must be a non-empty list of channel names")
        body["channels"] = list(channels)
    if where is not None and cql is not None:
        raise ValueError("where and cql select the installations two ways: give one")
    if where is not None:
        if not isinstance(where, QuerySet) or not issubclass(where.model, Installation):
            raise TypeError("where must be a QuerySet of Installation (Installation.objects.filter(...))")
        if where._none:
            raise ValueError("where is none(): it would push to nobody; do not send")
        if where._sliced():
            raise ValueError("where cannot be sliced: a push goes to every installation that matches")
        body["where"] = where.where(client)
    if cql is not None:
        if not isinstance(cql, str) or not cql.strip():
            raise TypeError("cql must be a CQL statement over _Installation")
        body["cql"] = cql
    if expiration_time is not None and expiration_interval is not None:
        raise ValueError("give expiration_time or expiration_interval, not both")
    if push_time is not None:
        body["push_time"] = _iso("push_time", push_time)
    if expiration_time is not None:
        body["expiration_time"] = _iso("expiration_time", expiration_time)
        if push_time is not None and body["expiration_time"] <= body["push_time"]:
            raise ValueError("expiration_time must be after push_time")
    if expiration_interval is not None:
        body["expiration_interval"] = _positive_int("expiration_interval", expiration_interval)
    if flow_control is not None:
        body["flow_control"] = _positive_int("flow_control", flow_control)
    if prod is not None:
        if prod not in ("dev", "prod"):
            raise ValueError(f'prod must be "dev" or "prod" (the APNs certificate), not {prod!r}')
        body["prod"] = prod
    return body


def send(data: Mapping[str, Any], channels: Optional[Sequence[str]] = None, push_time: Optional[When] = None,
         expiration_time: Optional[When] = None, expiration_interval: Union[int, _dt.timedelta, None] = None,
         where: Optional[QuerySet[Any]] = None, cql: Optional[str] = None, flow_control: Optional[int] = None,
         prod: Optional[str] = None, *, client: Optional[Client] = None) -> Notification:
    """Push ``data`` (``{"alert": ..., "badge": ...}``, or per platform ``{"ios": {...}, "android":
    {...}}``) to the installations in ``channels`` and/or matching ``where`` (a QuerySet of
    :class:`Installation`) or ``cql``; every installation when none is given.

    :param push_time: when to deliver (a datetime; naive ones are UTC)
    :param expiration_time: when undelivered copies expire; or ``expiration_interval``, seconds (or a
        timedelta) after the push; not both
    :param flow_control: installations notified per second (LeanCloud raises values under 1000 to 1000)
    :param prod: the APNs certificate, ``"dev"`` or ``"prod"``
    :returns: the recorded :class:`Notification`; the fields sent are set, the others (``status``,
        ``devices``...) load on first access, which needs the master key
    :raises NotSupported: on a Parse Server without a push adapter
    """
    client = get_client(client)
    body = _push_body(client, data, channels, push_time, expiration_time, expiration_interval, where, cql,
                      flow_control, prod)
    try:
        answer = client.request("POST", "push", body=body)
    except LeanCloudError as exc:
        if exc.code == _PUSH_MISCONFIGURED:
            raise NotSupported(f"push ({exc.message}: Parse Server needs a push adapter)", client.backend) from exc
        raise
    # the notification is stored with the keys sent; its dates as Date values
    sent = {k: {"__type": "Date", "iso": v} if k in ("push_time", "expiration_time") else v for k, v in body.items()}
    # a Parse Server with a push adapter answers {"result": true} only: nothing to load the rest from
    recorded = bool(answer.get("objectId"))
    return Notification._from_wire({**sent, **answer} if recorded else sent, client, partial=recorded)
