"""Python functions the query compiler (``query_compiler``) calls from SQL: regular expressions,
great-circle distance, point-in-polygon (a query's polygon, or a stored Polygon value), full-text search."""
from __future__ import annotations

import sqlite3
import functools
import json
import math
from typing import Optional, Tuple

from .regex import compile_regex
from .text_search import text_score

__all__ = ["register_functions", "compile_regex", "distance_radians", "in_polygon", "polygon_holds"]


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


Edge = Tuple[float, float, float, float]


@functools.lru_cache(maxsize=64)
def _edges(polygon: str) -> Tuple[Tuple[float, float, float, float], Tuple[Edge, ...]]:
    """The bounding box (min lng, min lat, max lng, max lat) and the edges ``(x1, y1, x2, y2)`` of a
    polygon, parsed once for all the rows a query tests (not once per row)."""
    vertices = [(float(lng), float(lat)) for lng, lat in json.loads(polygon)]
    xs, ys = [x for x, _ in vertices], [y for _, y in vertices]
    box = (min(xs), min(ys), max(xs), max(ys))
    return box, tuple((x1, y1, x2, y2) for (x1, y1), (x2, y2) in zip(vertices, vertices[1:] + vertices[:1]))


def in_polygon(lat: Optional[float], lng: Optional[float], polygon: str) -> Optional[int]:
    """Whether a point lies inside or on the edge of ``polygon`` (JSON ``[[lng, lat], ...]``), on the plane
    of longitude and latitude as PostgreSQL's ``point <@ polygon`` (what Parse Server runs) decides it."""
    if lat is None or lng is None:
        return None
    (west, south, east, north), edges = _edges(polygon)
    if not (west <= lng <= east and south <= lat <= north):
        return 0  # outside the bounding box: no edge to walk
    inside = False
    for x1, y1, x2, y2 in edges:
        cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lng - x1)
        if cross == 0 and min(x1, x2) <= lng <= max(x1, x2) and min(y1, y2) <= lat <= max(y1, y2):
            return 1  # on an edge
        if (y1 > lat) != (y2 > lat) and lng < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return 1 if inside else 0


def polygon_holds(coordinates: Optional[str], lat: float, lng: float) -> Optional[int]:
    """Whether a stored Polygon (its JSON ``[[latitude, longitude], ...]``) holds a point, edge included
    (``$geoIntersects``); ``None`` when the row has no polygon there."""
    if coordinates is None:
        return None
    try:
        vertices = json.dumps([[lng_, lat_] for lat_, lng_ in json.loads(coordinates)])
    except (TypeError, ValueError):
        return 0  # not a Polygon's coordinates (the compiler reads only values tagged Polygon)
    return in_polygon(lat, lng, vertices)


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("leanorm_regexp", 3, _regexp, deterministic=True)
    conn.create_function("leanorm_distance", 4, distance_radians, deterministic=True)
    conn.create_function("leanorm_in_polygon", 3, in_polygon, deterministic=True)
    conn.create_function("leanorm_polygon_holds", 3, polygon_holds, deterministic=True)
    conn.create_function("leanorm_text_score", 5, text_score, deterministic=True)
