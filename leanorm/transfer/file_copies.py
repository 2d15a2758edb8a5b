"""Files crossing backends: their bytes uploaded to the target, every reference rewritten to the copy.

Objects refer to a file as ``{"__type": "File", "id" | "objectId" | "url", ...}`` or as a Pointer to
``_File``; both are recognised. On a target that keeps files as ``_File`` objects (the embedded
backend, LeanCloud) a Pointer stays a Pointer to the new file; on Parse Server, which has no file
objects, it becomes the File value. A column holding both shapes (LeanCloud lets one) is written in
one: the type the target's schema gives the column, else the shape its first value had
(:meth:`FileMover.rewrite_object`), since a typed target refuses the other (111).

A second run must upload nothing twice. The map from exported file to uploaded copy is kept in the
:class:`~leanorm.transfer.checkpoint.Checkpoint`; beyond it, a target with file objects is asked for
the copies it holds (each copy's ``metaData.importedFrom`` names the exported file, and its
``metaData.importSeal`` proves the import made it: metadata is anyone's to write, an uploader's on
LeanCloud before the export as a client's on the target), and on Parse
Server, where nothing can be asked, a file is uploaded only when an object that refers to it is
written (objects already there are skipped, so their files are not uploaded again). The map holds one
entry per file: the only part of an import whose memory grows with the data.
"""
from __future__ import annotations

import hashlib
import hmac
import tempfile
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Tuple, cast

from ..acl import ACL
from ..auth_context import using_master
from ..client import Client
from ..errors import LeanCloudError
from ..files import File
from ..protocol.encoding import pointer as wire_pointer
from ..transport import HTTPTransport, LocalTransport, Request
from .checkpoint import Checkpoint
from .fetch import FetchPolicy, fetch
from .report import ClassReport
from .retry import retrying

__all__ = ["FileMover", "file_key", "download", "trusting_backends"]

#: bytes of a downloaded file kept in memory before spilling to a temporary file
_SPOOL = 8 * 1024 * 1024
#: the metaData key of an uploaded copy naming the exported file it copies
IMPORTED_FROM = "importedFrom"
#: the metaData key holding :func:`import_seal`: only the master key's holder can make it
IMPORT_SEAL = "importSeal"
Opener = Callable[[], BinaryIO]


def file_key(value: Any) -> Optional[str]:
    """The exported id of a file reference (File value or Pointer to ``_File``), else None."""
    if not isinstance(value, dict):
        return None
    if value.get("__type") == "File":
        return value.get("objectId") or value.get("id") or (f"url:{value['url']}" if value.get("url") else None)
    if value.get("__type") == "Pointer" and value.get("className") == "_File":
        return value.get("objectId")
    return None


def download(url: str, policy: FetchPolicy = FetchPolicy(), client: Optional[Client] = None) -> BinaryIO:
    """The bytes at ``url`` in a seekable spooled file (memory up to 8 MB, then disk), fetched as
    ``policy`` allows (:mod:`.fetch`: public addresses only unless told otherwise). A file of an
    in-process embedded backend (``client`` over ``local://``) is read through that client: its url
    names no reachable host."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
    try:
        if client is not None and isinstance(client.transport, LocalTransport):
            answer = client.transport.send(Request("GET", url))
            if answer.status != 200:
                raise OSError(f"GET {url}: HTTP {answer.status}")
            spool.write(answer.body)
        else:
            fetch(url, cast(BinaryIO, spool), policy)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return cast(BinaryIO, spool)  # a SpooledTemporaryFile is a binary file


def import_seal(target: Client, exported_id: str) -> str:
    """The mark that the copy of ``exported_id`` on ``target`` was made by an import: an HMAC keyed with
    the target's master key (which every import holds and no client does)."""
    key = (target.master_key or "").encode()
    return hmac.new(key, f"leanorm-import:{exported_id}".encode(), hashlib.sha256).hexdigest()[:32]


