"""Patterns of real LeanCloud apps that failed on the embedded backend (issue 10, items 14-16): related
lookups into a class nobody wrote to yet, geo operators inside a subquery, ``_Role``'s relations before
their first write, and role members read as the app's own ``_User`` model. Parse Server answers each
the same way (the ``parse`` backend of this suite)."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

import leanorm
from leanorm import GeoPoint, GeoPointField, Model, PointerField, Role, StringField, User
from leanorm.models import registry

RUN = uuid.uuid4().hex[:8]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class NeverWritten(Model):
    name = StringField()

    class Meta:
        class_name = f"CfNeverWritten{RUN}"  # no table, no schema: nothing was ever saved to it


class CfPost(Model):
    title = StringField()
    author = PointerField(NeverWritten)

    class Meta:
        class_name = f"CfPost{RUN}"


class CfShop(Model):
    place = GeoPointField()

    class Meta:
        class_name = f"CfShop{RUN}"


class CfOffer(Model):
    title = StringField()
    shop = PointerField(CfShop)

    class Meta:
        class_name = f"CfOffer{RUN}"


def test_a_related_lookup_into_a_class_with_no_objects_yet(client) -> None:
    CfPost.objects.create(title="orphan")
    assert list(CfPost.objects.filter(author__name="Ann")) == []


def test_geo_operators_inside_a_subquery(client) -> None:
    near = CfShop.objects.create(place=GeoPoint(39.90, 116.40))
    far = CfShop.objects.create(place=GeoPoint(31.23, 121.47))
    CfOffer.objects.create(title="near", shop=near)
    CfOffer.objects.create(title="far", shop=far)
    here = GeoPoint(39.91, 116.41)
    assert [o.title for o in CfOffer.objects.filter(shop__place__within_km=(here, 50))] == ["near"]
    assert [o.title for o in CfOffer.objects.filter(shop__place__near=here).order_by("title")] == ["far", "near"]


def test_a_new_roles_relations_are_empty_relations(client) -> None:
    with leanorm.using_master():
        role = Role(name=unique("fresh"))
        role.save()
        for key, target in (("users", "_User"), ("roles", "_Role")):
            answer = client.request("GET", "classes/_Role", params={
                "where": {"$relatedTo": {"object": {"__type": "Pointer", "className": "_Role",
                                                    "objectId": role.id}, "key": key}},
                "redirectClassNameForKey": key, "count": 1, "limit": 0})
            assert (answer["count"], answer.get("className", target)) == (0, target)
        assert role.users.count() == 0 and role.roles.count() == 0


@pytest.fixture
def app_user_model() -> Iterator[type]:
    """The app's own ``_User`` model, registered for this test only (pointers decode through it)."""
    with registry.preserved():
        yield _declare_app_user()


def _declare_app_user() -> type:
    class AppUser(User):
        nickname = StringField()

        class Meta:
            class_name = "_User"

        @property
        def display(self) -> str:
            return self.nickname or self.username

    return AppUser


def test_role_members_are_the_apps_user_model(client, app_user_model) -> None:
    member = app_user_model.signup(username=unique("m"), password="pw", nickname="Mo")
    with leanorm.using_master():
        role = Role(name=unique("crew"))
        role.save()
        role.users.add(member)
        members = list(role.users.all())
    assert [type(m) for m in members] == [app_user_model]
    assert [m.display for m in members] == ["Mo"]
