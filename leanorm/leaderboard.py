"""LeanCloud's leaderboards: statistics of users (or of objects, or of named entities) ranked per
leaderboard, with versions that reset by day, week or month.

Creating, changing, resetting and deleting a leaderboard need the master key (``using_master()``); a
user updates its own statistics (the master key anyone's). LeanCloud and the embedded backend have it;
Parse Server does not (:class:`~leanorm.errors.NotSupported`). See docs/leaderboards.md.

>>> import leanorm
>>> from leanorm import User, as_user, using_master
>>> from leanorm.leaderboard import Leaderboard, update_statistics
>>> _ = leanorm.connect("local://:memory:")
>>> with using_master():
...     board = Leaderboard.create("wins", order="descending", update_strategy="sum")
>>> ann = User.signup(username="ann", password="pw")
>>> bob = User.signup(username="bob", password="pw")
>>> with as_user(ann):
...     update_statistics(ann, {"wins": 3})
...     update_statistics(ann, {"wins": 2})
[Statistic(name='wins', value=3, version=0)]
[Statistic(name='wins', value=5, version=0)]
>>> with as_user(bob):
...     _ = update_statistics(bob, {"wins": 4})
>>> [(r.rank, r.user.username, r.value) for r in board.results(user_keys=["username"])]
[(0, 'ann', 5), (1, 'bob', 4)]
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Iterable, List, Literal, Mapping, Optional, Union

import arrow

from .registry import registry
from .config import get_client
from .errors import LeanORMError
from .models import Model, resolve_pointer
from .protocol.encoding import decode_date

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["Leaderboard", "Statistic", "Ranking", "Archive", "update_statistics", "statistics",
           "delete_statistics", "Member", "Order", "UpdateStrategy", "VersionChangeInterval"]

Order = Literal["ascending", "descending"]
UpdateStrategy = Literal["better", "last", "sum"]
VersionChangeInterval = Literal["day", "week", "month", "never"]
#: a leaderboard's member: a user or another saved object, or an entity's name
Member = Union[Model, str]


@dataclasses.dataclass(frozen=True)
class Statistic:
    """A member's value in one leaderboard's version."""

    name: str
    value: Optional[float]
    version: Optional[int]


@dataclasses.dataclass(frozen=True)
class Ranking:
    """One place of a leaderboard: the member (a user or object instance, or an entity's name), its
    value, and its values in the other leaderboards asked for."""

    rank: int
    value: float
    member: Any
    statistics: List[Statistic]

    @property
    def user(self) -> Any:
        """The member of a users' leaderboard (the ``user`` of LeanCloud's SDKs)."""
        return self.member


@dataclasses.dataclass(frozen=True)
class Archive:
    """A past version of a leaderboard."""

    version: int
    status: str
    activated_at: arrow.Arrow
    deactivated_at: arrow.Arrow
    url: Optional[str]


def _client(client: Optional["Client"]) -> "Client":
    client = get_client(client)
    client.require("leaderboards", "leaderboards")
    return client


def _date(value: Any) -> Optional[arrow.Arrow]:
    return decode_date(value["iso"]) if isinstance(value, dict) and value.get("iso") else None


def _keys(names: Iterable[str]) -> Optional[str]:
    joined = ",".join(names)
    return joined or None


def _statistic(raw: Mapping[str, Any]) -> Statistic:
    return Statistic(raw["statisticName"], raw.get("statisticValue"), raw.get("version"))


def _member_path(member: Member) -> str:
    if isinstance(member, str):
        return f"leaderboard/entities/{member}/statistics"
    if not member.id:
        raise LeanORMError("a leaderboard member must be saved first")
    kind = "users" if member._meta.class_name == "_User" else "objects"
    return f"leaderboard/{kind}/{member.id}/statistics"


@dataclasses.dataclass
class Leaderboard:
    """A leaderboard as the backend last answered it."""

    name: str
    order: Order = "descending"
    update_strategy: UpdateStrategy = "better"
    version_change_interval: VersionChangeInterval = "week"
    member_type: str = "_User"
    version: int = 0
    next_reset_at: Optional[arrow.Arrow] = None
    created_at: Optional[arrow.Arrow] = None
    client: Optional["Client"] = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def _from_wire(cls, raw: Mapping[str, Any], client: "Client") -> "Leaderboard":
        return cls(name=raw["statisticName"], order=raw["order"], update_strategy=raw["updateStrategy"],
                   version_change_interval=raw["versionChangeInterval"], member_type=raw.get("memberType", "_User"),
                   version=int(raw["version"]), next_reset_at=_date(raw.get("expiredAt")),
                   created_at=decode_date(raw["createdAt"]) if raw.get("createdAt") else None, client=client)

    @classmethod
    def create(cls, name: str, *, order: Order = "descending", update_strategy: UpdateStrategy = "better",
               version_change_interval: VersionChangeInterval = "week", member_type: str = "_User",
               client: Optional["Client"] = None) -> "Leaderboard":
        """A new leaderboard (master key). ``member_type``: ``_User``, ``_Entity`` or a class name."""
        client = _client(client)
        answer = client.request("POST", "leaderboard/leaderboards", body={
            "statisticName": name, "order": order, "updateStrategy": update_strategy,
            "versionChangeInterval": version_change_interval, "memberType": member_type})
        return cls._from_wire(answer, client)

    @classmethod
    def get(cls, name: str, *, client: Optional["Client"] = None) -> "Leaderboard":
        client = _client(client)
        return cls._from_wire(client.request("GET", f"leaderboard/leaderboards/{name}"), client)

    def _request(self, method: str, path: str = "", params: Optional[Mapping[str, Any]] = None,
                 body: Any = None) -> Any:
        return _client(self.client).request(method, f"leaderboard/leaderboards/{self.name}{path}", params, body)

    def update(self, *, order: Optional[Order] = None, update_strategy: Optional[UpdateStrategy] = None,
               version_change_interval: Optional[VersionChangeInterval] = None) -> None:
        """Change the given settings (master key); a new interval counts from now."""
        body = {k: v for k, v in (("order", order), ("updateStrategy", update_strategy),
                                  ("versionChangeInterval", version_change_interval)) if v is not None}
        self._request("PUT", body=body)
        self.refresh()

    def refresh(self) -> None:
        fresh = Leaderboard.get(self.name, client=self.client)
        for field in dataclasses.fields(self):
            if field.name != "client":
                setattr(self, field.name, getattr(fresh, field.name))

    def reset(self) -> None:
        """Archive the current version and start the next (master key)."""
        answer = self._request("PUT", "/incrementVersion")
        self.version, self.next_reset_at = int(answer["version"]), _date(answer.get("expiredAt"))

    def delete(self) -> None:
        """The leaderboard, every version's statistics and its archives (master key)."""
        self._request("DELETE")

    def archives(self, skip: int = 0, limit: int = 10) -> List[Archive]:
        """Past versions, newest first (master key)."""
        answer = self._request("GET", "/archives", {"skip": str(int(skip)), "limit": str(int(limit))})
        return [Archive(a["version"], a["status"], decode_date(a["activatedAt"]["iso"]),
                        decode_date(a["deactivatedAt"]["iso"]), a.get("url")) for a in answer["results"]]

    def count(self, version: Optional[int] = None) -> int:
        """How many members the version (the current one by default) ranks."""
        params = {"count": "1", "limit": "0", **({"version": str(int(version))} if version is not None else {})}
        return int(self._request("GET", "/ranks", params)["count"])

    def results(self, *, skip: int = 0, limit: int = 20, user_keys: Iterable[str] = (),
                include_keys: Iterable[str] = (), include_statistics: Iterable[str] = (),
                version: Optional[int] = None) -> List[Ranking]:
        """A page of the rankings, best first. ``user_keys``: fields of each member to load (as the
        caller may read them); ``include_keys``: pointers among them to load too; ``include_statistics``:
        the members' values in other leaderboards."""
        return self._ranks("", skip, limit, user_keys, include_keys, include_statistics, version)

    def results_around(self, member: Optional[Member] = None, *, limit: int = 20, user_keys: Iterable[str] = (),
                       include_keys: Iterable[str] = (), include_statistics: Iterable[str] = (),
                       version: Optional[int] = None) -> List[Ranking]:
        """The page of ``limit`` rankings centred on ``member`` (the current user by default)."""
        target = "self" if member is None else member if isinstance(member, str) else member.id
        return self._ranks(f"/{target}", 0, limit, user_keys, include_keys, include_statistics, version)

    def _ranks(self, suffix: str, skip: int, limit: int, user_keys: Iterable[str], include_keys: Iterable[str],
               include_statistics: Iterable[str], version: Optional[int]) -> List[Ranking]:
        include = list(include_keys)
        params = {"skip": str(int(skip)), "limit": str(int(limit)),
                  "selectUserKeys": _keys(dict.fromkeys([*user_keys, *include])),
                  "includeUser": _keys(include), "includeStatistics": _keys(include_statistics),
                  "version": None if version is None else str(int(version))}
        answer = self._request("GET", f"/ranks{suffix}", {k: v for k, v in params.items() if v is not None})
        client = _client(self.client)
        return [Ranking(int(raw["rank"]), raw["statisticValue"], _member(client, raw),
                        [_statistic(s) for s in raw.get("statistics", [])]) for raw in answer["results"]]


