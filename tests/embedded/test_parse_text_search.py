"""``$text`` full-text search (with ``order``/``keys`` ``$score``), ``$containedBy`` and ``include=*``,
over HTTP on ``leanorm serve`` and on Parse Server (issue 19 §16)."""
from __future__ import annotations

import json
import uuid

from tests.embedded.parse_targets import served_target, target  # noqa: F401  (fixtures)

SUBJECTS = ["coffee", "Coffee Shopping", "Baking a cake", "baking", "Café Con Leche", "Сырники",
            "coffee and cream", "Cafe con Leche"]


def _subjects(target) -> str:
    cls = "Txt" + uuid.uuid4().hex[:8]
    answer = target.rest("POST", "batch", json={"requests": [
        {"method": "POST", "path": f"/parse/classes/{cls}", "body": {"subject": s}} for s in SUBJECTS]})
    assert answer.status_code == 200 and all("success" in r for r in answer.json()), answer.text
    return cls


def _search(target, cls: str, term: str, **params) -> list:
    search = {"$term": term, **{f"${k}": v for k, v in params.pop("options", {}).items()}}
    answer = target.rest("GET", f"classes/{cls}", params={
        "where": json.dumps({"subject": {"$text": {"$search": search}}}), **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def test_a_word_finds_the_texts_holding_it_in_any_case(target):
    cls = _subjects(target)
    assert sorted(r["subject"] for r in _search(target, cls, "coffee")) == ["Coffee Shopping", "coffee",
                                                                           "coffee and cream"]
    assert [r["subject"] for r in _search(target, cls, "сырники")] == ["Сырники"]


def test_words_are_compared_by_their_stems_in_the_language(target):
    cls = _subjects(target)
    assert sorted(r["subject"] for r in _search(target, cls, "bake")) == ["Baking a cake", "baking"]
    assert len(_search(target, cls, "coffees")) == 3
    spanish = _search(target, cls, "leche", options={"language": "spanish"})
    assert sorted(r["subject"] for r in spanish) == ["Cafe con Leche", "Café Con Leche"]


def test_a_diacritic_sensitive_search_tells_accents_apart(target):
    cls = _subjects(target)
    found = _search(target, cls, "CAFÉ", options={"diacriticSensitive": True})
    assert [r["subject"] for r in found] == ["Café Con Leche"]


def test_score_orders_and_is_answered(target):
    cls = _subjects(target)
    for order in ("$score", "-$score"):
        found = _search(target, cls, "coffee", order=order, keys="$score,subject")
        scores = [r["score"] for r in found]
        assert len(found) == 3 and all(isinstance(s, float) and s > 0 for s in scores)
        assert scores == sorted(scores, reverse=order.startswith("-"))


def test_a_malformed_search_is_refused_with_parses_messages(target):
    cls = _subjects(target)
    cases = [({"$search": True}, "bad $text: $search, should be object"),
             ({"$search": {"$term": "leche", "$language": True}}, "bad $text: $language, should be string"),
             ({"$search": {"$term": "leche", "$caseSensitive": "string"}},
              "bad $text: $caseSensitive, should be boolean"),
             ({"$search": {"$term": "leche", "$diacriticSensitive": "s"}},
              "bad $text: $diacriticSensitive, should be boolean")]
    for text, message in cases:
        answer = target.rest("GET", f"classes/{cls}", params={"where": json.dumps({"subject": {"$text": text}})})
        assert answer.json() == {"code": 107, "error": message}


def test_case_and_accents_options_beyond_postgresql(served_target):
    """MongoDB's options, which Parse Server on MongoDB honours (on PostgreSQL it refuses both)."""
    cls = _subjects(served_target)
    found = _search(served_target, cls, "Coffee", options={"caseSensitive": True})
    assert [r["subject"] for r in found] == ["Coffee Shopping"]
    assert len(_search(served_target, cls, "CAFÉ", options={"diacriticSensitive": False})) == 2
    assert [r["subject"] for r in _search(served_target, cls, 'coffee -cream "shopping"')] == ["Coffee Shopping"]


def test_a_score_is_the_share_of_the_texts_words_found(served_target):
    """Both stores score alike: the words the term found over the text's words, stop words counted."""
    cls = _subjects(served_target)
    found = _search(served_target, cls, "coffee", keys="$score,subject")
    assert {r["subject"]: r["score"] for r in found} == {"coffee": 1.0, "Coffee Shopping": 0.5,
                                                         "coffee and cream": 1 / 3}


def test_a_language_code_names_its_stemmer(served_target):
    cls = _subjects(served_target)
    found = _search(served_target, cls, "bake", options={"language": "en"})
    assert sorted(r["subject"] for r in found) == ["Baking a cake", "baking"]


def test_a_text_search_is_charged_to_the_requests_budget(served_target):
    cls = _subjects(served_target)
    branches = [{"subject": {"$text": {"$search": {"$term": f"w{i}"}}}} for i in range(5)]
    answer = served_target.rest("GET", f"classes/{cls}", params={"where": json.dumps({"$or": branches})})
    assert answer.status_code == 400 and answer.json()["code"] == 102, answer.text
    assert "at most 4 $text" in answer.json()["error"]  # the bound it passed, not an unknown operator


def test_contained_by_keeps_arrays_within_the_values(target):
    cls = "Cb" + uuid.uuid4().hex[:8]
    for n, arr in ((1, [1, 2]), (2, [1, 5]), (3, []), (4, None)):
        assert target.rest("POST", f"classes/{cls}", json={"n": n, **({"arr": arr} if arr is not None else {})}).ok
    found = target.rest("GET", f"classes/{cls}", params={"where": json.dumps({"arr": {"$containedBy": [1, 2, 3]}}),
                                                         "order": "n"}).json()["results"]
    assert [r["n"] for r in found] == [1, 3]
    bad = target.rest("GET", f"classes/{cls}", params={"where": json.dumps({"arr": {"$containedBy": 1}})})
    assert bad.json() == {"code": 107, "error": "bad $containedBy: should be an array"}


def test_include_star_expands_every_pointer(target):
    author_cls, post_cls = "Au" + uuid.uuid4().hex[:8], "Po" + uuid.uuid4().hex[:8]
    author = target.rest("POST", f"classes/{author_cls}", json={"name": "ann"}).json()["objectId"]
    pointer = {"__type": "Pointer", "className": author_cls, "objectId": author}
    assert target.rest("POST", f"classes/{post_cls}", json={"by": pointer, "editor": pointer, "cc": [pointer],
                                                            "title": "t"}).ok
    post = target.rest("GET", f"classes/{post_cls}", params={"include": "*"}).json()["results"][0]
    for value in (post["by"], post["editor"], post["cc"][0]):
        assert value["__type"] == "Object" and value["name"] == "ann"
