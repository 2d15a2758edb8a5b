"""The Polygon type over HTTP on ``leanorm serve`` and on Parse Server: stored closed, its schema type,
``$geoIntersects: {$point}`` on a Polygon field and ``$geoWithin: {$polygon}`` with a Polygon value."""
from __future__ import annotations

import json
import uuid

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)


def _polygon(*coordinates: list) -> dict:
    return {"__type": "Polygon", "coordinates": [list(c) for c in coordinates]}


#: latitude 0..1, longitude 10..11 (coordinates are [latitude, longitude] pairs)
STRIP = _polygon([0, 10], [0, 11], [1, 11], [1, 10])
FAR = _polygon([40, 40], [40, 41], [41, 41], [41, 40])


def _zones(target) -> str:
    cls = "Zone" + uuid.uuid4().hex[:10]
    for name, bounds in (("strip", STRIP), ("far", FAR)):
        made = target.rest("POST", f"classes/{cls}", json={"name": name, "bounds": bounds})
        assert made.status_code == 201, made.text
    return cls


def _names(target, cls: str, where: dict) -> list:
    answer = target.rest("GET", f"classes/{cls}", params={"where": json.dumps(where), "order": "name"})
    assert answer.status_code == 200, answer.text
    return [r["name"] for r in answer.json()["results"]]


def _at(lat: float, lng: float) -> dict:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def test_a_polygon_is_stored_closed_with_its_schema_type(target):
    cls = _zones(target)
    stored = target.rest("GET", f"classes/{cls}", params={"where": '{"name":"strip"}'}).json()["results"][0]
    assert stored["bounds"] == _polygon([0, 10], [0, 11], [1, 11], [1, 10], [0, 10])
    schema = target.rest("GET", f"schemas/{cls}", master=True).json()
    assert schema["fields"]["bounds"]["type"] == "Polygon"


def test_geo_intersects_finds_the_polygons_holding_a_point(target):
    cls = _zones(target)
    assert _names(target, cls, {"bounds": {"$geoIntersects": {"$point": _at(0.5, 10.5)}}}) == ["strip"]
    assert _names(target, cls, {"bounds": {"$geoIntersects": {"$point": _at(10.5, 0.5)}}}) == []
    assert _names(target, cls, {"bounds": {"$geoIntersects": {"$point": _at(0, 10)}}}) == ["strip"]  # a vertex


def test_geo_intersects_needs_a_geopoint(target):
    cls = _zones(target)
    answer = target.rest("GET", f"classes/{cls}",
                         params={"where": json.dumps({"bounds": {"$geoIntersects": {"$point": [0.5, 10.5]}}})})
    assert answer.status_code == 400 and answer.json()["code"] == 107, answer.text


def test_a_polygon_needs_three_points(target):
    cls = "Zone" + uuid.uuid4().hex[:10]
    answer = target.rest("POST", f"classes/{cls}", json={"bounds": _polygon([0, 0], [0, 1])})
    assert answer.status_code == 400 and answer.json()["code"] == 107, answer.text


def test_geo_within_a_polygon_value(target):
    cls = "Place" + uuid.uuid4().hex[:10]
    for name, lat, lng in (("in", 0.5, 10.5), ("out", 5, 5)):
        assert target.rest("POST", f"classes/{cls}", json={"name": name, "at": _at(lat, lng)}).ok
    # a $polygon's raw pairs are [longitude, latitude], Parse's convention for them
    raw = [[10, 0], [11, 0], [11, 1], [10, 1]]
    assert _names(target, cls, {"at": {"$geoWithin": {"$polygon": raw}}}) == ["in"]
    points = [_at(0, 10), _at(0, 11), _at(1, 11), _at(1, 10)]
    assert _names(target, cls, {"at": {"$geoWithin": {"$polygon": points}}}) == ["in"]


def test_a_bad_polygon_value_is_refused_not_stored(served_target):
    cls = "Zone" + uuid.uuid4().hex[:10]
    for bad in (_polygon([0, 0], [0, 1], [1, "a"]), _polygon([0, 0], [0, 1], [200, 1]),
                {"__type": "Polygon", "coordinates": "x"}):
        answer = served_target.rest("POST", f"classes/{cls}", json={"bounds": bad})
        assert answer.status_code == 400 and answer.json()["code"] in (107, 111), answer.text
    assert served_target.rest("GET", f"classes/{cls}").json()["results"] == []


def test_a_polygon_equals_itself_open_or_closed(target):
    """Equality with a Polygon value finds the stored polygon whether the query names it open (as it was
    saved) or closed (as it is stored), with whole or decimal coordinates."""
    cls = _zones(target)
    open_strip = STRIP["coordinates"]
    for value in (STRIP, _polygon(*open_strip, open_strip[0]),
                  _polygon(*[[float(a), float(b)] for a, b in open_strip])):
        assert _names(target, cls, {"bounds": value}) == ["strip"], value
    assert _names(target, cls, {"bounds": _polygon([0, 10], [0, 11], [1, 11])}) == []


def test_an_object_is_written_with_one_geopoint(target):
    """As on Parse Server: an object written with two GeoPoints is refused with 111, and so is a second
    GeoPoint field declared through the schema API; the first field keeps working. (LeanCloud's dialect
    takes two: its recorded answers show a class holding two.)"""
    cls = "Spot" + uuid.uuid4().hex[:10]
    both = target.rest("POST", f"classes/{cls}", json={"one": _at(20, 20), "two": _at(20, 20)})
    assert both.status_code == 400 and both.json()["code"] == 111, both.text
    made = target.rest("POST", f"classes/{cls}", json={"one": _at(20, 20)})
    assert made.status_code == 201, made.text
    again = target.rest("PUT", f"classes/{cls}/{made.json()['objectId']}", json={"one": _at(1, 1)})
    assert again.status_code == 200, again.text
    schema = target.rest("PUT", f"schemas/{cls}", master=True, json={"fields": {"three": {"type": "GeoPoint"}}})
    assert schema.status_code == 400 and schema.json()["code"] == 111, schema.text
