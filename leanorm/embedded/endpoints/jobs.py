"""Background jobs, as Parse Server runs them: ``POST jobs/NAME`` (master key only) starts the Engine's
job ``NAME`` (``@engine.job("NAME")``) with the JSON body as its parameters and answers ``{}`` at once,
with the id of the job's ``_JobStatus`` row in the ``X-Parse-Job-Status-Id`` header. The job runs in a
thread of the serving process, outside the request; its row goes from ``running`` to ``succeeded`` (the
job's answer as ``message``) or ``failed`` (its error's message), with ``finishedAt``.

Bound: one server runs at most ``Settings.max_running_jobs`` jobs at once (default 2; per serving
worker process); a start beyond that is refused (155) rather than queued, so a burst of starts cannot
pile up threads. A job cut off by the process ending stays ``running`` in its row.
"""
from __future__ import annotations

import json
import logging
import threading
import weakref
from typing import Any, Dict, Optional

from ...errors import LeanCloudError
from . import objects
from ..caller import Caller
from ..routing import Context, Services, route
from ..answers import ProtocolError
from .server_time import now_iso


__all__ = ["STATUS_CLASS", "STATUS_HEADER"]

log = logging.getLogger("leanorm.embedded")

STATUS_CLASS = "_JobStatus"
STATUS_HEADER = "X-Parse-Job-Status-Id"


class _Slots:
    """How many jobs one server runs now, against its bound."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0

    def take(self, bound: int) -> bool:
        with self.lock:
            if self.running >= bound:
                return False
            self.running += 1
            return True

    def give_back(self) -> None:
        with self.lock:
            self.running -= 1


_SLOTS: "weakref.WeakKeyDictionary[Services, _Slots]" = weakref.WeakKeyDictionary()
_SLOTS_LOCK = threading.Lock()


def _slots(server: "Services") -> _Slots:
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(server, _Slots())


def _record(server: "Services", dialect: str, name: str, status_id: Optional[str],
            fields: Dict[str, Any]) -> str:
    """Create (``status_id`` None) or update the job's status row with the master key; its id. The
    writes have a context of their own: the job outlives the request that started it."""
    ctx = Context(server, "POST", f"jobs/{name}", dialect, {}, Caller(master=True), b"")
    _, answer = objects.write(ctx, STATUS_CLASS, status_id, fields)
    return status_id or answer["objectId"]


def _message(result: Any) -> Optional[str]:
    if result is None or isinstance(result, str):
        return result
    return json.dumps(result, separators=(",", ":"), default=str)


def _run(server: "Services", dialect: str, name: str, params: Dict[str, Any], status_id: str) -> None:
    engine = server.cloud_code
    assert engine is not None, "the job was found before it was started"
    try:
        try:
            answer = engine.dispatch(f"jobs/{name}", params, master=True, prod=server.settings.prod)
            fields: Dict[str, Any] = {"status": "succeeded", "message": _message(answer.get("result"))}
        except LeanCloudError as exc:
            fields = {"status": "failed", "message": exc.message}
        fields["finishedAt"] = {"__type": "Date", "iso": now_iso()}
        _record(server, dialect, name, status_id, {k: v for k, v in fields.items() if v is not None})
    except Exception:  # noqa: BLE001 - nobody waits on this thread: the log is where a failure shows
        log.exception("job %s (status %s) failed", name, status_id)
    finally:
        _slots(server).give_back()


@route("POST", r"jobs/([^/]+)")
def _start(ctx: Context) -> Any:
    """Start the job ``NAME``: ``{}`` and its status id in ``X-Parse-Job-Status-Id`` (Parse's answer)."""
    ctx.require_master()
    (name,) = ctx.args
    engine = ctx.cloud_code
    if engine is None or not engine.has(f"jobs/{name}"):
        if ctx.dialect == "parse":  # the Parse SDKs' own tests compare the message
            raise ProtocolError(141, "Invalid job.")
        raise ProtocolError(141, f"Invalid job: no job named {name!r} is declared by the Engine this server "
                                 "runs (@engine.job, `leanorm serve --engine module:engine`).")
    params = ctx.json_body()
    slots = _slots(ctx.services)
    bound = ctx.settings.max_running_jobs
    if not slots.take(bound):
        raise ProtocolError(155, f"{bound} jobs are running, the most this server runs at once "
                                 "(Settings.max_running_jobs); start this one when one has finished.", 429)
    try:
        status_id = _record(ctx.services, ctx.dialect, name, None,
                            {"jobName": name, "source": "api", "status": "running", "params": params})
        threading.Thread(target=_run, args=(ctx.services, ctx.dialect, name, params, status_id),
                         name=f"leanorm-job-{name}", daemon=True).start()
    except BaseException:
        slots.give_back()
        raise
    ctx.response_headers[STATUS_HEADER] = status_id
    return {}
