"""LeanCloud realtime's frames as this server encodes and decodes them (``embedded/live/realtime_wire.py``,
written from the schema's field numbers) against the leancloud-realtime SDK's own protobuf code: the
bytes the SDK sends decode to the same command here, and the bytes sent from here decode in the SDK."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

from leanorm.embedded.live.realtime_wire import CMD, decode, encode

HERE = Path(__file__).resolve().parent

#: commands the SDK sends (login, logout, ping, ack) and those the server sends (answers, events, errors)
CLIENT_COMMANDS: List[Dict[str, Any]] = [
    {"cmd": CMD["login"], "appId": "app-id", "installationId": "5f3c-uuid", "service": 1, "i": 1},
    {"cmd": CMD["logout"], "appId": "app-id", "installationId": "5f3c-uuid", "service": 1, "i": 300},
    {"cmd": CMD["echo"], "i": 70000},
    {"cmd": CMD["ack"], "appId": "app-id", "installationId": "x", "service": 1, "ackMessage": {"ids": ["a", "b"]}},
]
SERVER_COMMANDS: List[Dict[str, Any]] = [
    {"cmd": CMD["loggedin"], "i": 1, "appId": "app-id", "installationId": "5f3c-uuid", "service": 1},
    {"cmd": CMD["data"], "appId": "app-id", "installationId": "5f3c-uuid", "service": 1, "dataMessage": {
        "ids": ["5f3c-uuid-1"], "msg": [{"data": json.dumps({"op": "create", "object": {"title": "ünïcode"},
                                                              "query_id": "q"})}]}},
    {"cmd": CMD["error"], "i": 2, "errorMessage": {"code": 4200, "reason": "not served"}},
    {"cmd": CMD["goaway"]},
]


def _sdk(js_modules: Path, asked: Dict[str, Any]) -> Dict[str, Any]:
    done = subprocess.run(["node", str(HERE / "realtime_wire.cjs"), json.dumps(asked)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "LEANORM_JS_MODULES": str(js_modules)})
    assert done.returncode == 0, done.stderr
    answer: Dict[str, Any] = json.loads(done.stdout)
    return answer


def _present(command: Dict[str, Any]) -> Dict[str, Any]:
    """A command the SDK decoded, as this module names its values (enum numbers, no unset fields)."""
    out = {k: v for k, v in command.items() if v is not None}
    if isinstance(out.get("cmd"), str):
        out["cmd"] = CMD[out["cmd"]]
    for name, message in list(out.items()):
        if isinstance(message, dict):
            out[name] = {k: v for k, v in message.items() if v is not None and v != []}
    return out


def test_what_the_sdk_sends_decodes_here(js_modules: Path) -> None:
    encoded = _sdk(js_modules, {"encode": CLIENT_COMMANDS, "decode": []})["encoded"]
    assert [decode(bytes.fromhex(hex_)) for hex_ in encoded] == CLIENT_COMMANDS


def test_what_is_sent_from_here_decodes_in_the_sdk(js_modules: Path) -> None:
    decoded = _sdk(js_modules, {"encode": [], "decode": [encode(c).hex() for c in SERVER_COMMANDS]})["decoded"]
    assert [_present(c) for c in decoded] == SERVER_COMMANDS
