"""Names that become paths: an export's files written only under its folder, names sent only as names.

Every name the migration tools put in a path comes from data (a class name, a relation key, a file's
name or objectId, a relation row's owner id), and data can be anyone's: a client of a Parse Server
writes File values verbatim. Here is the one place such a name is judged:

* :func:`is_plain` — one path segment (no separator, no NUL, not ``.``/``..``); :func:`is_url_segment`
  — a plain name a URL also reads as itself (no query, fragment or escape); :func:`is_class_name` — the
  protocol's class and field names;
* :func:`path_inside` / :func:`open_inside` — a path of plain names under a folder, refused when its
  parent, symlinks resolved, is outside the folder or when it is itself a symlink; opened without
  following one (``O_NOFOLLOW``), so a link planted between the check and the open is not followed.

>>> is_plain("logo.png"), is_plain("../../home/op/.bashrc"), is_plain(".."), is_class_name("Post_2")
(True, False, False, True)
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import IO

__all__ = ["UnsafeName", "is_plain", "is_url_segment", "is_class_name", "path_inside", "open_inside"]

_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
#: characters a path gives a meaning to, and those a URL adds
_PATH_SPECIAL = frozenset("/\\\0")
_URL_SPECIAL = frozenset("?#%")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has no symlink-following open to refuse


class UnsafeName(ValueError):
    """A name that would leave its folder (or its URL segment) if it were used as a path."""


def is_plain(name: str) -> bool:
    """Whether ``name`` is one path segment that means only itself."""
    return bool(name) and name not in (".", "..") and not _PATH_SPECIAL.intersection(name) and len(name) <= 255


def is_url_segment(name: str) -> bool:
    """Whether ``name`` (an objectId) is one segment of a URL's path that means only itself."""
    return is_plain(name) and not _URL_SPECIAL.intersection(name) and name.isprintable()


def is_class_name(name: str) -> bool:
    """Whether ``name`` is a class (or field) name as LeanCloud and Parse Server accept them."""
    return bool(_CLASS_NAME.match(name))


def path_inside(folder: Path, *parts: str) -> Path:
    """``folder/parts...``; :class:`UnsafeName` unless each part is plain, the parent (symlinks resolved)
    is ``folder`` or below it, and the path itself is not a symlink."""
    for part in parts:
        if not is_plain(part):
            raise UnsafeName(f"{part!r} is not a plain file name")
    path = folder.joinpath(*parts)
    root, parent = folder.resolve(), path.parent.resolve()
    if parent != root and root not in parent.parents:
        raise UnsafeName(f"{path} is outside {folder} (a symlink on the way)")
    if path.is_symlink():
        raise UnsafeName(f"{path} is a symlink")
    return path


def open_inside(folder: Path, *parts: str, mode: str) -> IO[bytes]:
    """Open ``folder/parts...`` (:func:`path_inside`) in binary ``mode``: ``wb`` (created or emptied),
    ``ab`` (created or appended to) or ``r+b`` (created when missing, kept), never through a symlink."""
    flags = {"wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
             "r+b": os.O_RDWR | os.O_CREAT}[mode]
    descriptor = os.open(path_inside(folder, *parts), flags | _NOFOLLOW, 0o644)
    return os.fdopen(descriptor, mode)
