"""Where an import or a migration stopped, so that running it again resumes there.

An append-only JSON Lines log: one line per finished batch (the class and the cursor after it), per
finished class, per uploaded file (its reference on the target). Appending is atomic enough: a line
cut short by a crash is ignored, and the work it stood for is done again, which the writes make safe
(they carry objectIds; an object already present is skipped).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "state.jsonl")
>>> with Checkpoint(path) as state:
...     state.advance("Note", "n500")
...     state.finish("Tag")
>>> again = Checkpoint(path)
>>> again.cursor("Note"), again.done("Tag"), again.done("Note")
('n500', True, False)
"""
from __future__ import annotations

import json
import os
from typing import IO, Any, Dict, Optional

__all__ = ["Checkpoint"]


def _well_formed(event: Any) -> bool:
    """Whether ``event`` is one of the lines :class:`Checkpoint` writes."""
    if not isinstance(event, dict):
        return False
    if "file" in event:
        ref = event.get("ref")
        return isinstance(event["file"], str) and isinstance(ref, dict) and ref.get("__type") == "File" \
            and all(ref.get(k) is None or isinstance(ref[k], str) for k in ("id", "name", "url"))
    if not isinstance(event.get("class"), str):
        return False
    return event.get("done") is True or isinstance(event.get("cursor"), str)


class Checkpoint:
    """The progress log at ``path`` (None: keep nothing, every run starts from the beginning)."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self._cursors: Dict[str, str] = {}
        self._done: set = set()
        self.files: Dict[str, Dict[str, Any]] = {}  # exported file id -> its reference on the target
        self._log: Optional[IO[str]] = None
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as log:
                for line in log:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a line a crash cut short
                    if _well_formed(event):  # anything else is not this log's: never trusted
                        self._replay(event)
        if path:
            self._log = open(path, "a", encoding="utf-8")

    def _replay(self, event: Dict[str, Any]) -> None:
        if "file" in event:
            self.files[event["file"]] = event["ref"]
        elif event.get("done"):
            self._done.add(event["class"])
        else:
            self._cursors[event["class"]] = event["cursor"]

    def _write(self, event: Dict[str, Any]) -> None:
        self._replay(event)
        if self._log is not None:
            self._log.write(json.dumps(event) + "\n")
            self._log.flush()

    def cursor(self, name: str) -> Optional[str]:
        """Where the copy of ``name`` (a class, or a relation) stopped: the last objectId written."""
        return self._cursors.get(name)

    def advance(self, name: str, cursor: str) -> None:
        self._write({"class": name, "cursor": cursor})

    def done(self, name: str) -> bool:
        return name in self._done

    def finish(self, name: str) -> None:
        self._write({"class": name, "done": True})

    def file_uploaded(self, source_id: str, ref: Dict[str, Any]) -> None:
        self._write({"file": source_id, "ref": ref})

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
