"""Issue 9, item 7: no ``$regex`` and no CQL ``like`` can stall the server.

Python's backtracking ``re`` spent 24 s on ``^(a+)+$`` against thirty ``a`` and a ``!``, holding the
interpreter, so even ``GET /1.1/date`` waited. The bounds below are generous (seconds, where the
answers take milliseconds): they tell "linear" from "exponential", they do not time anything.
"""
import threading

from tests.security.raw_http import Raw, raw, refused, unique  # noqa: F401 (fixtures)
from tests.served import served  # noqa: F401 (fixture)

EVIL = "a" * 30 + "!"


def test_catastrophic_pattern_answers_and_does_not_hold_other_requests(raw: Raw) -> None:
    name = unique("Regex")
    for text in (EVIL, "aaaa"):
        raw.ok("POST", f"classes/{name}", {"s": text})
    answers: dict = {}

    def search() -> None:
        answers["regex"] = raw.call("GET", f"classes/{name}", params={"where": {"s": {"$regex": "^(a+)+$"}}},
                                    timeout=20)

    slow = threading.Thread(target=search)
    slow.start()
    date = raw.call("GET", "date", timeout=10)
    slow.join(30)
    assert date[0] == 200
    status, found = answers["regex"]
    assert status == 200 and [r["s"] for r in found["results"]] == ["aaaa"]


def test_cql_like_with_many_wildcards_answers(served) -> None:  # noqa: F811 (fixture)
    leancloud = Raw(served, "leancloud")
    name = unique("Like")
    leancloud.ok("POST", f"classes/{name}", {"s": "a" * 3000})
    leancloud.ok("POST", f"classes/{name}", {"s": "a" * 3000 + "b"})
    status, found = leancloud.call("GET", "cloudQuery", timeout=20, params={
        "cql": f"select * from {name} where s like '%a%a%a%a%a%a%b'"})
    assert status == 200 and [len(r["s"]) for r in found["results"]] == [3001]


def test_backtracking_only_features_are_an_invalid_query(raw: Raw) -> None:
    name = unique("Regex")
    raw.ok("POST", f"classes/{name}", {"s": "abab"})
    for pattern in (r"(ab)\1", "a(?=b)", "(?<=a)b", "a(?!b)"):
        refused(raw.call("GET", f"classes/{name}", params={"where": {"s": {"$regex": pattern}}}), 400, 102)
    refused(raw.call("GET", f"classes/{name}", params={"where": {"s": {"$regex": "a", "$options": "q"}}}),
            400, 102)
    assert len(raw.rows(name)) == 1


def test_supported_options_and_negation_still_match(raw: Raw) -> None:
    name = unique("Regex")
    for text in ("Hello\nworld", "bye"):
        raw.ok("POST", f"classes/{name}", {"s": text})

    def matching(pattern: str, options: str = "") -> list:
        where = {"s": {"$regex": pattern, **({"$options": options} if options else {})}}
        return sorted(r["s"] for r in raw.ok("GET", f"classes/{name}", params={"where": where})["results"])

    assert matching("^hello", "i") == ["Hello\nworld"]
    assert matching("^world$") == [] and matching("^world$", "m") == ["Hello\nworld"]
    assert matching("hello.world", "is") == ["Hello\nworld"] and matching("hello.world", "i") == []
    assert matching("h e l l o  # a comment", "ix") == ["Hello\nworld"]
    assert matching(r"\Qbye\E") == ["bye"]
    assert matching(r"^(?![\s\S]*?(?:world))") == ["bye"]  # what leanorm sends for ~Q(s__contains=...)


def test_every_pattern_re2_accepts_is_answered_never_a_server_error(raw: Raw) -> None:
    """On either store (PostgreSQL runs its own regular expressions, rewritten from RE2's syntax): a named
    group matches as a plain one, and what the store's engine cannot run is an invalid query, not a 500."""
    name = unique("RegexSyntax")
    raw.ok("POST", f"classes/{name}", {"s": "Word here"})
    status, found = raw.call("GET", f"classes/{name}", params={"where": {"s": {"$regex": "^(?P<first>W)ord"}}})
    assert status == 200 and [r["s"] for r in found["results"]] == ["Word here"]
    for pattern in ("(?i:word)", r"\pL+", "(?U)W.*e", r"[[:alpha:]]+\b"):
        status, answer = raw.call("GET", f"classes/{name}", params={"where": {"s": {"$regex": pattern}}})
        assert status == 200 or (status, answer.get("code")) == (400, 102), (pattern, status, answer)
