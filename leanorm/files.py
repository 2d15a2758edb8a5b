"""Files: ``File`` (LeanCloud's ``_File`` objects) and ``FileField`` on models.

Bytes are uploaded as they are read: a file object passed to :class:`File` streams through the
transport (to the storage provider, to Parse's ``files/<name>``, or to the embedded backend's disk), so
a large file is never held in memory by leanorm.

On LeanCloud (and the embedded backend) a file is a ``_File`` object: ``save()`` asks ``fileTokens``
for an upload address, sends the bytes there and confirms with ``fileCallback``; the file has an id,
metadata, an ACL, and ``File.objects`` queries them. On Parse Server a file is only a name and a url
(``POST files/<name>``); id, ACL and ``File.objects`` raise :class:`~leanorm.errors.NotSupported`.

>>> import io, leanorm
>>> from leanorm import File
>>> _ = leanorm.connect("local://:memory:")
>>> f = File("hello.txt", io.BytesIO(b"hello, world")).save()
>>> f.size, f.mime_type, f.url.endswith("/hello.txt")
(12, 'text/plain', True)
>>> File.objects.get(id=f.id).name
'hello.txt'
"""
from __future__ import annotations

import io
import mimetypes
import os
import uuid
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Dict, Iterator, List, Optional, TypeVar, Union
from urllib.parse import quote

from typing_extensions import Self

from . import auth_context
from .aio import run_async
from .config import get_client
from .errors import LeanORMError
from .fields import DictField, Field, StringField
from .models import Model, ModelMeta
from .query.manager import Manager
from .query.queryset import QuerySet

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["File", "FileField"]

Data = Union[bytes, bytearray, BinaryIO]


FileT = TypeVar("FileT", bound="File")


class _FileQuerySet(QuerySet[FileT]):
    """Queries of ``_File`` (or of a subclass of :class:`File`, the SDK's ``class QRCode(File)``): only
    where files are objects (LeanCloud, the embedded backend)."""

    def _params(self, client: "Client") -> Dict[str, Any]:
        client.require("file_objects", "File.objects queries")
        return super()._params(client)


class _FileMeta(ModelMeta):
    """File's metaclass: ModelMeta at runtime. For type checkers it is not ModelMeta, whose
    ``dataclass_transform`` would give every subclass a keyword-only constructor of its fields in place of
    ``File(name, data)``, refusing the SDK's ``class QRCode(File)`` idiom although it runs."""


