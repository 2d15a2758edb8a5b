"""Python functions the where-compiler calls from SQL: regular expressions and great-circle distance."""
from __future__ import annotations

import math
import sqlite3
from typing import Optional

from .regex import compile_regex

__all__ = ["register_functions", "compile_regex", "distance_radians"]


def _regexp(pattern: str, options: str, value: object) -> Optional[int]:
    if not isinstance(value, str):
        return 0
    return 1 if compile_regex(pattern, options).search(value) else 0


def distance_radians(lat1: Optional[float], lng1: Optional[float], lat2: float, lng2: float) -> Optional[float]:
    """Great-circle distance in radians (haversine); ``None`` when the stored point is missing."""
    if lat1 is None or lng1 is None:
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("leanorm_regexp", 3, _regexp, deterministic=True)
    conn.create_function("leanorm_distance", 4, distance_radians, deterministic=True)
