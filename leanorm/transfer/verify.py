"""``leanorm verify``: two copies of an application compared class by class and object by object.

Per class, the counts, then a digest per object over its values, ACL and pointers, with every file it
refers to taken by the SHA-256 of its bytes (a copied file has a new id and url: its bytes are what must
match), and the members of each Relation field. Every difference is listed. createdAt/updatedAt are
compared where the source has them, unless a side is Parse Server, which sets its own. A field one side
lacks and the other holds with the value a server gives by default (:func:`server_defaults`: the ACL of
an object saved without one, ``emailVerified: false``, a null) is no difference: a sparse export loses
nothing when the target fills in its defaults.

Every pointer of the source to a class compared must resolve to an object of the source: one that does
not (an export read over REST while writes went on, an object deleted without what points to it) is
listed as a dangling pointer of its class, beside the differences.

Either side is a backend (a client with the master key) or an export (:mod:`.export_format`). The source
side's digests are held in memory (a few dozen bytes per object); the target is streamed against them.

>>> import leanorm
>>> a = leanorm.connect("local://:memory:", default=False)
>>> b = leanorm.connect("local://:memory:", default=False)
>>> with leanorm.using_master():
...     _ = a.request("POST", "classes/Note", body={"objectId": "n1", "text": "hi"})
...     _ = b.request("POST", "classes/Note", body={"objectId": "n1", "text": "ho"})
>>> verify(a, b, timestamps=False)["Note"].lines()
['Note: 1 objects in the source, 1 in the target, 1 differences', '  n1: text differs']
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

from ..auth_context import using_master
from ..client import Client
from ..errors import LeanCloudError
from ..embedded.access import phones
from ..embedded.answers import ProtocolError
from .export_format import Export
from .fetch import FetchPolicy
from .file_copies import download, file_key, trusting_backends
from .importer import SKIPPED_CLASSES
from .relations import relation_members
from .scan import class_names, pages
from .rows import SERVER_KEYS, is_relation, relation_fields
from .users import CREDENTIAL_KEYS

__all__ = ["verify", "ClassComparison"]

#: a user's fields that are not data: its credentials, which no server answers alike (``_User`` only:
#: elsewhere a ``password`` is the app's own data, e.g. the hashes of Waline's ``Users`` class)
_CREDENTIALS = frozenset({*CREDENTIAL_KEYS, "legacyPassword", "sessionToken"})


@dataclass
class ClassComparison:
    """One class: how many objects each side holds and every difference found."""

    class_name: str
    source: int = 0
    target: int = 0
    differences: List[str] = field(default_factory=list)
    #: pointers of the source's objects to objects the source does not hold
    dangling: List[str] = field(default_factory=list)
    #: files whose bytes could not be read to compare them, with the reason: a difference in a field
    #: holding one says only that the bytes were not compared
    unreadable: List[str] = field(default_factory=list)

    def lines(self) -> List[str]:
        dangling = f", {len(self.dangling)} dangling pointers in the source" if self.dangling else ""
        return [f"{self.class_name}: {self.source} objects in the source, {self.target} in the target, "
                f"{len(self.differences)} differences{dangling}", *(f"  {d}" for d in self.differences),
                *(f"  dangling: {d}" for d in self.dangling),
                *(f"  file not compared: {u}" for u in self.unreadable)]


class _Side:
    """One copy: its classes, its objects, its relation members and its file bytes."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._file_digests: Dict[str, str] = {}
        self.unreadable: List[str] = []  # why each file that could not be read was not
        self.policy = policy  # which file urls are fetched

    def classes(self) -> List[str]:
        raise NotImplementedError

    def rows(self, class_name: str) -> Iterator[Dict[str, Any]]:
        raise NotImplementedError

    def members(self, class_name: str, key: str, member_class: str, owners: Sequence[str]) -> Dict[str, Set[str]]:
        raise NotImplementedError

    def _file_url(self, value: Dict[str, Any]) -> Optional[str]:
        return value.get("url")

    def _file_server(self) -> Optional[Client]:
        """The backend that serves this side's files, when it is one."""
        return None

    def file_digest(self, value: Dict[str, Any]) -> str:
        key = file_key(value) or ""
        if key not in self._file_digests:
            url = self._file_url(value)
            try:
                self._file_digests[key] = _digest_url(url, self.policy, self._file_server()) if url \
                    else f"no bytes for {key}"
            except OSError as exc:
                self._file_digests[key] = f"unreadable: {url}"
                self.unreadable.append(str(exc))
        return self._file_digests[key]

    @property
    def keeps_timestamps(self) -> bool:
        return True


