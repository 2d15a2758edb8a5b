"""The ``__before`` / ``__after`` markers that stop hook loops.

When a hook saves the object it was called for, the save would call the hook again. LeanCloud puts a
signed marker in the hook's object (``"__before": "<ms timestamp>,<hmac-sha1 hex>"``); a save carrying
it skips that kind of hook. The signature is HMAC-SHA1 keyed by the master key over
``__before_for_<Class>:<timestamp>`` (``__after_for_`` for after hooks), so only code holding the
master key can skip hooks. The embedded backend verifies markers with :func:`verify_marker`.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Optional

__all__ = ["BEFORE", "AFTER", "sign_marker", "verify_marker"]

BEFORE = "__before"
AFTER = "__after"


def _mac(key: str, kind: str, class_name: str, timestamp: str) -> str:
    message = f"{kind}_for_{class_name}:{timestamp}".encode()
    return hmac.new(key.encode(), message, hashlib.sha1).hexdigest()


def sign_marker(kind: str, class_name: str, master_key: str, timestamp_ms: Optional[int] = None) -> str:
    """A marker value for ``kind`` (:data:`BEFORE` or :data:`AFTER`) on objects of ``class_name``."""
    if kind not in (BEFORE, AFTER):
        raise ValueError(f"marker kind must be {BEFORE!r} or {AFTER!r}, not {kind!r}")
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return f"{ts},{_mac(master_key, kind, class_name, ts)}"


def verify_marker(value: object, kind: str, class_name: str, master_key: str) -> bool:
    """Whether ``value`` is a marker for ``kind`` on ``class_name`` signed with ``master_key``."""
    if not isinstance(value, str) or value.count(",") != 1:
        return False
    ts, mac = value.split(",")
    return ts.isdigit() and hmac.compare_digest(mac, _mac(master_key, kind, class_name, ts))
