"""Writes through a faulty link: what each failure means, and no ghost left behind.

Every test reads the truth with ``direct`` (a client of the same server without the proxy, identity
map off) and counts the requests the faulty client sends.
"""
from __future__ import annotations

import time

import pytest

import leanorm
from leanorm import F, IntegerField, Model, StringField
from leanorm.errors import BulkWriteError, NotSent, OutcomeUnknown, TransportError


class FaultCounter(Model):
    n = IntegerField(default=0)
    label = StringField()


def stored_n(direct, object_id):
    with leanorm.using(direct):
        return FaultCounter.objects.get(id=object_id).n


def test_both_errors_are_transport_errors():
    assert issubclass(NotSent, TransportError) and issubclass(OutcomeUnknown, TransportError)


def test_connection_refused_is_not_sent(served, direct):
    from tests.faults.conftest import url_through
    import socket
    with socket.socket() as probe:  # bound and not listening: connections to it are refused while it is held
        probe.bind(("127.0.0.1", 0))
        client = leanorm.connect(url_through(served, probe.getsockname()[1]), timeout=3, default=False)
        with leanorm.using(client), pytest.raises(NotSent):
            FaultCounter.objects.create(label="refused")
    with leanorm.using(direct):
        assert FaultCounter.objects.filter(label="refused").count() == 0


def test_reset_while_sending_is_not_sent(faulty, proxy, direct):
    # the server never gets the request: the proxy resets while the client still writes its 16 MB body
    proxy.fault("reset_before")
    with pytest.raises(NotSent):
        FaultCounter.objects.create(label="x" * (16 << 20), n=77)
    assert proxy.connections > 1  # not sent, so safe to send again: the transport tried again
    with leanorm.using(direct):
        assert FaultCounter.objects.filter(n=77).count() == 0


@pytest.mark.parametrize("mode, raised, applied", [
    # the server acted, and the answer was lost: "unknown" is the right answer
    ("reset_after", OutcomeUnknown, 1),
    # whether the client sees the reset while still writing (NotSent, and the transport sends it again)
    # or only after the whole request left (OutcomeUnknown: it cannot know the server never got it)
    # depends on timing; either way nothing is applied, and nothing claims more than it knows
    ("reset_before", (NotSent, OutcomeUnknown), 0),
])
def test_a_reset_write_says_what_is_known(faulty, proxy, direct, mode, raised, applied):
    counter = FaultCounter.objects.create(label=mode)
    proxy.fault(mode)
    counter.increment("n")
    with pytest.raises(raised):
        counter.save()
    assert stored_n(direct, counter.id) == applied


def test_failed_save_leaves_nothing_to_send_again(faulty, proxy, direct):
    counter = FaultCounter.objects.create(label="ghost")
    proxy.fault("reset_after", times=1)
    counter.increment("n")
    with pytest.raises(OutcomeUnknown):
        counter.save()
    again = FaultCounter.objects.get(id=counter.id)
    assert not again.is_dirty and again.n == 1  # read afresh: what the server holds
    sent = faulty.request_count
    counter.save()  # the failed instance has nothing queued any more
    assert faulty.request_count == sent
    again.increment("n")
    again.save()
    assert stored_n(direct, counter.id) == 2 and counter.n == 2  # the expired instance reloads


def test_failed_update_leaves_nothing_to_send_again(faulty, proxy, direct):
    FaultCounter.objects.bulk_create([FaultCounter(label="many") for _ in range(3)])
    many = FaultCounter.objects.filter(label="many")
    list(many)  # the instances are mapped in this unit of work
    proxy.fault("reset_after", times=1, only=b"POST /1.1/batch")
    with pytest.raises(BulkWriteError) as failure:
        many.update(n=F("n") + 1)
    assert len(failure.value.unknown) == 3 and not failure.value.succeeded
    assert all(isinstance(err, OutcomeUnknown) for _, err in failure.value.unknown)
    assert many.update(n=F("n") + 1) == 3
    with leanorm.using(direct):
        assert sorted(FaultCounter.objects.filter(label="many").values_list("n", flat=True)) == [2, 2, 2]
    assert [c.n for c in FaultCounter.objects.filter(label="many")] == [2, 2, 2]


def test_applied_delete_that_failed_is_not_served_afterwards(faulty, proxy):
    counter = FaultCounter.objects.create(label="gone")
    assert FaultCounter.objects.get(id=counter.id) is counter
    proxy.fault("reset_after", times=1)
    with pytest.raises(OutcomeUnknown):
        counter.delete()
    with pytest.raises(FaultCounter.DoesNotExist):
        FaultCounter.objects.get(id=counter.id)


