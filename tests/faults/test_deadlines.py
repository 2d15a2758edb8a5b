"""``timeout`` is a deadline for a whole request: connect, send, every read, retries and their pauses.

The bounds asserted are generous (the outcome is what is tested): an answer dripped a byte every 50 ms
would take minutes, a stalled one forever.
"""
from __future__ import annotations

import time
import uuid

import pytest

import leanorm
from leanorm import Model, StringField
from leanorm.errors import OutcomeUnknown
from tests.faults.conftest import url_through

GENEROUS = 15.0


class DripNote(Model):
    text = StringField()


@pytest.fixture
def page(direct):
    """20 notes with a text of their own (a 5 kB answer); the text."""
    text = uuid.uuid4().hex * 6
    with leanorm.using(direct):
        DripNote.objects.bulk_create([DripNote(text=text) for _ in range(20)])
    return text


def test_dripped_answer_is_cut_at_the_clients_timeout(served, proxy, page):
    client = leanorm.connect(url_through(served, proxy.port), timeout=1, default=False)
    proxy.fault("drip")
    started = time.monotonic()
    with leanorm.using(client), pytest.raises(OutcomeUnknown):
        list(DripNote.objects.all())
    assert time.monotonic() - started < GENEROUS


def test_stalled_read_with_retries_is_cut_at_the_timeout(served, proxy, page):
    client = leanorm.connect(url_through(served, proxy.port), timeout=1, default=False)
    proxy.fault("stall")
    started = time.monotonic()
    with leanorm.using(client), pytest.raises(OutcomeUnknown):
        DripNote.objects.count()
    assert time.monotonic() - started < GENEROUS
    assert proxy.connections >= 1


def test_a_block_or_a_call_sets_its_own_deadline(served, proxy, page):
    client = leanorm.connect(url_through(served, proxy.port), timeout=300, default=False)
    proxy.fault("drip")
    started = time.monotonic()
    with leanorm.using(client), leanorm.timeout(1), pytest.raises(OutcomeUnknown):
        list(DripNote.objects.all())
    with pytest.raises(OutcomeUnknown):
        client.request("GET", "classes/DripNote", timeout=1)
    assert time.monotonic() - started < 2 * GENEROUS
    proxy.fault("pass")
    with leanorm.using(client):
        assert DripNote.objects.filter(text=page).count() == 20  # the client is fine afterwards


def test_connect_applies_its_keywords_with_a_url(served):
    client = leanorm.connect(served.leanorm_url, timeout=2, identity_ttl=0, identity_size=5, client_ids=True,
                             default=False)
    assert client.transport.timeout == 2
    assert not client.identity_map.enabled and client.identity_map.maxsize == 5 and client.client_ids
    embedded = leanorm.connect("local://:memory:?identity_ttl=30", identity_ttl=0, default=False)
    assert not embedded.identity_map.enabled


def test_connect_refuses_a_second_server_or_impossible_settings():
    with pytest.raises(ValueError, match="database"):
        leanorm.connect("local://:memory:", database="other.sqlite3", default=False)
    with pytest.raises(ValueError, match="timeout"):
        leanorm.connect("local://:memory:", timeout=0, default=False)
    with pytest.raises(ValueError, match="identity_ttl"):
        leanorm.connect("local://:memory:", identity_ttl=-1, default=False)
    with pytest.raises(ValueError, match="positive"):
        with leanorm.timeout(-1):
            pass
