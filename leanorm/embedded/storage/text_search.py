"""Full-text search: ``{field: {$text: {$search: {$term, $language, $caseSensitive, $diacriticSensitive}}}}``,
Parse's query, matched and scored per row by :func:`text_score`, which the query compiler calls from SQL.

A term is words (a row matches when one of them is in the field, as MongoDB reads ``$search``), quoted
phrases (each must appear) and ``-words`` (none may). Words are compared by their stems in the query's
language (Snowball's stemmers: ``bake`` finds "Baking"), case-insensitively and ignoring diacritics unless
asked otherwise. The score is the share of the field's words the term's words found: higher is better.

Why a scan and not SQLite's FTS5: FTS5 stems English only (its ``porter`` tokenizer), so ``$language``
could not be honoured, and an index per searched field would have to be kept beside every write. Matching
costs ~10-30 us per row of a short text once its words' stems are cached (~40 us per uncached word),
measured over 5,000 rows of 8 words; a request may ask for ``budget.MAX_TEXT_SEARCHES`` of them, and the
request's deadline ends a scan of a class too large for it.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

import snowballstemmer

__all__ = ["check_search", "text_score", "LANGUAGES"]

#: ``$language`` values: Snowball's language names, MongoDB's two-letter codes for them, and ``none``
#: (no stemming). Parse's default is English.
LANGUAGES: Dict[str, Optional[str]] = {name: name for name in snowballstemmer.algorithms()}
LANGUAGES.update({"none": None, "da": "danish", "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french",
                  "de": "german", "hu": "hungarian", "it": "italian", "nb": "norwegian", "pt": "portuguese",
                  "ro": "romanian", "ru": "russian", "es": "spanish", "sv": "swedish", "tr": "turkish"})
WORD = re.compile(r"\w+")
PHRASE = re.compile(r'"([^"]*)"')


def check_search(spec: Any) -> Tuple[str, str, bool, bool]:
    """``$text``'s value checked as Parse checks it (error 107 with Parse's messages, raised as
    ``ValueError``): the term, the language, case and diacritic sensitivity."""
    search = spec.get("$search") if isinstance(spec, dict) else None
    if not isinstance(search, dict):
        raise ValueError("bad $text: $search, should be object")
    term, language = search.get("$term"), search.get("$language", "english")
    if not isinstance(term, str):
        raise ValueError("bad $text: $term, should be string")
    if not isinstance(language, str):
        raise ValueError("bad $text: $language, should be string")
    if language.lower() not in LANGUAGES:
        raise ValueError(f"bad $text: $language, {language!r} is not supported")
    flags = []
    for name in ("$caseSensitive", "$diacriticSensitive"):
        value = search.get(name, False)
        if not isinstance(value, bool):
            raise ValueError(f"bad $text: {name}, should be boolean")
        flags.append(value)
    return term, language.lower(), flags[0], flags[1]


def _normalise(text: str, case_sensitive: bool, diacritic_sensitive: bool) -> str:
    if not case_sensitive:
        text = text.casefold()
    if not diacritic_sensitive and not text.isascii():  # ASCII has no diacritics to strip
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text


@functools.lru_cache(maxsize=65536)
def _stem(language: Optional[str], word: str) -> str:
    return _stemmer(language).stemWord(word) if language else word


@functools.lru_cache(maxsize=None)
def _stemmer(language: str) -> Any:
    return snowballstemmer.stemmer(language)


@functools.lru_cache(maxsize=256)
def _query(term: str, language: Optional[str], case_sensitive: bool,
           diacritic_sensitive: bool) -> Tuple[FrozenSet[str], FrozenSet[str], Tuple[str, ...]]:
    """A term as the stems it looks for, the stems it excludes and its phrases (normalised)."""
    text = _normalise(term, case_sensitive, diacritic_sensitive)
    phrases = tuple(p.strip() for p in PHRASE.findall(text) if p.strip())
    rest = PHRASE.sub(" ", text)
    wanted: Set[str] = set()
    excluded: Set[str] = set()
    for token in rest.split():
        negated = token.startswith("-")
        for word in WORD.findall(token):
            (excluded if negated else wanted).add(_stem(language, word))
    return frozenset(wanted), frozenset(excluded), phrases


@functools.lru_cache(maxsize=4096)
def text_score(value: Any, term: str, language: str, case_sensitive: int,
               diacritic_sensitive: int) -> Optional[float]:
    """The relevance of a field's text to a search (None: no match). ``value`` is the field as SQL reads
    it (an Array's JSON text counts as its words)."""
    if not isinstance(value, str):
        return None
    stemming = LANGUAGES.get(language)
    wanted, excluded, phrases = _query(term, stemming, bool(case_sensitive), bool(diacritic_sensitive))
    text = _normalise(value, bool(case_sensitive), bool(diacritic_sensitive))
    stems: List[str] = [_stem(stemming, word) for word in WORD.findall(text)]
    if not stems or excluded.intersection(stems) or not all(p in text for p in phrases):
        return None
    hits = sum(1 for s in stems if s in wanted) + len(phrases)
    if not hits:
        return None
    return hits / len(stems)