def _sha256(stream: BinaryIO) -> str:
    """The SHA-256 of ``stream``'s bytes, read in 64 KiB chunks."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _digest_url(url: str, policy: FetchPolicy, client: Optional[Client] = None) -> str:
    """The SHA-256 of the bytes at ``url``; OSError when they cannot be read (refused by ``policy``)."""
    with download(url, policy, client=client) as data:
        return _sha256(data)


class _ClientSide(_Side):
    def __init__(self, client: Client, policy: FetchPolicy) -> None:
        super().__init__(trusting_backends(policy, client))
        self.client = client

    @property
    def keeps_timestamps(self) -> bool:
        return self.client.dialect.name != "parse"

    def classes(self) -> List[str]:
        return class_names(self.client)

    def rows(self, class_name: str) -> Iterator[Dict[str, Any]]:
        for page in pages(self.client, class_name):
            yield from page

    def members(self, class_name: str, key: str, member_class: str, owners: Sequence[str]) -> Dict[str, Set[str]]:
        return relation_members(self.client, class_name, key, member_class, owners)

    def _file_server(self) -> Optional[Client]:
        return self.client

    def _file_url(self, value: Dict[str, Any]) -> Optional[str]:
        if value.get("__type") == "Pointer":
            with using_master():
                try:
                    return self.client.request("GET", f"classes/_File/{value['objectId']}").get("url")
                except LeanCloudError:
                    return None
        return value.get("url")


class _ExportSide(_Side):
    def __init__(self, export: Export, policy: FetchPolicy) -> None:
        super().__init__(policy)
        self.export = export
        self._files: Dict[str, Dict[str, Any]] = {}  # exported file id -> its _File row
        self._joined: Dict[Tuple[str, str], Dict[str, Set[str]]] = {}  # (owner class, key) -> owner -> members

    def classes(self) -> List[str]:
        return sorted(n for n in self.export.classes() if n not in SKIPPED_CLASSES)

    def rows(self, class_name: str) -> Iterator[Dict[str, Any]]:
        for row in self.export.rows(self.export.classes()[class_name]):
            if row.data is not None and isinstance(row.data.get("objectId"), str):
                yield row.data

    def members(self, class_name: str, key: str, member_class: str, owners: Sequence[str]) -> Dict[str, Set[str]]:
        if (class_name, key) not in self._joined:  # read once: the owners are asked for a chunk at a time
            self._joined[(class_name, key)] = self._read_join(class_name, key)
        held = self._joined[(class_name, key)]
        return {owner: set(held.get(owner, ())) for owner in owners}

    def _read_join(self, class_name: str, key: str) -> Dict[str, Set[str]]:
        """Every owner's members in the export's relation files of ``class_name``'s ``key``."""
        found: Dict[str, Set[str]] = {}
        for join, name in self.export.joins():
            if (join.owner, join.key) == (class_name, key):
                for row in self.export.rows(name):
                    data = row.data or {}
                    if isinstance(data.get("owningId"), str) and isinstance(data.get("relatedId"), str):
                        found.setdefault(data["owningId"], set()).add(data["relatedId"])
        return found

    def file_digest(self, value: Dict[str, Any]) -> str:
        key = file_key(value) or ""
        if key in self._file_digests:
            return self._file_digests[key]
        if not self._files and "_File" in self.export.classes():
            self._files = {row["objectId"]: row for row in self.rows("_File")}
        row = self._files.get(key, {})
        member = self.export.file_named(row.get("objectId"), row.get("key"), row.get("name")) if row else None
        if member is not None:
            with self.export.open(member) as stream:
                self._file_digests[key] = _sha256(stream)
            return self._file_digests[key]
        return super().file_digest({**value, "url": row.get("url") or value.get("url")})


