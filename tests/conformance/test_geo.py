"""Geo: distances on GeoPoint agree with the backends' distance lookups, which sort nearest first."""
from __future__ import annotations

import pytest

import leanorm
from leanorm import GeoPoint, GeoPointField, Model, StringField


class City(Model):
    """A class of this module's own: other suites running on the same Parse Server purge Post."""

    name = StringField()
    place = GeoPointField()

HOME = GeoPoint(31.23, 121.47)  # Shanghai
PLACES = {"Hangzhou": GeoPoint(30.27, 120.16), "Nanjing": GeoPoint(32.06, 118.80),
          "Beijing": GeoPoint(39.90, 116.40), "Guangzhou": GeoPoint(23.13, 113.26)}


@pytest.fixture
def places(client):
    with leanorm.using_master():
        client.request("DELETE", "purge/City")
    City.objects.bulk_create([City(name=name, place=point) for name, point in PLACES.items()])


def by_distance(limit_km: float) -> list:
    near = sorted((HOME.kilometers_to(p), name) for name, p in PLACES.items())
    return [name for km, name in near if km <= limit_km]


def test_point_distances():
    beijing = PLACES["Beijing"]
    assert round(HOME.kilometers_to(beijing)) == 1067
    assert HOME.miles_to(beijing) == pytest.approx(HOME.kilometers_to(beijing) / 1.609, rel=1e-3)
    assert HOME.radians_to(beijing) == pytest.approx(HOME.kilometers_to(beijing) / 6371.0)
    assert HOME.kilometers_to(HOME) == 0


@pytest.mark.parametrize("limit_km", [200, 300, 1100, 5000])
def test_distance_lookups_sort_nearest_first(client, places, limit_km):
    expected = by_distance(limit_km)
    assert [c.name for c in City.objects.filter(place__within_km=(HOME, limit_km))] == expected
    assert [c.name for c in City.objects.filter(place__within_miles=(HOME, limit_km / 1.609344))] == expected
    assert [c.name for c in City.objects.filter(place__within_radians=(HOME, limit_km / 6371.0))] == expected
    assert [c.name for c in City.objects.filter(place__near=HOME)] == by_distance(1e9)


def test_within_polygon_keeps_the_points_inside_it(client, places):
    """``$geoWithin: {$polygon}``, as Parse's ``withinPolygon`` sends it: GeoPoints, or ``[longitude,
    latitude]`` pairs."""
    corners = [(29, 117), (29, 121), (33, 120), (33, 117)]  # (latitude, longitude): around Hangzhou and Nanjing
    as_points = [{"__type": "GeoPoint", "latitude": lat, "longitude": lng} for lat, lng in corners]
    as_pairs = [[lng, lat] for lat, lng in corners]
    for polygon in (as_points, as_pairs):
        answer = client.request("GET", "classes/City", {"where": {"place": {"$geoWithin": {"$polygon": polygon}}}})
        assert sorted(row["name"] for row in answer["results"]) == ["Hangzhou", "Nanjing"]
