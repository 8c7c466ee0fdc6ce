"""A bilingual glossary of UN terms: jieba's extra dictionary and the bridge that carries
query terms from one language into the other for lexical search.

The glossary is every (zh, en) form pair of the gazetteer (``gazetteer.tsv``: countries, groups,
bodies, acronyms, titles, terms). :func:`translate_terms` adds the CC-CEDICT dictionary for the
words the glossary does not cover.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.gazetteer import DEFAULT_GAZETTEER, Gazetteer, TermMatcher, load_gazetteer

if TYPE_CHECKING:
    from indexer.dictionary import Dictionary

DEFAULT_GLOSSARY = DEFAULT_GAZETTEER
GLOSSARY_WEIGHT = 1.0
"""Weight of a target term the glossary gives (:func:`translate_terms`)."""
DICTIONARY_WEIGHT = 0.5
"""Weight of a target term only the dictionary gives: it does not know which sense is meant."""


@dataclass(frozen=True)
class Glossary:
    pairs: tuple[tuple[str, str], ...]
    """(zh, en) pairs."""

    @classmethod
    def from_gazetteer(cls, gazetteer: Gazetteer) -> Glossary:
        return cls(gazetteer.pairs())

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(self.pairs).encode()).hexdigest()[:12]

    @property
    def chinese_terms(self) -> list[str]:
        return sorted({zh for zh, _ in self.pairs})

    def translate(self, text: str, source: str) -> list[str]:
        """Target-language terms for the glossary terms found in ``text``, in text order, each once.

        Longer terms win over the terms they contain, so 执行主任 does not also yield 主任's term.
        English terms match whole words, ignoring case (except all-capital acronyms) and a plural s.
        """
        return list(dict.fromkeys(t for _, _, targets in self.matches(text, source) for t in targets))

    def matches(self, text: str, source: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """``(start, end, target terms)`` for each glossary term found in ``text``, in text order."""
        matcher, targets = self._zh if source == "zh" else self._en
        return [(start, end, targets[form]) for start, end, form in matcher.find(text)]

    @cached_property
    def _zh(self) -> tuple[TermMatcher, dict[str, tuple[str, ...]]]:
        return _index([(zh, en) for zh, en in self.pairs], ignore_case=False)

    @cached_property
    def _en(self) -> tuple[TermMatcher, dict[str, tuple[str, ...]]]:
        return _index([(en, zh) for zh, en in self.pairs], ignore_case=True)


def _index(pairs: list[tuple[str, str]], *, ignore_case: bool) -> tuple[TermMatcher, dict[str, tuple[str, ...]]]:
    matcher = TermMatcher((source for source, _ in pairs), ignore_case=ignore_case)
    targets: dict[str, dict[str, None]] = {}
    for source, target in pairs:
        targets.setdefault(matcher.key(source), {})[target] = None
    return matcher, {form: tuple(t) for form, t in targets.items()}


def load_glossary(path: Path = DEFAULT_GLOSSARY) -> Glossary:
    """The glossary of the gazetteer file at ``path`` (all kinds)."""
    return Glossary.from_gazetteer(load_gazetteer(path))


def translate_terms(text: str, source: str, glossary: Glossary, dictionary: Dictionary) -> dict[str, float]:
    """Target-language terms for ``text`` (in ``source``, 'zh' or 'en'), weighted by how sure the
    translation is: :data:`GLOSSARY_WEIGHT` (1.0) for terms the glossary gives (UN terms, names,
    acronyms; the longest match wins), :data:`DICTIONARY_WEIGHT` (0.5) for terms the dictionary
    gives for the rest of the text. Pure; the order is the text order.
    """
    terms: dict[str, float] = {}
    rest = list(text)
    for start, end, targets in glossary.matches(text, source):
        # The entry's main form only: its aliases (the long official name) would add every
        # sub-word of that name as a query term.
        if targets:
            terms[targets[0]] = GLOSSARY_WEIGHT
        # Blank the matched span so the dictionary does not translate its words again.
        rest[start:end] = " " * (end - start)
    for target in (dictionary.translate("".join(rest), source) if dictionary is not None else ()):
        terms.setdefault(target, DICTIONARY_WEIGHT)
    return terms
