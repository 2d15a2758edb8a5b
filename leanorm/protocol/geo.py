"""Geographic points, polygons and distances (the protocol's ``GeoPoint`` and ``Polygon`` types)."""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

__all__ = ["GeoPoint", "Polygon", "EARTH_RADIUS_KM", "EARTH_RADIUS_MILES"]

EARTH_RADIUS_KM = 6371.0
EARTH_RADIUS_MILES = 3958.8

_new = object.__new__


class GeoPoint:
    """A point on the earth by ``latitude`` (-90..90) and ``longitude`` (-180..180).

    >>> beijing, shanghai = GeoPoint(39.9, 116.4), GeoPoint(31.23, 121.47)
    >>> round(beijing.kilometers_to(shanghai))
    1067
    """

    __slots__ = ("latitude", "longitude")

    def __init__(self, latitude: float, longitude: float) -> None:
        if isinstance(latitude, bool) or not isinstance(latitude, (int, float)) or not -90 <= latitude <= 90:
            raise ValueError(f"latitude must be a number between -90 and 90, not {latitude!r}")
        if isinstance(longitude, bool) or not isinstance(longitude, (int, float)) or not -180 <= longitude <= 180:
            raise ValueError(f"longitude must be a number between -180 and 180, not {longitude!r}")
        self.latitude = float(latitude)
        self.longitude = float(longitude)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "GeoPoint":
        """The point of a protocol ``{"__type": "GeoPoint", "latitude": ..., "longitude": ...}``, checked
        as the constructor checks. Servers send in-range floats: those are stored without the
        constructor's call and conversions (this is on the read path of every row); anything else
        (integers, out of range, not numbers) goes through the constructor, which converts or refuses."""
        latitude, longitude = value["latitude"], value["longitude"]
        if (type(latitude) is float and type(longitude) is float and -90.0 <= latitude <= 90.0
                and -180.0 <= longitude <= 180.0):
            point = _new(cls)
            point.latitude = latitude
            point.longitude = longitude
            return point
        return cls(latitude, longitude)

    def radians_to(self, other: "GeoPoint") -> float:
        """Great-circle distance to ``other`` in radians (haversine)."""
        lat1, lat2 = math.radians(self.latitude), math.radians(other.latitude)
        dlat = lat2 - lat1
        dlon = math.radians(other.longitude - self.longitude)
        h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * math.asin(min(1.0, math.sqrt(h)))

    def kilometers_to(self, other: "GeoPoint") -> float:
        """Great-circle distance to ``other`` in kilometres."""
        return self.radians_to(other) * EARTH_RADIUS_KM

    def miles_to(self, other: "GeoPoint") -> float:
        """Great-circle distance to ``other`` in miles."""
        return self.radians_to(other) * EARTH_RADIUS_MILES

    def to_wire(self) -> Dict[str, Any]:
        """The protocol's JSON form."""
        return {"__type": "GeoPoint", "latitude": self.latitude, "longitude": self.longitude}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, GeoPoint) and self.latitude == other.latitude
                and self.longitude == other.longitude)

    def __hash__(self) -> int:
        return hash((self.latitude, self.longitude))

    def __repr__(self) -> str:
        return f"GeoPoint({self.latitude!r}, {self.longitude!r})"


class Polygon:
    """An area bounded by at least three points, each a :class:`GeoPoint` or a ``(latitude, longitude)``
    pair (Parse's ``Polygon`` type; servers store it closed, the first point repeated last).

    >>> strip = Polygon([(0, 10), (0, 11), (1, 11), (1, 10)])
    >>> strip.to_wire()["coordinates"][:2]
    [[0.0, 10.0], [0.0, 11.0]]
    >>> Polygon.from_wire(strip.to_wire()) == strip
    True
    """

    __slots__ = ("points",)

    def __init__(self, points: Iterable[Union[GeoPoint, Sequence[float]]]) -> None:
        made: List[GeoPoint] = [p if isinstance(p, GeoPoint) else GeoPoint(*p) for p in points]
        if len(made) < 3:
            raise ValueError(f"a Polygon needs at least 3 points, not {len(made)}")
        if made[0] == made[-1] and len(made) > 3:  # stored closed: the same area as the open form
            made.pop()
        self.points: Tuple[GeoPoint, ...] = tuple(made)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "Polygon":
        """The polygon of a protocol ``{"__type": "Polygon", "coordinates": [[lat, lng], ...]}``."""
        return cls(value["coordinates"])

    def to_wire(self) -> Dict[str, Any]:
        """The protocol's JSON form: ``coordinates`` as ``[latitude, longitude]`` pairs."""
        return {"__type": "Polygon", "coordinates": [[p.latitude, p.longitude] for p in self.points]}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Polygon) and self.points == other.points

    def __hash__(self) -> int:
        return hash(self.points)

    def __repr__(self) -> str:
        return f"Polygon({[(p.latitude, p.longitude) for p in self.points]!r})"
