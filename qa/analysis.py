"""The question, analysed once.

``QuestionAnalyser.analyse`` turns a question into a frozen ``QuestionAnalysis``: its language,
weighted terms for every indexed language, what it names (people, countries, numbers, symbols),
the agenda item it points to, the kind of answer it asks for, its focus and its premises, and its
embedding. It is built at the top of the answer path and passed to retrieval and answering;
nothing downstream re-parses the question text. ``explain()`` is what `ask --explain` shows.

Language knowledge comes from the packs (``qa/lang/*.json``) and the gazetteer; nothing here names
a record's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qa.language import question_language
from qa.language_pack import Packs

# Terms only from earlier turns of a follow-up weigh this much of the question's own terms.
CONTEXT_WEIGHT = 0.3


@dataclass(frozen=True)
class Anchor:
    """Something specific a question names: a number, an ordinal ('8th meeting'), a document symbol, a
    country or a person's name; or ('word') a lone capitalised English word, which the record must
    mention somewhere. ``forms`` are strings any one of which shows a text mentions it."""

    label: str
    forms: tuple[str, ...]
    kind: str
    pattern: str = ""
    """For an ordinal: how a text mentions it in any language (the shapes' ``ordinal_mention``)."""

    def found_in(self, text: str, countries: Callable[[str], set[str]] | None = None) -> bool:
        if self.kind == "country":
            return countries is not None and self.label in countries(text)
        if self.pattern:
            return bool(re.search(self.pattern, text))
        if self.kind == "number":
            return bool(re.search(rf"(?<![\d.]){re.escape(self.label)}(?![\d])", text))
        return any(form in text for form in self.forms)


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    """The question as asked (cleaned)."""
    lang: str
    """The language it is written in: the record is searched and weighed in this language."""
    answer_lang: str
    """The language the answer quotes (an explicit choice, else ``lang``)."""
    context: str = ""
    """Earlier user text folded in for a follow-up, weighted lower."""
    terms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per indexed language: the question's content terms (tokens) and their weights."""
    named: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per language: tokens of what the question names."""
    anchors: tuple[Anchor, ...] = ()
    absent: tuple[Anchor, ...] = ()
    """Anchors the record never mentions."""
    kind: str | None = None
    """The kind of answer asked for: count, ordinal, date, country, reference, person, reason, or None."""
    kind_cue: str = ""
    focus: str = ""
    """The head of a 'What was the X of …' question."""
    focus_unseen: bool = False
    """The focus word occurs nowhere in the record."""
    agenda_item: int | None = None
    agenda_asks_what: bool = False
    """'What was item 12 of the agenda?' (the item's title) rather than what happened under it."""
    about_agenda: bool = False
    premises: tuple[str, ...] = ()
    """What the question takes for granted that the record may contradict: 'vote_count' (a counted
    vote), 'final_outcome' (a decision was finally taken), 'reason' (a reason is stated)."""
    decision_terms: frozenset[str] = frozenset()
    topic: Mapping[str, float] = field(default_factory=dict)
    """Own-language terms other than what the question names and the words asking for the kind."""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The question's embedding (with its context), or None without a dense model."""
    records: tuple[str, ...] = ()
    """The records the question is asked of (ids, already checked against the index); () for all.
    Retrieval searches only these, so every citation comes from them."""

    def explain(self) -> dict:
        """The analysis as plain JSON, for `ask --explain` and the API."""
        return {
            "lang": self.lang, "answer_lang": self.answer_lang, "context": self.context,
            "terms": {lang: {t: round(w, 3) for t, w in terms.items()} for lang, terms in self.terms.items()},
            "anchors": [{"label": a.label, "kind": a.kind} for a in self.anchors],
            "absent_from_record": [a.label for a in self.absent],
            "answer_kind": self.kind, "kind_cue": self.kind_cue, "focus": self.focus,
            "focus_unseen": self.focus_unseen, "agenda_item": self.agenda_item,
            "agenda_asks_what": self.agenda_asks_what, "about_agenda": self.about_agenda,
            "premises": list(self.premises), "embedded": self.vector is not None,
            "records": list(self.records),
        }


class QuestionAnalyser:
    """Holds what analysis needs (tokenizer, packs, gazetteer, the index's vocabularies, the
    embedder); ``analyse`` is the one place a question's text is read."""

    def __init__(self, *, tokenizer, packs: Packs, gazetteer, vocab: Mapping[str, Mapping[str, float]],
                 record_text: str, translate: Callable[[str, str, str], Mapping[str, float]] | None = None,
                 embedder=None) -> None:
        self.tokenizer = tokenizer
        self.packs = packs
        self.gazetteer = gazetteer
        self.vocab = vocab
        """Per indexed language: term -> IDF."""
        self.record_text = record_text
        # Whether the record names a country, asked only for the countries questions name and
        # remembered: scanning a 100,000-paragraph collection for every name took minutes.
        self._record_names: dict[str, bool] = {}
        self.translate = translate
        """(text, source, target) -> target-language strings with weights (glossary, dictionary)."""
        self.embedder = embedder

    def analyse(self, question: str, lang: str | None = None, *, context: str = "",
                records: tuple[str, ...] = ()) -> QuestionAnalysis:
        asked_in = question_language(question)
        answer_lang = question_language(question, lang)
        pack = self.packs[asked_in]
        shapes = self.packs.shapes
        kind, cue = _kind(question, pack)
        anchors = _anchors(question, asked_in, self.packs, self.gazetteer)
        everywhere = self.record_text
        absent = tuple(a for a in anchors if not (self._names_country(a.label) if a.kind == "country"
                                                  else a.found_in(everywhere)))
        anchors_strict = tuple(a for a in anchors if a.kind != "word")
        # A follow-up that names nothing of its own ("and from which country?") takes its subject from
        # the earlier turn at full weight; otherwise the earlier turn only leans on the search.
        cue_tokens = set(self.tokenizer.tokens(cue, asked_in))
        own_words = [t for t in self.tokenizer.tokens(question, asked_in) if t not in cue_tokens
                     and self._content(t, asked_in)]
        context_weight = CONTEXT_WEIGHT if own_words else 1.0
        terms = {target: self._terms(question, context, asked_in, target, context_weight) for target in self.vocab}
        named_text = " ".join(form for a in anchors for form in (a.label, *a.forms, *self._country_names(a)))
        named = {target: frozenset(self.tokenizer.tokens(named_text, target)) if named_text else frozenset()
                 for target in self.vocab}
        agenda_item, asks_what = _agenda_reference(question, shapes)
        about_agenda = agenda_item is None and bool(pack.patterns["agenda_itself"].search(
            re.sub(r"《[^》]*》", " ", question)))
        premises = []
        if pack.patterns["vote_count"].search(question):
            premises.append("vote_count")
        if pack.patterns["final_outcome"].search(question):
            premises.append("final_outcome")
        if kind == "reason":
            premises.append("reason")
        decision = frozenset(self.tokenizer.tokens(" ".join(pack.patterns["decision_verbs"].findall(question)),
                                                   asked_in)) if premises else frozenset()
        own = terms.get(asked_in, {})
        drop = named.get(asked_in, frozenset()) | cue_tokens
        topic = {t: w for t, w in own.items() if t not in drop}
        focus = ""
        focus_unseen = False
        if "focus" in pack.patterns and kind is None:
            m = pack.patterns["focus"].search(question)
            if m:
                focus = m.group(1)
                head = [t for t in self.tokenizer.tokens(focus, asked_in) if t in own][-1:]
                focus_unseen = bool(head) and head[0] not in self.vocab.get(asked_in, {})
        vector = None
        if self.embedder is not None and (self.embedder.languages is None or asked_in in self.embedder.languages):
            vector = self.embedder.embed_query(f"{context} {question}".strip())
        return QuestionAnalysis(
            text=question, lang=asked_in, answer_lang=answer_lang, context=context, terms=terms, named=named,
            anchors=anchors_strict, absent=absent, kind=kind, kind_cue=cue, focus=focus, focus_unseen=focus_unseen,
            agenda_item=agenda_item, agenda_asks_what=asks_what, about_agenda=about_agenda,
            premises=tuple(premises), decision_terms=decision, topic=topic, vector=vector, records=tuple(records),
        )

    def _country_names(self, anchor: Anchor) -> tuple[str, ...]:
        if anchor.kind != "country":
            return ()
        return tuple(self.gazetteer.name(anchor.label, code) for code in self.vocab)

    def _terms(self, question: str, context: str, source: str, target: str,
               context_weight: float = CONTEXT_WEIGHT) -> dict[str, float]:
        def tokens(text: str, weight: float) -> dict[str, float]:
            if not text:
                return {}
            found = {t: weight for t in self.tokenizer.tokens(text, target)}
            if target != source:
                vocab = self.vocab[target]
                if self.translate is not None:
                    for phrase, w in self.translate(text, source, target).items():
                        for t in self.tokenizer.tokens(phrase, target):
                            found[t] = max(found.get(t, 0.0), weight * w)
                found = {t: w for t, w in found.items() if t in vocab}
            return {t: w for t, w in found.items() if self._content(t, source)}
        terms = tokens(context, context_weight)
        for t, w in tokens(question, 1.0).items():
            terms[t] = max(terms.get(t, 0.0), w)
        return terms

    def _names_country(self, label: str) -> bool:
        if label not in self._record_names:
            self._record_names[label] = self.gazetteer.names_country(self.record_text, label)
        return self._record_names[label]

    def _content(self, term: str, source: str) -> bool:
        """Words that say how a question asks, not what it asks about, are no terms."""
        if not term:
            return False
        for pack in self.packs.by_code.values():
            if term in pack.words.get("question_filler", ()):
                return False
            if "interrogative" in pack.patterns and pack.patterns["interrogative"].search(term):
                return False
        return True


def _kind(question: str, pack) -> tuple[str | None, str]:
    for kind, cue in pack.kinds:
        found = cue.findall(question)
        if found:
            return kind, " ".join(m if isinstance(m, str) else " ".join(m) for m in found)
    return None, ""


def _agenda_reference(question: str, shapes) -> tuple[int | None, bool]:
    asks_what, under = shapes.agenda_item_named
    m = asks_what.search(question)
    if m:
        return int(next(g for g in m.groups() if g)), True
    m = under.search(question)
    if m:
        return int(next(g for g in m.groups() if g)), False
    return None, False


def _anchors(question: str, lang: str, packs: Packs, gazetteer) -> tuple[Anchor, ...]:
    """Numbers and document symbols, ordinals, countries, and people's names the question names."""
    shapes = packs.shapes.patterns
    en = packs["en"]
    anchors: dict[str, Anchor] = {}
    for m in shapes["symbol_anchor"].finditer(question):
        anchors.setdefault(m.group(), Anchor(m.group(), (m.group(),), "symbol"))
    rest = shapes["symbol_anchor"].sub(" ", question)
    for m in shapes["ordinal_anchor"].finditer(rest):
        number = next(g for g in m.groups() if g)
        template = packs[lang].patterns.get("ordinal_label")
        label = template.pattern.format(n=number) if template is not None else m.group()
        mention = shapes["ordinal_mention"].pattern.format(n=re.escape(number))
        anchors.setdefault(label, Anchor(label, (number,), "ordinal", mention))
    rest = shapes["ordinal_anchor"].sub(" ", rest)
    for number in shapes["digits"].findall(rest):
        anchors.setdefault(number, Anchor(number, (number,), "number"))
    countries = gazetteer.countries_in(question)
    for country in sorted(countries):
        anchors.setdefault(country, Anchor(country, (country,), "country"))
    country_words = {w for c in countries for w in c.split()}
    not_name = en.words.get("not_name", frozenset()) | en.words.get("role_words", frozenset()) | country_words
    question_words = en.words.get("question_words", frozenset())
    for m in en.patterns["titled_name"].finditer(question):
        anchors.setdefault(m.group(1), Anchor(m.group(1), (m.group(1),), "name"))
    for m in shapes["latin_run"].finditer(question):
        words = [w.strip("'’-") for w in m.group().split()]
        while words and words[0] in question_words:
            words = words[1:]
        words = [w.removesuffix("'s").removesuffix("’s") for w in words]
        parts = {p for w in words for p in w.split("-") if p}
        if not words or parts & not_name or any(p.isupper() for p in parts):
            continue  # institutions, titles, places named by country, acronyms
        if lang != "zh" and len(words) < 2:
            # A lone capitalised word is as often a demonym or a title as a name: the record need
            # only mention it somewhere.
            if m.start() > 0 and len(words[0]) >= 3 and not shapes["demonym"].search(words[0]):
                anchors.setdefault(words[0], Anchor(words[0], (words[0],), "word"))
            continue
        forms = tuple(w for w in words if len(w) >= 3)
        if forms:
            anchors.setdefault(" ".join(words), Anchor(" ".join(words), forms, "name"))
    zh = packs.by_code.get("zh")
    if lang == "zh" and zh is not None:
        for m in zh.patterns["name"].finditer(question):
            forms = tuple(part for part in m.group().split("·") if len(part) >= 2)
            anchors.setdefault(m.group(), Anchor(m.group(), forms, "name"))
        for m in zh.patterns["titled_name"].finditer(question):
            name = m.group(1)
            if not zh.patterns["not_a_name"].search(name) and not any(name in a.label for a in anchors.values()):
                anchors.setdefault(name, Anchor(name, (name,), "name"))
    return tuple(anchors.values())
