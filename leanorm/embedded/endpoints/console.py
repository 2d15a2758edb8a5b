"""The endpoints an admin console opens its screens with (Parse Dashboard, in Parse Server's shapes), all
master key only: ``serverInfo`` (what this server supports, so the console offers only that), the cloud
code's jobs, the webhooks (the served Engine's functions and hooks), push audiences and the script log.

Each ``features`` flag is true only for what ``leanorm serve`` does: classes and columns are made and
dropped, class permissions edited, config read and written; there are no webhooks over REST (cloud code
is an Engine), no scheduled jobs (the Engine's jobs are listed and started with ``POST jobs/NAME``), no
kept log, no push delivery (``push`` records notifications)."""
from __future__ import annotations

import re
from typing import Any, Dict, List

from ..routing import Context, route

__all__: List[str] = []

#: the Parse Server release whose REST answers the Parse dialect follows (and is tested against, see
#: scripts/parse-server); consoles compare it to decide which requests they may send
PARSE_SERVER_VERSION = "9.10.0"
#: where an Engine lists what it declares (LeanEngine's metadata path, master key only)
ENGINE_METADATA = "functions/_ops/metadatas"
#: how the metadata names a class hook: ``__before_save_for_Post``
_HOOK_NAME = re.compile(r"__(before|after)_(save|update|delete)_for_(.+)\Z")

FEATURES: Dict[str, Any] = {
    "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
    "hooks": {"create": False, "read": True, "update": False, "delete": False},
    "cloudCode": {"jobs": False},
    "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
    "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False, "pushAudiences": False,
             "localization": False},
    "schemas": {"addField": True, "removeField": True, "addClass": True, "removeClass": True,
                "clearAllDataFromClass": True, "exportClass": False, "editClassLevelPermissions": True,
                "editPointerPermissions": False},
    "settings": {"securityCheck": False},
}


@route("GET", r"serverInfo")
def _server_info(ctx: Context) -> Any:
    ctx.require_master()
    return {"features": FEATURES, "parseServerVersion": PARSE_SERVER_VERSION}


def _engine_names(ctx: Context) -> List[str]:
    """Every name the served Engine declares (none without one)."""
    engine = ctx.cloud_code
    if engine is None:
        return []
    names = engine.dispatch(ENGINE_METADATA, {}, master=True).get("result") or []
    return [n for n in names if isinstance(n, str)]


@route("GET", r"hooks/functions")
def _hook_functions(ctx: Context) -> Any:
    """The Engine's cloud functions (run in-process: no webhook URL)."""
    ctx.require_master()
    return [{"functionName": name} for name in _engine_names(ctx) if not name.startswith("__")]


@route("GET", r"hooks/triggers")
def _hook_triggers(ctx: Context) -> Any:
    """The Engine's class hooks, as Parse names triggers (``beforeSave`` on ``Post``)."""
    ctx.require_master()
    triggers = []
    for name in _engine_names(ctx):
        found = _HOOK_NAME.match(name)
        if found:
            when, what, class_name = found.groups()
            triggers.append({"className": class_name, "triggerName": when + what.capitalize()})
    return triggers


@route("GET", r"cloud_code/jobs")
def _jobs(ctx: Context) -> Any:
    ctx.require_master()
    return []


@route("GET", r"cloud_code/jobs/data")
def _jobs_data(ctx: Context) -> Any:
    """The jobs the served Engine declares (none scheduled: ``in_use`` is empty)."""
    ctx.require_master()
    engine = ctx.cloud_code
    return {"in_use": [], "jobs": engine.job_names() if engine is not None else []}


@route("GET", r"push_audiences")
def _push_audiences(ctx: Context) -> Any:
    ctx.require_master()
    return {"results": []}


@route("GET", r"scriptlog")
def _script_log(ctx: Context) -> Any:
    """No log is kept to read: an empty list (``features.logs`` says so)."""
    ctx.require_master()
    return []
