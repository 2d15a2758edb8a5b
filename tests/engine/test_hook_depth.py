"""A hook whose writes keep triggering it (issue 19 §2): the nesting is bounded and the bound answers a
clear error rather than a Python RecursionError deep in the log."""
import leanorm
from leanorm import IntegerField, Model
from leanorm.engine import Engine
from leanorm.embedded.endpoints.hooks import MAX_HOOK_DEPTH

engine = Engine(master_key="not-the-servers-key")


class ChainLink(Model):
    n = IntegerField()


class SelfStamp(Model):
    stamped = IntegerField()


@engine.after_save(ChainLink)
def spawn(link):
    ChainLink.objects.create(n=link.n + 1)  # a new object each time: no marker can stop this


@engine.after_update(SelfStamp)
def stamp(obj):
    obj.stamped = (obj.stamped or 0) + 1
    obj.save()  # its own object: the marker, signed with the server's key, stops the loop


def test_hooks_that_trigger_themselves_stop_at_the_bound():
    client = leanorm.connect("local://:memory:", engine=engine, default=False)
    try:
        with leanorm.using(client):
            ChainLink.objects.create(n=0)
            assert ChainLink.objects.count() == MAX_HOOK_DEPTH + 1
    finally:
        client.close()


def test_an_engine_with_other_keys_still_stops_its_own_save():
    client = leanorm.connect("local://:memory:", engine=engine, default=False)
    try:
        with leanorm.using(client):
            obj = SelfStamp.objects.create(stamped=0)
            obj.stamped = 10
            obj.save()
            assert obj.refresh().stamped == 11
    finally:
        client.close()
