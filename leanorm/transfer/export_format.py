"""The layout of a data export, read from a directory, a ``.tar.gz`` or a ``.zip``.

One file per class: ``<Class>.jsonl`` (JSON Lines, LeanCloud's console export and ``leanorm export``:
read line by line, in constant memory) or ``<Class>.json`` (a JSON array or ``{"results": [...]}``,
which the console's import also takes: read whole). Relation members are in
``_Join:<key>:<OwnerClass>.jsonl`` with ``{"owningId", "relatedId"}`` rows. File bytes, when the export
has them, are under ``files/`` named by the ``_File`` row's objectId (``leanorm export``), key or name;
``leanorm export`` writes each such name as :func:`stored_name` makes it (a name is anyone's: it never
becomes a path). Rows are REST-shaped (``objectId``, ``createdAt``, ``updatedAt``, ``ACL``, ``__type``
values).

An export is read as untrusted data: in a directory, a symlink is not part of the export (it could name
any file of the machine); a line longer than ``max_line_bytes`` (a ``.json`` document longer than
``max_document_bytes``) is reported as unreadable without being held in memory.

>>> import json, pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "Note.jsonl").write_text(json.dumps({"objectId": "n1"}) + "\\nnot json\\n")
>>> export = open_export(folder)
>>> [(row.where, row.data, row.error) for row in export.rows(export.classes()["Note"])]
[('Note.jsonl:1', {'objectId': 'n1'}, None), ('Note.jsonl:2', None, 'not a JSON object: Expecting value')]
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Dict, Iterator, List, Optional, Tuple, Union, cast
from urllib.parse import quote

__all__ = ["Row", "Join", "Export", "open_export", "stored_name", "JOIN_PREFIX", "FILES_DIR",
           "MAX_LINE_BYTES", "MAX_DOCUMENT_BYTES"]

JOIN_PREFIX = "_Join:"
FILES_DIR = "files"
_SUFFIXES = (".jsonl", ".json")
#: the longest line read (LeanCloud and Parse Server hold objects up to 16 MB; JSON escapes add to that)
MAX_LINE_BYTES = 64 << 20
#: the longest ``.json`` document read whole (bigger exports are JSON Lines, read a line at a time)
MAX_DOCUMENT_BYTES = 512 << 20
#: the longest name kept readable under files/ (file systems take 255 bytes)
_STORED_NAME_BYTES = 200


def stored_name(name: str) -> str:
    """The name under ``files/`` that holds the bytes of a file called ``name``: ``name`` itself when it is
    a plain name (letters, digits, ``_.-~``, not starting with a dot), else percent-encoded, and a digest
    when that is too long. Different names never share one, and none is a path or a hidden file.

    >>> stored_name("logo.png"), stored_name("../../home/op/.bashrc"), stored_name(".profile")
    ('logo.png', '%2E.%2F..%2Fhome%2Fop%2F.bashrc', '%2Eprofile')
    """
    encoded = quote(name.encode("utf-8", "surrogatepass"), safe="")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if encoded and len(encoded) <= _STORED_NAME_BYTES:
        return encoded
    return "#" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()  # '#' is never in an encoding


@dataclass(frozen=True)
class Row:
    """One object of an export: its ``data``, or the ``error`` that made the line unreadable, and
    ``where`` it is (``file:line``)."""

    where: str
    data: Optional[Dict[str, Any]]
    error: Optional[str] = None


@dataclass(frozen=True)
class Join:
    """A relation file: the members of ``owner``'s relation field ``key``."""

    key: str
    owner: str
    member: str