class File(Model, metaclass=_FileMeta):
    """A stored file: ``File(name, data)`` with bytes or a binary file object, then ``save()``.

    Subclasses keep this constructor and their own type (``class QRCode(File)``: ``QRCode("qr.png", data)``
    is a ``QRCode``, ``QRCode.objects`` a query of them); their extra fields are set as attributes.

    :param name: the file name (its extension guesses the MIME type)
    :param data: bytes, or a binary file object (read while uploading, never whole)
    :param mime_type: the MIME type (default: guessed from ``name``)
    """

    name: StringField[Optional[str]] = StringField()
    url: StringField[Optional[str]] = StringField()
    mime_type: StringField[Optional[str]] = StringField()
    metadata: DictField[Optional[Dict[str, Any]]] = DictField(db_field="metaData")

    objects: ClassVar["Manager[_FileQuerySet[Self]]"] = _FileQuerySet.as_manager()

    #: what ``save()`` uploads (None for a loaded or external file)
    _source: Optional[Data] = None

    class Meta:
        class_name = "_File"

    def __init__(self, name: str, data: Optional[Data] = None, mime_type: Optional[str] = None) -> None:
        if data is not None and not isinstance(data, (bytes, bytearray)) and not hasattr(data, "read"):
            raise TypeError(f"File data must be bytes or a binary file object, not {type(data).__name__}")
        meta: Dict[str, Any] = {"owner": _current_user_id()}
        size = _size_of(data)
        if size is not None:
            meta["size"] = size
        super().__init__(name=name, mime_type=mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
                         metadata=meta)
        self._source = data

    @classmethod
    def create_with_url(cls, name: str, url: str, meta_data: Optional[Dict[str, Any]] = None,
                        mime_type: Optional[str] = None) -> Self:
        """A file whose bytes live elsewhere, at ``url`` (``save()`` registers it, uploading nothing)."""
        f = cls(name, None, mime_type)
        f.url = url
        f.metadata = {**(f.metadata or {}), **(meta_data or {}), "__source": "external"}
        return f

    # -- attributes -------------------------------------------------------------------------------------
    @property
    def size(self) -> Optional[int]:
        """The size in bytes (from the metadata; None when unknown)."""
        return (self.metadata or {}).get("size")

    @property
    def owner_id(self) -> Optional[str]:
        """The objectId of the user who uploaded it (``"unknown"`` for anonymous uploads)."""
        return (self.metadata or {}).get("owner")

    def get_thumbnail_url(self, width: int, height: int, quality: int = 100, scale_to_fit: bool = True,
                          fmt: str = "png") -> str:
        """The url of a scaled image of this file (LeanCloud's image service parameters; the embedded
        backend serves the original bytes at it)."""
        if not self.url:
            raise LeanORMError(f"{self!r} has no url yet: save it first")
        if width < 0 or height < 0:
            raise ValueError("width and height must not be negative")
        if not 0 < quality <= 100:
            raise ValueError("quality must be in 1..100")
        mode = 2 if scale_to_fit else 1
        return f"{self.url}?imageView/{mode}/w/{width}/h/{height}/q/{quality}/format/{fmt}"

    def to_wire(self) -> Dict[str, Any]:
        """The reference to this file stored in other objects (LeanCloud reads ``id``, Parse ``name``)."""
        if self.id is None and not self.url:
            raise LeanORMError(f"{self!r} is not saved: call File.save() before storing it in an object")
        wire: Dict[str, Any] = {"__type": "File", "name": self.name, "url": self.url}
        if self.id is not None:
            wire["id"] = self.id
        return wire

    # -- saving -----------------------------------------------------------------------------------------
    def save(self, *, client: Optional["Client"] = None, **kwargs: Any) -> Self:
        """Upload the bytes (or register the external url); a saved file saves changed metadata/ACL."""
        client = get_client(client, self._client)
        if self.id is not None:
            return super().save(client=client, **kwargs)
        if self._source is None and not self.url:
            raise LeanORMError(f"{self!r} has neither data nor url: nothing to save")
        if client.supports("file_objects"):
            self._save_object(client)
        elif self._source is not None:
            self._save_parse(client)
        else:  # Parse keeps no record of external files: the name and url are the file
            self._saved(client, self._payload(True), {})
        return self

    def _save_object(self, client: "Client") -> None:
        payload = self._payload(True)
        if self._source is None:
            answer = client.request("POST", f"files/{quote(self.name or '', safe='')}", body=payload)
        else:
            answer = client.request("POST", "fileTokens", body={**payload, "key": _key(self.name or "")})
            try:
                _upload(client, answer, self._stream(), self.mime_type or "application/octet-stream")
            except Exception:
                client.request("POST", "fileCallback", body={"token": answer["token"], "result": False})
                raise
            client.request("POST", "fileCallback", body={"token": answer["token"], "result": True})
        self._saved(client, payload, answer)
        for key in ("url", "name"):
            if key in answer:
                self._store(key, answer[key])
        if "size" in answer:
            self._store("metaData", {**(self._stored("metaData") or {}), "size": answer["size"]})
        self._source = None

    def _save_parse(self, client: "Client") -> None:
        if "ACL" in self.changed_keys():
            client.require("file_objects", "an ACL on a file")
        answer = client.send_raw("POST", f"files/{quote(self.name or '', safe='')}", self._stream(),
                                 self.mime_type or "application/octet-stream")
        self._saved(client, self._payload(True), {"name": answer["name"], "url": answer["url"]})
        self._source = None

    def _stream(self) -> Data:
        source = self._source
        if hasattr(source, "seek") and hasattr(source, "seekable") and source.seekable():  # type: ignore[union-attr]
            source.seek(0)  # type: ignore[union-attr]
        return source  # type: ignore[return-value]

    def fetch(self, *, client: Optional["Client"] = None) -> Self:
        """Reload the file's name, url, MIME type and metadata."""
        client = get_client(client, self._client)
        client.require("file_objects", "File.fetch")
        return self.refresh(client=client)

    def destroy(self, *, client: Optional["Client"] = None) -> None:
        """Delete the file and its bytes (on Parse: by name, under ``using_master()``)."""
        client = get_client(client, self._client)
        if self.id is not None:
            client.request("DELETE", f"files/{self.id}")
            client.identity_map.discard(self._meta.class_name, self.id)
        elif self.url:
            client.request("DELETE", f"files/{quote(self.name or '', safe='')}")
        else:
            raise LeanORMError(f"{self!r} was never saved: nothing to delete")

    def delete(self, *, client: Optional["Client"] = None, **kwargs: Any) -> None:
        """The same as :meth:`destroy` (a file's bytes go with its object)."""
        self.destroy(client=client)

    # -- async (docs/async.md): ``asave`` is Model's (it runs :meth:`save`, the upload included) ---------
    async def afetch(self, *, client: Optional["Client"] = None) -> Self:
        """:meth:`fetch` from async code."""
        return await run_async(self.fetch, client=client)

    async def adestroy(self, *, client: Optional["Client"] = None) -> None:
        """:meth:`destroy` from async code."""
        await run_async(self.destroy, client=client)

    def __repr__(self) -> str:
        return f"<File {self.name!r}{' id=' + repr(self.id) if self.id else ''}>"


