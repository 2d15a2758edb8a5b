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


def test_protected_fields_are_hidden_and_can_not_be_queried(client, ledger):
    if client.backend == "leancloud":  # no schema API in LeanCloud's dialect
        return
    everyone = {"*": True}
    set_class_permissions(Ledger, {op: everyone for op in ("find", "get", "count", "create", "update", "delete",
                                                           "addField")}, protected_fields={"*": ["amount"]})
    assert class_permissions(Ledger)["protectedFields"] == {"*": ["amount"]}
    user = User.signup(username=f"pf{uuid.uuid4().hex[:8]}", password="pw")
    with as_user(user):
        row = client.request("GET", f"classes/Ledger/{ledger.id}")
        assert row["objectId"] == ledger.id and "amount" not in row
        with pytest.raises(leanorm.errors.LeanCloudError) as info:
            client.request("GET", "classes/Ledger", {"where": '{"amount": 1}'})
        assert info.value.code == 119
    with leanorm.using_master():
        assert client.request("GET", f"classes/Ledger/{ledger.id}")["amount"] == 1