def test_bulk_create_without_an_answer_reports_unknown(faulty, proxy, direct):
    objs = [FaultCounter(label="bulk-unknown") for _ in range(4)]
    proxy.fault("reset_after", times=1)
    with pytest.raises(BulkWriteError) as failure:
        FaultCounter.objects.bulk_create(objs)
    assert [obj for obj, _ in failure.value.unknown] == objs and all(o.id is None for o in objs)
    with leanorm.using(direct):
        assert FaultCounter.objects.filter(label="bulk-unknown").count() == 4  # they had landed


def test_bulk_create_with_client_ids_gives_landed_objects_their_ids(faulty, proxy, direct):
    objs = [FaultCounter(label="bulk-ids", n=i) for i in range(4)]
    proxy.fault("reset_after", times=1)
    assert FaultCounter.objects.bulk_create(objs, client_ids=True) == objs  # settled by reading them back
    with leanorm.using(direct):
        stored = {c.id: c.n for c in FaultCounter.objects.filter(label="bulk-ids")}
    assert stored == {o.id: o.n for o in objs} and len(stored) == 4


def test_bulk_create_reports_per_object(faulty, proxy, direct):
    landed = [FaultCounter(label="bulk-mixed") for _ in range(2)]
    FaultCounter.objects.bulk_create(landed, client_ids=True)
    retry = [FaultCounter(label="bulk-mixed") for _ in range(2)]
    for obj, twin in zip(retry, landed):
        obj.assign_id(twin.id)  # as if these had been sent before and had landed
    fresh = [FaultCounter(label="bulk-mixed") for _ in range(2)]
    assert FaultCounter.objects.bulk_create(retry + fresh, client_ids=True) == retry + fresh
    assert [o.id for o in retry] == [o.id for o in landed] and all(o.id for o in fresh)
    with leanorm.using(direct):
        assert FaultCounter.objects.filter(label="bulk-mixed").count() == 4


def test_create_with_a_client_id_is_safe_to_send_again(faulty, proxy, direct):
    counter = FaultCounter(label="retry-create")
    object_id = counter.assign_id()
    proxy.fault("reset_after", times=1)
    with pytest.raises(OutcomeUnknown):
        counter.save()
    assert counter.id is None and counter.pending_id == object_id
    counter.save()  # the server refuses the duplicate id: the save takes the stored object
    assert counter.id == object_id
    with leanorm.using(direct):
        assert FaultCounter.objects.filter(label="retry-create").count() == 1


def test_an_answer_that_is_not_the_protocols_is_outcome_unknown():
    from leanorm.protocol.dialects import LeanCloudDialect
    from leanorm.transport import Response, Transport

    class GatewayPage(Transport):  # a proxy in front of the server answers with its own error page
        def send(self, request):
            return Response(502, b"<html>Bad Gateway</html>")

    client = leanorm.Client(GatewayPage(), LeanCloudDialect(), "app", "key")
    with leanorm.using(client), pytest.raises(OutcomeUnknown, match="not JSON"):
        FaultCounter.objects.create(label="gateway")


def test_bulk_create_queued_behind_another_writer_stays_unknown_not_not_sent(served, direct):
    """A batch that times out while it waits behind another program's write is still applied once that
    program lets go: the read-back after the timeout finds nothing, which proves nothing. Reporting
    ``NotSent`` (it promises nothing was applied) was a lie for every one of these objects."""
    import sqlite3
    client = leanorm.connect(served.leanorm_url, timeout=1.5, default=False)
    holder = sqlite3.connect(str(served.database), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock until bulk_create has answered
    objs = [FaultCounter(label="queued-batch", n=i) for i in range(4)]
    started = time.monotonic()
    try:
        with leanorm.using(client), pytest.raises(BulkWriteError) as failure:
            FaultCounter.objects.bulk_create(objs, client_ids=True)
        elapsed = time.monotonic() - started
    finally:
        holder.execute("COMMIT")  # not on a timer: a slow machine must not see the batch land before it answers
        holder.close()
        client.close()
    assert not failure.value.failed
    assert [obj for obj, _ in failure.value.unknown] == objs
    assert elapsed < 3.0  # the read-back is within the write's 1.5 s deadline, not a second one of its own
    with leanorm.using(direct):
        for _ in range(50):  # the queued batch lands once the lock is free
            if FaultCounter.objects.filter(label="queued-batch").count() == 4:
                break
            time.sleep(0.1)
        assert sorted(o.id for o in FaultCounter.objects.filter(label="queued-batch")) == \
            sorted(o.pending_id for o in objs)
