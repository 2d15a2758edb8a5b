"""Steps of a scenario run by the official SDK in its own virtualenv (``scenario.py``, ``app_patterns.py``).

A step is a function using only the SDK's public API and returning plain JSON values. ``Steps.main()``
initialises the SDK from ``argv`` (APP_ID APP_KEY MASTER_KEY; ``LEANCLOUD_API_SERVER`` names the server),
runs every step in the order declared and prints one JSON object ``{step: {"ok": true, "value": ...} |
{"ok": false, "error": ..., "traceback": ...}}`` plus ``extra()``'s value under ``_ids``. A failing step
does not stop the others, so one run reports every incompatibility at once.
"""
from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable, Dict, List

import leancloud
from leancloud import LeanCloudError


def error_code(action: Callable[[], Any]) -> Any:
    """The LeanCloud error code ``action`` raises, or ``None`` when it succeeds."""
    try:
        action()
    except LeanCloudError as exc:
        return exc.code
    return None


class Steps:
    """An ordered registry of steps (later ones use what earlier ones saved)."""

    def __init__(self) -> None:
        self.funcs: List[Callable[[], Any]] = []

    def __call__(self, func: Callable[[], Any]) -> Callable[[], Any]:
        self.funcs.append(func)
        return func

    def main(self, extra: Callable[[], Dict[str, Any]] = dict) -> None:
        app_id, app_key, master_key = sys.argv[1:4]
        leancloud.init(app_id, app_key, master_key)
        leancloud.use_master_key(False)
        results: Dict[str, Any] = {}
        for func in self.funcs:
            try:
                results[func.__name__] = {"ok": True, "value": func()}
            except Exception as exc:  # noqa: BLE001 - every step's failure is reported, not only the first
                results[func.__name__] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                                          "traceback": traceback.format_exc()}
        results["_ids"] = extra()
        print(json.dumps(results, default=str))