#: what an object without an ACL allows: anyone reads and writes it
PUBLIC_ACL = {"*": {"read": True, "write": True}}
#: fields a server adds to a user saved without them, with the value it gives
_USER_DEFAULTS = {"emailVerified": False, "mobilePhoneVerified": False}


def server_defaults(class_name: str, object_id: str) -> Dict[str, List[Any]]:
    """The values a server may give each field of an object that was written without it: the ACL of an
    object saved without one (public; a user's own, readable by all or by the user alone, as LeanCloud,
    the embedded backend and Parse Server give a new user), the verification flags of a user, and null
    for any field (``"*"``)."""
    acls: List[Any] = [PUBLIC_ACL]
    out: Dict[str, List[Any]] = {"*": [None]}
    if class_name == "_User":  # LeanCloud's and the embedded backend's; Parse Server's for a master-key write
        acls += [{"*": {"read": True}, object_id: {"read": True, "write": True}},
                 {object_id: {"read": True, "write": True}}]
        out.update({key: [value] for key, value in _USER_DEFAULTS.items()})
    out["ACL"] = acls
    return out


def _normal(side: _Side, value: Any) -> Any:
    """``value`` with file references replaced by their bytes' digest."""
    if isinstance(value, list):
        return [_normal(side, v) for v in value]
    if not isinstance(value, dict):
        return value
    if file_key(value) is not None:
        return {"file sha256": side.file_digest(value)}
    return {k: _normal(side, v) for k, v in value.items()}


def _digest(side: Optional[_Side], value: Any) -> str:
    text = json.dumps(_normal(side, value) if side is not None else value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fields(side: _Side, class_name: str, row: Dict[str, Any], timestamps: bool) -> Dict[str, str]:
    """A short digest per field of ``row`` (Relation values, a user's credentials and, unless asked, timestamps left
    out)."""
    out = {}
    ignored = _CREDENTIALS if class_name == "_User" else frozenset()
    for key, value in row.items():
        if key in ignored or key == "objectId" or (key in SERVER_KEYS and not timestamps):
            continue
        if is_relation(value):
            continue
        out[key] = _digest(side, _one_spelling(key, value))
    return out


def _one_spelling(key: str, value: Any) -> Any:
    """A phone number as E.164, so that LeanCloud's ``13800138000`` and the ``+8613800138000`` the
    embedded backend stores are one value (numbers without ``+`` read as LeanCloud reads them: ``CN``);
    anything that is no valid number stays as it is."""
    if key != phones.FIELD or not isinstance(value, str):
        return value
    try:
        return phones.e164(value, phones.DEFAULT_REGION)
    except ProtocolError:
        return value


def _changed(class_name: str, object_id: str, got: Dict[str, str], want: Dict[str, str]) -> List[str]:
    """The fields whose digests differ, but for a timestamp the source lacks (the target's to choose) and
    a field one side lacks that the other holds with a server's default."""
    defaults = server_defaults(class_name, object_id)
    out = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) == want.get(key) or (key in SERVER_KEYS and key not in want):
            continue
        present = got.get(key) if key not in want else want.get(key) if key not in got else None
        if present is not None and present in {_digest(None, v) for v in defaults.get(key, []) + defaults["*"]}:
            continue
        out.append(key)
    return out


#: (owner objectId, field, target class, target objectId): a pointer an object of the source holds
Pointer = Tuple[str, str, str, str]


def _pointers(row: Dict[str, Any]) -> Iterator[Pointer]:
    """The pointers ``row`` holds in its fields, alone or in an array (a file's pointer is compared by its
    bytes, not here)."""
    for key, value in row.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and item.get("__type") == "Pointer" and item.get("className") != "_File" \
                    and isinstance(item.get("className"), str) and isinstance(item.get("objectId"), str):
                yield row["objectId"], key, item["className"], item["objectId"]


