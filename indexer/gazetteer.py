"""Record knowledge as data: countries, UN groups and bodies, acronyms, titles and terms in both
languages, read from ``gazetteer.tsv`` (``kind<TAB>zh<TAB>en<TAB>aliases``).

The gazetteer names things: which countries a text names (:meth:`Gazetteer.countries_in`) and what
a country or body is called in the other language (:meth:`Gazetteer.name`). The glossary
(:mod:`indexer.glossary`) is built from the same file. Everything here is pure: loading returns
a frozen value and no state is kept between calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

DEFAULT_GAZETTEER = Path(__file__).with_name("gazetteer.tsv")
KINDS = ("country", "group", "body", "acronym", "event", "title", "term", "place", "person")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z0-9\u00c0-\u024f]")
# All-capital acronyms match case-sensitively, so UN, WHO or AU never match 'un', 'who' or 'au'.
_ACRONYM = re.compile(r"[A-Z][A-Z0-9-]*[A-Z0-9]s?")
_SPACE = re.compile(r"\s")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class Entry:
    kind: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()

    @property
    def zh_forms(self) -> tuple[str, ...]:
        return (self.zh, *(a for a in self.aliases if has_cjk(a)))

    @property
    def en_forms(self) -> tuple[str, ...]:
        return (self.en, *(a for a in self.aliases if not has_cjk(a)))

    def forms(self, lang: str) -> tuple[str, ...]:
        return self.zh_forms if lang == "zh" else self.en_forms


@dataclass(frozen=True)
class Gazetteer:
    rows: tuple[Entry, ...]

    def entries(self, kind: str | None = None) -> list[Entry]:
        return [e for e in self.rows if kind is None or e.kind == kind]

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(zh, en) for every zh form and every en form of each entry, canonical forms first."""
        out = (((zh, en) for zh in e.zh_forms for en in e.en_forms) for e in self.rows)
        return tuple(dict.fromkeys(p for pairs in out for p in pairs))

    def countries_in(self, text: str) -> set[str]:
        """Canonical English names of the countries ``text`` names, in either language.

        Every form of every entry competes and the longest match wins, so 'Papua New Guinea' is
        not also Guinea, 发展中国家 'developing countries' is not 中国, and 'Group of 77 and China'
        is a group, not China. English names match case-sensitively ('Chad', not 'chad').
        """
        return self.names_in(text, ("country",))

    def names_country(self, text: str, canonical_en: str) -> bool:
        """Whether ``text`` names this country, as ``countries_in`` would find it, without scanning
        the whole text for every name: each place one of its forms occurs is checked in a window
        around it (so 'Guinea' inside 'Papua New Guinea' does not count). For a text as long as a
        collection of records, this costs a substring search per form."""
        entry = self.lookup(canonical_en)
        if entry is None:
            return False
        margin = self._longest_form
        for form in dict.fromkeys((*entry.zh_forms, *entry.en_forms)):
            at = text.find(form)
            while at >= 0:
                window = text[max(0, at - margin) : at + len(form) + margin]
                if entry.en in self.countries_in(window):
                    return True
                at = text.find(form, at + 1)
        return False

    def names_in(self, text: str, kinds: tuple[str, ...]) -> set[str]:
        """Canonical English names of the entries of these kinds that ``text`` names (longest match wins)."""
        matcher, by_form = self._all_forms
        found = set()
        for _, _, form in matcher.find(text):
            found.update(e.en for e in by_form[form] if e.kind in kinds)
        return found

    def lookup(self, form: str) -> Entry | None:
        """The entry one of whose forms is ``form`` (canonical forms before aliases, earlier rows first;
        English case-insensitive)."""
        return self._index.get(form) or self._index.get(form.casefold())

    def name(self, canonical_en: str, lang: str) -> str:
        """What a country, group or body is called in ``lang`` ('zh' or 'en'). Any of its forms is
        accepted; raises KeyError for a name the gazetteer does not know."""
        entry = self.lookup(canonical_en)
        if entry is None:
            raise KeyError(canonical_en)
        return entry.zh if lang == "zh" else entry.en

    @cached_property
    def _longest_form(self) -> int:
        return max(len(form) for e in self.rows for form in (*e.zh_forms, *e.en_forms))

    @cached_property
    def _all_forms(self) -> tuple[TermMatcher, dict[str, list[Entry]]]:
        by_form: dict[str, list[Entry]] = {}
        for e in self.rows:
            for form in dict.fromkeys((*e.zh_forms, *e.en_forms)):
                by_form.setdefault(form, []).append(e)
        return TermMatcher(by_form, ignore_case=False), by_form

    @cached_property
    def _index(self) -> dict[str, Entry]:
        # Things with names (countries, groups, bodies) before the words that share a form.
        order = sorted(self.rows, key=lambda e: e.kind not in ("country", "group", "body"))
        index: dict[str, Entry] = {}
        for forms in ((e.zh, e.en) for e in order), (e.aliases for e in order):
            for entry_forms, e in zip(forms, order, strict=True):
                for form in entry_forms:
                    index.setdefault(form, e)
                    index.setdefault(form.casefold(), e)
        return index


