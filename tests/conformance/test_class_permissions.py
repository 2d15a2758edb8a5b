"""Class-level permissions decide before object ACLs, the same way on the embedded backend and Parse."""
import uuid

import pytest

import leanorm
from leanorm import User, as_user
from leanorm.schema import class_permissions, set_class_permissions


class Ledger(leanorm.Model):
    amount = leanorm.IntegerField()


def denied(action):
    try:
        action()
    except leanorm.errors.LeanCloudError:
        return True
    return False


@pytest.fixture
def ledger(client):
    with leanorm.using_master():
        try:
            client.request("DELETE", "purge/Ledger")
        except leanorm.errors.LeanCloudError:
            pass
    with leanorm.using_master():
        entry = Ledger.objects.create(amount=1)
    return entry


def test_find_requires_authentication_and_delete_is_closed(client, ledger):
    if client.backend == "leancloud":  # the served engine speaks LeanCloud's dialect: no schema API there
        with pytest.raises(leanorm.errors.NotSupported):
            set_class_permissions(Ledger, {"delete": {}})
        return
    set_class_permissions(Ledger, {"find": {"requiresAuthentication": True}, "count": {"requiresAuthentication": True},
                                   "delete": {}, "create": {"*": True}, "get": {"*": True}, "update": {"*": True},
                                   "addField": {"*": True}})
    assert class_permissions(Ledger)["delete"] == {}
    assert denied(lambda: list(Ledger.objects.all()))
    user = User.signup(username=f"clp{uuid.uuid4().hex[:8]}", password="pw")
    with as_user(user):
        assert [e.amount for e in Ledger.objects.all()] == [1]
        assert Ledger.objects.count() == 1
        entry = Ledger.objects.get(id=ledger.id)
        assert denied(entry.delete)
    with leanorm.using_master():
        assert Ledger.objects.count() == 1  # the master key passes every check
        Ledger.objects.get(id=ledger.id).delete()
        assert Ledger.objects.count() == 0