def _compare_class(source: _Side, target: _Side, class_name: str, timestamps: bool,
                   held: Dict[str, Set[str]], pointers: List[Pointer]) -> ClassComparison:
    """Compare one class; the source's objectIds of it go into ``held``, its pointers into ``pointers``."""
    result = ClassComparison(class_name)
    unread_before = len(source.unreadable), len(target.unreadable)
    expected: Dict[str, Dict[str, str]] = {}
    relations: Dict[str, str] = {}
    for row in source.rows(class_name):
        result.source += 1
        relations.update(relation_fields(row))
        if class_name != "_File":  # a copied file is a new object: compared through its references
            expected[row["objectId"]] = _fields(source, class_name, row, timestamps)
            pointers.extend(_pointers(row))
    held[class_name] = set(expected)
    seen: Set[str] = set()
    for row in target.rows(class_name):
        result.target += 1
        if class_name == "_File":
            continue
        object_id = row["objectId"]
        seen.add(object_id)
        if object_id not in expected:
            result.differences.append(f"{object_id}: only in the target")
            continue
        changed = _changed(class_name, object_id, _fields(target, class_name, row, timestamps), expected[object_id])
        if changed:
            result.differences.append(f"{object_id}: {', '.join(changed)} differ{'s' if len(changed) == 1 else ''}")
    result.differences += [f"{object_id}: missing from the target" for object_id in sorted(set(expected) - seen)]
    if class_name == "_File" and result.target < result.source:
        result.differences.append(f"{result.source - result.target} files fewer in the target")
    result.unreadable = [*source.unreadable[unread_before[0]:], *target.unreadable[unread_before[1]:]]
    owners = sorted(seen & set(expected))
    for key, member_class in sorted(relations.items()):
        for start in range(0, len(owners), 50):
            chunk = owners[start:start + 50]
            want_members = source.members(class_name, key, member_class, chunk)
            got_members = target.members(class_name, key, member_class, chunk)
            for owner in chunk:
                if want_members.get(owner, set()) != got_members.get(owner, set()):
                    missing = sorted(want_members.get(owner, set()) - got_members.get(owner, set()))
                    extra = sorted(got_members.get(owner, set()) - want_members.get(owner, set()))
                    result.differences.append(f"{owner}: relation {key} lacks {missing} has extra {extra}")
    return result


def _side(value: Union[Client, Export], policy: FetchPolicy) -> _Side:
    return _ExportSide(value, policy) if isinstance(value, Export) else _ClientSide(value, policy)


def verify(source: Union[Client, Export], target: Client, classes: Optional[Sequence[str]] = None, *,
           timestamps: Optional[bool] = None, fetch_policy: FetchPolicy = FetchPolicy()) -> Dict[str, ClassComparison]:
    """Compare ``source`` with ``target`` (see the module); a :class:`ClassComparison` per class.

    :param timestamps: compare createdAt/updatedAt (default: unless a side is Parse Server)
    :param fetch_policy: which file urls are fetched to compare their bytes (:mod:`.fetch`; each
        backend's own origin is trusted)
    """
    src, dst = _side(source, fetch_policy), _side(target, fetch_policy)
    if timestamps is None:
        timestamps = src.keeps_timestamps and dst.keeps_timestamps
    names = [n for n in src.classes() if not classes or n in classes]
    if not dst.keeps_timestamps or not src.keeps_timestamps:
        names = [n for n in names if n != "_File"]  # Parse Server keeps no file objects
    held: Dict[str, Set[str]] = {}
    pointers: Dict[str, List[Pointer]] = {name: [] for name in names}
    comparisons = {name: _compare_class(src, dst, name, timestamps, held, pointers[name]) for name in names}
    for name, comparison in comparisons.items():
        comparison.dangling = [f"{owner}: {key} points to {target} {object_id}, which the source does not hold"
                               for owner, key, target, object_id in pointers[name]
                               if target in held and object_id not in held[target]]
    return comparisons