def load_gazetteer(path: Path = DEFAULT_GAZETTEER) -> Gazetteer:
    rows = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) == 3:
            parts.append("")
        if len(parts) != 4 or not all(parts[:3]):
            raise ValueError(f"{path}:{lineno}: expected 'kind<TAB>zh<TAB>en[<TAB>aliases]'")
        kind, zh, en, aliases = parts
        if kind not in KINDS:
            raise ValueError(f"{path}:{lineno}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        if not has_cjk(zh) or has_cjk(en):
            raise ValueError(f"{path}:{lineno}: the zh column must be Chinese and the en column not")
        rows.append(Entry(kind, zh, en, tuple(a.strip() for a in aliases.split("|") if a.strip())))
    return Gazetteer(tuple(rows))


class TermMatcher:
    """Finds the given forms in text: non-overlapping, the longest match winning (then the leftmost),
    reported in text order as ``(start, end, form)``.

    Latin forms match whole words only and with an optional plural s ('Member State' matches
    'Member States', not 'statement'); 'SDGs' also matches 'SDG'. With ``ignore_case``, Latin
    forms ignore case except all-capital acronyms. Chinese forms match anywhere.
    """

    def __init__(self, forms: Iterable[str], *, ignore_case: bool) -> None:
        self.ignore_case = ignore_case
        # (case-sensitive?, normalised key) -> form; keys are grouped by length for the scan.
        self._forms: dict[tuple[bool, str], str] = {}
        for form in forms:
            sensitive = not ignore_case or bool(_ACRONYM.fullmatch(form))
            key = _normalise(form, fold=not sensitive)
            if _LATIN.match(key[-1]) and key.endswith("s") and not key.endswith("ss") and len(key) > 3:
                key = key[:-1]
            self._forms.setdefault((sensitive, key), form)
        # Per first character, the lengths of the keys it begins, longest first: a position is
        # tried only at the lengths that can match there (a whole 10,000-paragraph collection is
        # scanned once when an answerer is made).
        self._lengths: dict[bool, dict[str, list[int]]] = {False: {}, True: {}}
        for sensitive, key in self._forms:
            self._lengths[sensitive].setdefault(key[0], []).append(len(key))
        for by_start in self._lengths.values():
            for ch, lengths in by_start.items():
                by_start[ch] = sorted(set(lengths), reverse=True)
        # Where a match can begin, found by the regex engine rather than a Python loop over every
        # character: a start character not preceded by a Latin one when it is Latin itself.
        self._scan = {
            sensitive: re.compile("|".join(
                part for part in (
                    _char_class([c for c in by_start if _LATIN.match(c)], lookbehind=True),
                    _char_class([c for c in by_start if not _LATIN.match(c)], lookbehind=False),
                ) if part))
            for sensitive, by_start in self._lengths.items() if by_start
        }

    def key(self, form: str) -> str:
        """The form under which ``form`` is reported (the first of the forms that match alike)."""
        sensitive = not self.ignore_case or bool(_ACRONYM.fullmatch(form))
        key = _normalise(form, fold=not sensitive)
        if _LATIN.match(key[-1]) and key.endswith("s") and not key.endswith("ss") and len(key) > 3:
            key = key[:-1]
        return self._forms[(sensitive, key)]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        candidates = []
        for sensitive, scan in self._scan.items():
            haystack = _normalise(text, fold=not sensitive)
            by_start, forms, size = self._lengths[sensitive], self._forms, len(haystack)
            for found in scan.finditer(haystack):
                i = found.start()
                for n in by_start[haystack[i]]:
                    if i + n > size:
                        continue
                    form = forms.get((sensitive, haystack[i : i + n]))
                    if form is None:
                        continue
                    end = i + n
                    if _LATIN.match(haystack[end - 1]):
                        if haystack[end : end + 1] == "s":
                            end += 1
                        if end < size and _LATIN.match(haystack[end]):
                            continue
                    candidates.append((i, end, form))
                    break
        taken = [False] * len(text)
        kept = []
        for start, end, form in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
            if not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                kept.append((start, end, form))
        return sorted(kept)


def _char_class(chars: list[str], *, lookbehind: bool) -> str:
    """A regex matching one of ``chars`` (not after a Latin character with ``lookbehind``); '' for none."""
    if not chars:
        return ""
    one = "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"
    return rf"(?<![A-Za-z0-9\u00c0-\u024f]){one}" if lookbehind else one


def _normalise(text: str, *, fold: bool) -> str:
    """Same length as ``text``: curly apostrophes straightened, whitespace as spaces, optionally
    lower-cased (characters whose lower case is longer are left alone)."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _SPACE.sub(" ", text)
    if fold:
        lowered = text.lower()
        text = lowered if len(lowered) == len(text) else "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return text