def trusting_backends(policy: FetchPolicy, *clients: Optional[Client]) -> FetchPolicy:
    """``policy``, also fetching from the origins of ``clients`` (backends the operator named on the
    command line: their own file urls may be on a private address, e.g. a Parse Server on localhost)."""
    return policy.trusting(*(c.transport.base_url for c in clients
                             if c is not None and isinstance(c.transport, HTTPTransport)))


class FileMover:
    """Uploads exported files to ``target`` and rewrites references to them (see the module)."""

    def __init__(self, target: Client, checkpoint: Checkpoint, report: ClassReport, *,
                 adopt_urls_of: Optional[Client] = None, policy: FetchPolicy = FetchPolicy()) -> None:
        """:param adopt_urls_of: the source whose referenced files no ``_File`` row announced are copied
            too, from their url (a migration from Parse Server, whose files are only a name and a url)
        :param policy: which urls those files are fetched from"""
        self.target = target
        self.source = adopt_urls_of
        self.policy = policy
        self.checkpoint = checkpoint
        self.report = report  # the _File class's
        self.objects = target.supports("file_objects")
        self.pending: Dict[str, Tuple[Dict[str, Any], Opener]] = {}  # Parse: uploaded when first referred to
        self._pointer_columns: Dict[str, Dict[str, bool]] = {}  # class -> file column -> holds Pointers

    def add(self, rows: List[Tuple[Dict[str, Any], Opener]], dry_run: bool) -> None:
        """Take a batch of ``_File`` rows with their bytes: uploaded now where files are objects (those
        the target holds already are skipped), else when referred to."""
        new = [(row, opener) for row, opener in rows if row["objectId"] not in self.checkpoint.files]
        self.report.skipped += len(rows) - len(new)
        if not self.objects:
            for row, opener in new:
                self.pending[row["objectId"]] = (row, opener)
                if row.get("url"):
                    self.pending[f"url:{row['url']}"] = (row, opener)
            self.report.copied += len(new) if dry_run else 0
            return
        held = self._copies_on_target([row["objectId"] for row, _ in new])
        for row, opener in new:
            if row["objectId"] in held:
                self._remember(row, held[row["objectId"]])
                self.report.skipped += 1
            elif dry_run:
                self.report.copied += 1
            else:
                self._upload(row, opener)

    def _copies_on_target(self, ids: List[str]) -> Dict[str, Dict[str, Any]]:
        if not ids:
            return {}
        with using_master():
            answer = retrying(lambda: self.target.request("GET", "classes/_File", {
                # asked by seal: a file anyone marked "importedFrom" the same id cannot crowd the copy out
                "where": {f"metaData.{IMPORT_SEAL}": {"$in": [import_seal(self.target, i) for i in ids]}},
                "limit": len(ids)}))
        copies = {}
        for row in answer.get("results", []):
            meta = row.get("metaData") or {}
            exported = meta.get(IMPORTED_FROM)
            if isinstance(exported, str) and hmac.compare_digest(str(meta.get(IMPORT_SEAL, "")),
                                                                 import_seal(self.target, exported)):
                copies[exported] = {"__type": "File", "id": row["objectId"], "name": row.get("name"),
                                    "url": row.get("url")}
        return copies

    def _remember(self, row: Dict[str, Any], ref: Dict[str, Any]) -> None:
        self.checkpoint.file_uploaded(row["objectId"], ref)
        if row.get("url"):
            self.checkpoint.file_uploaded(f"url:{row['url']}", ref)

    def _upload(self, row: Dict[str, Any], opener: Opener) -> Optional[Dict[str, Any]]:
        try:
            ref = retrying(lambda: self._send(row, opener))
        except (LeanCloudError, OSError, ValueError) as exc:
            self.report.fail(row["objectId"], exc)
            return None
        self._remember(row, ref)
        self.report.copied += 1
        return ref

    def _send(self, row: Dict[str, Any], opener: Opener) -> Dict[str, Any]:
        name = row.get("name") or row.get("key") or row["objectId"]
        # the export's own marks are anyone's: only this import marks a copy
        meta = {k: v for k, v in (row.get("metaData") or {}).items()
                if k not in ("owner", "size", "__source", IMPORTED_FROM, IMPORT_SEAL)}
        with opener() as data, using_master():
            copy = File(name, data, row.get("mime_type"))
            copy.metadata = {**(copy.metadata or {}), **meta}
            if self.objects and isinstance(row.get("ACL"), dict):
                copy.acl = ACL.from_wire(row["ACL"])
            copy.save(client=self.target)
            if self.objects:
                # marked only once the upload is complete: a copy a lost connection left half made (a
                # retry uploads another) is never taken for the file's copy by a later run
                copy.metadata = {**(copy.metadata or {}), IMPORTED_FROM: row["objectId"],
                                 IMPORT_SEAL: import_seal(self.target, row["objectId"])}
                retrying(lambda: copy.save(client=self.target))
        return copy.to_wire()

    def _copy_of(self, key: str, value: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        ref = self.checkpoint.files.get(key)
        if ref is None and key not in self.pending and self.source is not None and key.startswith("url:"):
            url, source, policy = key[len("url:"):], self.source, self.policy
            self.pending[key] = ({"objectId": key, "name": value.get("name") or url.rsplit("/", 1)[-1], "url": url},
                                 lambda: download(url, policy, client=source))
        if ref is None and key in self.pending:
            row, opener = self.pending[key]
            ref = self._upload(row, opener)
            if ref is not None:
                self.pending.pop(row["objectId"], None)
                self.pending.pop(f"url:{row.get('url')}", None)
        return ref

    def _column_shapes(self, class_name: str) -> Dict[str, bool]:
        """Which of ``class_name``'s columns hold files as Pointers (True) or File values (False), as the
        target's schema has them (asked once per class)."""
        if class_name not in self._pointer_columns:
            try:
                with using_master():
                    schema = retrying(lambda: self.target.request("GET", f"schemas/{class_name}"))
            except LeanCloudError:  # no such class yet: its first values decide
                schema = {}
            fields = schema.get("fields") if isinstance(schema, dict) else None
            self._pointer_columns[class_name] = {
                key: spec.get("type") == "Pointer" for key, spec in (fields or {}).items()
                if isinstance(spec, dict) and (spec.get("type") == "File" or spec.get("targetClass") == "_File")}
        return self._pointer_columns[class_name]

    def rewrite_object(self, class_name: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """:meth:`rewrite` of an object's write, each file column in the one shape the target takes for it
        (where files are objects; elsewhere every reference is a File value already)."""
        if not self.objects:
            return cast(Dict[str, Any], self.rewrite(body))
        out = {}
        for key, value in body.items():
            ref = self._copy(value) if file_key(value) is not None else None
            if ref is None:
                out[key] = self.rewrite(value)
            elif self._column_shapes(class_name).setdefault(key, value.get("__type") == "Pointer"):
                out[key] = {"__type": "Pointer", "className": "_File", "objectId": ref["id"]}
            else:
                out[key] = ref
        return out

    def _copy(self, value: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The File value of the copy of the file ``value`` refers to, or None when there is none."""
        ref = self._copy_of(file_key(value) or "", value)
        if ref is None and value.get("url"):
            ref = self._copy_of(f"url:{value['url']}", value)
        return ref

    def rewrite(self, value: Any) -> Any:
        """``value`` with every reference to an uploaded file replaced by its copy's."""
        if isinstance(value, list):
            return [self.rewrite(v) for v in value]
        if not isinstance(value, dict):
            return value
        if file_key(value) is not None:
            ref = self._copy(value)
            if ref is None:
                return value  # a file the export does not hold: left as it was
            if value.get("__type") == "Pointer" and self.objects:
                return wire_pointer("_File", ref["id"])
            return ref
        if "__type" in value or "__op" in value:
            return value
        return {k: self.rewrite(v) for k, v in value.items()}
