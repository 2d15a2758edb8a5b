"""Polygon values (``PolygonField``) and the ``intersects`` and ``within_polygon`` lookups, on every
backend: the objects that come back where the backend has Polygons, ``NotSupported`` where it has not."""
from typing import Optional

import pytest

import leanorm
from leanorm import GeoPoint, GeoPointField, Model, Polygon, PolygonField, StringField
from leanorm.errors import NotSupported


class Zone(Model):
    name: StringField[Optional[str]] = StringField()
    area: PolygonField[Optional[Polygon]] = PolygonField()
    center: GeoPointField[Optional[GeoPoint]] = GeoPointField()


#: latitude 0..1, longitude 10..11
STRIP = Polygon([(0, 10), (0, 11), (1, 11), (1, 10)])
FAR = Polygon([GeoPoint(40, 40), GeoPoint(40, 41), GeoPoint(41, 41)])


@pytest.fixture
def zones(client):
    with leanorm.using_master():
        Zone.objects.all().delete()
    if not client.supports("polygons"):
        return None
    return [Zone.objects.create(name="strip", area=STRIP, center=GeoPoint(0.5, 10.5)),
            Zone.objects.create(name="far", area=FAR, center=GeoPoint(40.5, 40.7))]


def test_a_polygon_round_trips(client, zones):
    if zones is None:
        pytest.skip("no Polygon type on this backend")
    assert Zone.objects.get(name="strip").area == STRIP
    assert zones[0].area == STRIP


def test_intersects_finds_the_polygons_holding_a_point(client, zones):
    qs = Zone.objects.filter(area__intersects=GeoPoint(0.5, 10.5))
    if zones is None:
        with pytest.raises(NotSupported):
            list(qs)
        return
    assert [z.name for z in qs] == ["strip"]
    assert list(Zone.objects.filter(area__intersects=GeoPoint(10.5, 0.5))) == []


def test_within_polygon_finds_the_points_inside(client, zones):
    if zones is None:
        pytest.skip("no Polygon type on this backend")
    assert [z.name for z in Zone.objects.filter(center__within_polygon=STRIP)] == ["strip"]
    triangle = [GeoPoint(40, 40), GeoPoint(41, 40), GeoPoint(41, 42)]
    assert [z.name for z in Zone.objects.filter(center__within_polygon=triangle)] == ["far"]


def test_polygons_need_three_points():
    with pytest.raises(ValueError):
        Polygon([(0, 0), (1, 1)])