def _member(client: "Client", ranking: Mapping[str, Any]) -> Any:
    """A ranking's member: an entity's name, or an instance of the member's model holding the keys the
    ranking carried (the rest loads on first read); a class with no model stays the wire dict."""
    if "entity" in ranking:
        return ranking["entity"]
    wire = ranking.get("user") or ranking.get("object") or {}
    body = {k: v for k, v in wire.items() if k not in ("__type", "className")}
    model = registry.get(wire["className"])
    if model is None or len(body) == 1:  # no model, or a bare pointer: the resolver's stub or dict
        return resolve_pointer(client, client.auth_identity(), wire["className"], wire["objectId"], None)
    return model._from_wire(body, client, partial=True)


def update_statistics(member: Member, values: Mapping[str, float], *, overwrite: bool = False,
                      client: Optional["Client"] = None) -> List[Statistic]:
    """Submit ``{leaderboard name: value}`` for a member (a user: itself, or any with the master key;
    objects and entities: master key); each leaderboard keeps what its strategy says (``overwrite``,
    master key: the value as given). Returns the values kept."""
    body = [{"statisticName": name, "statisticValue": value} for name, value in values.items()]
    answer = _client(client).request("POST", _member_path(member), {"overwrite": "1"} if overwrite else None, body)
    return [_statistic(s) for s in answer["results"]]


def statistics(member: Member, names: Iterable[str] = (), *, client: Optional["Client"] = None) -> List[Statistic]:
    """The member's values in the current version of every leaderboard it is on (or of ``names``)."""
    joined = _keys(names)
    answer = _client(client).request("GET", _member_path(member), {"statistics": joined} if joined else None)
    return [_statistic(s) for s in answer["results"]]


def delete_statistics(member: Member, names: Iterable[str], *, client: Optional["Client"] = None) -> None:
    """Take the member off these leaderboards' current versions."""
    _client(client).request("DELETE", _member_path(member), {"statistics": _keys(names) or ""})