class Export:
    """An export's files, whatever holds them (see the module)."""

    def __init__(self, source: Union[str, "os.PathLike[str]"], *, max_line_bytes: int = MAX_LINE_BYTES,
                 max_document_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.source = Path(source)
        self.max_line_bytes, self.max_document_bytes = max_line_bytes, max_document_bytes
        self._tar: Optional[tarfile.TarFile] = None
        self._zip: Optional[zipfile.ZipFile] = None
        self._members: Dict[str, str] = {}  # path inside the export (no leading folder) -> how to open it
        if self.source.is_dir():
            root = self.source.resolve()
            for path in self.source.rglob("*"):
                if path.is_file() and not path.is_symlink() and root in path.resolve().parents:
                    self._members[path.relative_to(self.source).as_posix()] = str(path)
        elif zipfile.is_zipfile(self.source):
            self._zip = zipfile.ZipFile(self.source)
            self._members = {n: n for n in self._zip.namelist() if not n.endswith("/")}
        elif tarfile.is_tarfile(self.source):
            self._tar = tarfile.open(self.source)
            self._members = {m.name: m.name for m in self._tar.getmembers() if m.isfile()}
        else:
            raise ValueError(f"{source}: not a directory, .tar.gz or .zip export")
        self._members = _without_common_folder(self._members)

    def open(self, name: str) -> BinaryIO:
        """The bytes of one file of the export (``name`` as :meth:`classes` gives it)."""
        where = self._members[name]
        if self._zip is not None:
            return cast(BinaryIO, self._zip.open(where))
        if self._tar is not None:
            handle = self._tar.extractfile(where)
            assert handle is not None  # members are regular files
            return cast(BinaryIO, handle)
        return open(where, "rb")

    def classes(self) -> Dict[str, str]:
        """Class name -> its file, for every object file (relation files are :meth:`joins`)."""
        out: Dict[str, str] = {}
        for name in sorted(self._members):
            base = name.rsplit("/", 1)[-1]
            if "/" in name or base.startswith((JOIN_PREFIX, ".")):  # dot files: an export's own progress log
                continue
            for suffix in _SUFFIXES:
                if base.endswith(suffix) and len(base) > len(suffix):
                    out.setdefault(base[:-len(suffix)], name)
        return out

    def joins(self) -> List[Tuple[Join, str]]:
        """Every relation file, as (:class:`Join` without the member class, file name); the member class
        comes from the owner's Relation values or the target's schema."""
        out = []
        for name in sorted(self._members):
            if name.startswith(JOIN_PREFIX) and name.endswith(_SUFFIXES):
                stem = name[:-len(".jsonl")] if name.endswith(".jsonl") else name[:-len(".json")]
                _, key, owner = stem.split(":", 2) if stem.count(":") >= 2 else (None, "", "")
                if key and owner:
                    out.append((Join(key, owner, ""), name))
        return out

    def file_named(self, *names: Any) -> Optional[str]:
        """The export's file under ``files/`` for the first of ``names`` that is there (for :meth:`open`):
        as ``leanorm export`` stores it (:func:`stored_name`), or as written (a console export's)."""
        for name in names:
            for member in (f"{FILES_DIR}/{stored_name(name)}", f"{FILES_DIR}/{name}") \
                    if isinstance(name, str) and name else ():
                if member in self._members:
                    return member
        return None

    def rows(self, name: str) -> Iterator[Row]:
        """The objects of one file, in order; a line that is not a JSON object is a :class:`Row` with
        its error (so it is reported, never dropped)."""
        with self.open(name) as raw:
            if name.endswith(".json"):
                yield from _document_rows(name, raw, self.max_document_bytes)
                return
            for number, line in enumerate(_lines(raw, self.max_line_bytes), 1):
                if line is None:
                    yield Row(f"{name}:{number}", None, f"a line longer than {self.max_line_bytes} bytes")
                elif line.strip():
                    yield _row(f"{name}:{number}", line.decode("utf-8", errors="replace"))

    def close(self) -> None:
        for archive in (self._tar, self._zip):
            if archive is not None:
                archive.close()

    def __enter__(self) -> "Export":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _lines(raw: IO[bytes], limit: int) -> Iterator[Optional[bytes]]:
    """The lines of ``raw``, each None when longer than ``limit`` bytes (skipped, never held whole)."""
    while line := raw.readline(limit + 1):
        if len(line) <= limit:
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = raw.readline(limit + 1)
        yield None


def _row(where: str, text: str) -> Row:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Row(where, None, f"not a JSON object: {str(exc).split(':')[0]}")
    if not isinstance(data, dict):
        return Row(where, None, f"not a JSON object: a {type(data).__name__}")
    return Row(where, data)


def _document_rows(name: str, raw: IO[bytes], limit: int) -> Iterator[Row]:
    data = raw.read(limit + 1)
    if len(data) > limit:
        yield Row(f"{name}:1", None, f"a .json file longer than {limit} bytes: give it as JSON Lines (.jsonl)")
        return
    text = data.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:  # a .json file holding JSON Lines
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield _row(f"{name}:{number}", line)
        return
    items = document.get("results") if isinstance(document, dict) else document
    if not isinstance(items, list):
        yield Row(f"{name}:1", None, 'expected a JSON array or {"results": [...]}')
        return
    for index, item in enumerate(items):
        where = f"{name}:[{index}]"
        yield Row(where, item) if isinstance(item, dict) else \
            Row(where, None, f"not a JSON object: a {type(item).__name__}")


def _without_common_folder(members: Dict[str, str]) -> Dict[str, str]:
    """An archive of ``export/Note.jsonl ...`` reads as ``Note.jsonl ...``."""
    tops = {name.split("/", 1)[0] for name in members}
    if len(tops) == 1 and all("/" in name for name in members):
        return {name.split("/", 1)[1]: where for name, where in members.items()}
    return members


def open_export(source: Union[str, "os.PathLike[str]"], **limits: int) -> Export:
    """The export at ``source`` (a directory, ``.tar.gz`` or ``.zip``); ``limits`` as :class:`Export` takes them."""
    return Export(source, **limits)
