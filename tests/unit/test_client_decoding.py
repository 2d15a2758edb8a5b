"""Answers are decoded with orjson, and with json where orjson refuses what JSON allows."""
import math

from leanorm.client import _loads


def test_plain_answer():
    assert _loads(b'{"results": [{"score": 3, "title": "x"}]}') == {"results": [{"score": 3, "title": "x"}]}


def test_integers_beyond_64_bits_and_nan_still_decode():
    answer = _loads(b'{"big": 123456789012345678901234567890, "nan": NaN}')
    assert answer["big"] == 123456789012345678901234567890
    assert math.isnan(answer["nan"])