def _current_user_id() -> str:
    user = auth_context.current_user()
    return getattr(user, "id", None) or "unknown"


def _size_of(data: Optional[Data]) -> Optional[int]:
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    try:
        return os.fstat(data.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    if getattr(data, "seekable", lambda: False)():
        here = data.tell()
        end = data.seek(0, io.SEEK_END)
        data.seek(here)
        return end
    return None


def _key(name: str) -> str:
    """The storage key LeanCloud asks for: random, keeping the extension."""
    ext = os.path.splitext(name)[1].lower()
    return uuid.uuid4().hex + ext


# -- storage providers ------------------------------------------------------------------------------------
_FORM_CHUNK = 1024 * 1024
def _upload(client: "Client", tokens: Dict[str, Any], data: Data, mime_type: str) -> None:
    """Send the bytes where ``fileTokens`` said: S3-style PUT, or a qiniu / qcloud multipart form."""
    provider = tokens.get("provider", "qiniu")
    url = tokens["upload_url"]
    if provider == "s3":
        client.send_raw("PUT", url, data, mime_type, {"Cache-Control": "public, max-age=31536000"})
    elif provider == "qiniu":
        form = _Multipart({"name": tokens.get("key", ""), "key": tokens.get("key", ""), "token": tokens["token"]},
                          "file", data, mime_type)
        client.send_raw("POST", url, form, form.content_type)
    elif provider == "qcloud":
        form = _Multipart({"op": "upload"}, "filecontent", data, mime_type)
        client.send_raw("POST", url, form, form.content_type, {"Authorization": tokens["token"]})
    else:
        raise LeanORMError(f"unknown file storage provider {provider!r}")


class _Multipart:
    """A multipart/form-data body read piece by piece: the file part streams from its source. Iterating
    it makes requests stream it; its ``len`` attribute (when the source's size is known) gives requests
    the Content-Length without building the body, else the form goes chunked."""

    def __init__(self, fields: Dict[str, str], file_field: str, data: Data, mime_type: str) -> None:
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                        for k, v in fields.items())
        head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="file"\r\n'
                 f"Content-Type: {mime_type}\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        source = io.BytesIO(bytes(data)) if isinstance(data, (bytes, bytearray)) else data
        size = _size_of(source)
        if size is not None:
            self.len = len(head) + size + len(tail)
        self._parts: Iterator[Any] = iter((io.BytesIO(head), source, io.BytesIO(tail)))
        self._current: Any = next(self._parts)

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.read(_FORM_CHUNK), b"")

    def read(self, size: int = -1) -> bytes:
        out: List[bytes] = []
        want = size
        while self._current is not None and (want < 0 or want > 0):
            chunk = self._current.read(want if want > 0 else -1)
            if not chunk:
                self._current = next(self._parts, None)
                continue
            out.append(chunk)
            if want > 0:
                want -= len(chunk)
        return b"".join(out)


class FileField(Field[Optional[File]]):
    """A :class:`File` stored in a model (save the file first). Reads back as a ``File`` whether the
    column holds File values or Pointers to ``_File`` (LeanCloud allows both); on LeanCloud and the
    embedded backend its metadata loads on first access."""

    python_types = (File,)
    includable = True  # select_related("attachment"): the SDK's include() of a file field
    type_name = "a File"

    def check_type(self, value: Any) -> Optional[str]:
        problem = super().check_type(value)
        if problem is None and value.id is None and not value.url:
            return f"{value!r} is not saved: call File.save() before storing it (leanorm uploads only when told to)"
        return problem

    def to_wire(self, value: Any) -> Any:
        return None if value is None else value.to_wire()

    def from_wire(self, value: Any, instance: Optional["Model"] = None) -> Any:
        if isinstance(value, dict) and value.get("__type") in ("Pointer", "Object") and value.get("className") == "_File":
            value = {**value, "__type": "File"}  # LeanCloud lets a file column hold Pointers to _File too
        if not isinstance(value, dict) or value.get("__type") != "File":
            return value
        client = get_client(instance._client if instance is not None else None)
        object_id = value.get("objectId") or value.get("id")
        data = {k: v for k, v in value.items() if k not in ("__type", "id", "className")}
        if object_id:
            data["objectId"] = object_id
        return File._from_wire(data, client, partial=bool(object_id) and "metaData" not in value)
