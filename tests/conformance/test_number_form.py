"""A number reads back in the form it was stored in: a float stays a float, however whole, on both stores.

PostgreSQL's ``jsonb`` keeps a number as ``numeric``, which keeps ``2.0``'s fraction but not that of a float
written with an exponent: ``1e+16`` (how JSON spells every float from 1e16 up) became the integer
10000000000000000, read back as an ``int`` — and ``1e19``, past 2**63, as an integer no ``Increment`` could
then take. SQLite keeps the text. Parse Server (JavaScript, on PostgreSQL here) has one kind of number and
writes every whole one as an integer (``2.0`` is ``2``): it answers the same values, as integers.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Dict

import leanorm

#: a float that is a whole number, small and past every integer bound, beside an integer
STORED: Dict[str, Any] = {"whole": 2.0, "big": 1e16, "negative": -3e17, "past_int64": 1e19, "past_64_bits": 1.5e20,
                          "count": 3, "list": [1e16, 2.0, 4], "nested": {"a": 1e17, "b": 5}}


def _form(value: Any) -> Any:
    """``value`` with each number paired with its type: ``2.0`` and ``2`` are equal, their forms are not."""
    if isinstance(value, dict):
        return {k: _form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_form(v) for v in value]
    return (type(value).__name__, value)


def _as_parse_answers(value: Any) -> Any:
    """What Parse Server answers for ``value``: JavaScript writes a whole number without a fraction (and the
    client reads an integer past 64 bits as a float, as it reads every JSON integer of that size)."""
    if isinstance(value, dict):
        return {k: _as_parse_answers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_parse_answers(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 64:
        return int(value)
    return value


def _mine(answer: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in answer.items() if k in STORED}


def test_a_whole_float_reads_back_a_float_in_every_answer(client, backend):
    expected = _form(_as_parse_answers(STORED) if backend == "parse" else STORED)
    name, holder = f"Numbers{uuid.uuid4().hex[:8]}", f"NumberHolders{uuid.uuid4().hex[:8]}"
    with leanorm.using_master():
        made = client.request("POST", f"classes/{name}", body=STORED)
        client.request("POST", f"classes/{holder}", body={
            "target": {"__type": "Pointer", "className": name, "objectId": made["objectId"]}})
        assert _form(_mine(client.request("GET", f"classes/{name}/{made['objectId']}"))) == expected
        found = client.request("GET", f"classes/{name}", params={"where": {"big": 1e16}})["results"]
        assert [_form(_mine(row)) for row in found] == [expected]
        picked = client.request("GET", f"classes/{name}", params={"keys": "big,nested"})["results"]
        assert [_form(_mine(row)) for row in picked] == [{k: expected[k] for k in ("big", "nested")}]
        included = client.request("GET", f"classes/{holder}", params={"include": "target"})["results"]
        assert [_form(_mine(row["target"])) for row in included] == [expected]

        # past 2**63 as a float, not an integer no Increment can take (111)
        client.request("PUT", f"classes/{name}/{made['objectId']}",
                       body={"past_int64": {"__op": "Increment", "amount": 1}})
        again = client.request("GET", f"classes/{name}/{made['objectId']}")["past_int64"]
        assert _form(again) == _form(_as_parse_answers(1e19) if backend == "parse" else 1e19)

        client.request("POST", f"classes/{name}", body={"big": 3e16})
        pipeline = [{"$group": {"_id": None, "total": {"$sum": "$big"}, "most": {"$max": "$big"}}}]
        grouped = client.request("GET", f"aggregate/{name}", params={"pipeline": json.dumps(pipeline)})["results"]
        totals = {"total": 4e16, "most": 3e16}
        assert [_form({k: row[k] for k in totals}) for row in grouped] == [
            _form(_as_parse_answers(totals) if backend == "parse" else totals)]
