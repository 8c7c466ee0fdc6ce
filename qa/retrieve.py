"""Hybrid retrieval: BM25 in every indexed language and dense search, fused by reciprocal rank
and deduplicated to paragraph keys, optionally reordered by a cross-encoder.

A question reaches the other language's lexical index through the UN-terms glossary and the
names, numbers and symbols both texts share; the dense index is language-neutral when the
multilingual model is active.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from indexer.lexical import unseen_idf
from indexer.live import LiveIndex
from indexer.store import VectorStoreUnavailable, where_all
from qa.analysis import QuestionAnalysis
from qa.evidence import coverage, term_idf
from qa.fusion import reciprocal_rank_fusion

# A run over the question's own language is worth more than one reached through the glossary.
CROSS_LINGUAL_WEIGHT = 0.5
# Dense is a second opinion: on the dev set an equal vote let paraphrase matches push exact
# lexical hits out of the top five.
DENSE_WEIGHT = 0.5
AGENDA_WEIGHT = 2.0
# A question about the agenda itself, naming no item, reaches the agenda list as one more vote.
AGENDA_LIST_WEIGHT = 1.0
AGENDA_LIST_ITEMS = 3
_LIST_ITEM = re.compile(r"(?m)^\s*\d{1,3}\.\s")
_LINE_NUMBER = re.compile(r"(?m)^(\d+)\.\s")


@dataclass
class Retrieved:
    keys: list[str]
    scores: dict[str, float]
    runs: dict[str, list[str]]
    terms: dict[str, dict[str, float]]
    """Weighted query terms per index language."""
    evidence: dict[str, float]
    """Per key: best coverage of the question's terms in any language version."""
    dense_similarity: dict[str, float] = field(default_factory=dict)
    idf: dict[str, dict[str, float]] = field(default_factory=dict)
    """IDF tables per language, shared with the retriever (read-only)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    """What the user should know about this search (semantic search unavailable: lexical only)."""


@dataclass(frozen=True)
class _AgendaTable:
    """(record, key) pairs in reading order: per agenda item the paragraphs under it, per item
    number the multi-line paragraphs that list it at a line start, and the agenda lists (at least
    ``AGENDA_LIST_ITEMS`` numbered lines)."""

    under: dict[str, list[tuple[str, str]]]
    listing: dict[str, list[tuple[str, str]]]
    lists: list[tuple[str, str]]

    @classmethod
    def of(cls, paragraphs: Iterable) -> _AgendaTable:
        under: dict[str, list[tuple[str, str]]] = {}
        listing: dict[str, list[tuple[str, str]]] = {}
        lists: list[tuple[str, str]] = []
        for p in paragraphs:
            found = (p.record, p.key)
            if p.agenda_item is not None:
                under.setdefault(str(p.agenda_item), []).append(found)
            if "\n" in p.text:
                for number in dict.fromkeys(_LINE_NUMBER.findall(p.text)):
                    listing.setdefault(number, []).append(found)
            if len(_LIST_ITEM.findall(p.text)) >= AGENDA_LIST_ITEMS:
                lists.append(found)
        return cls(under, listing, lists)


class Retriever:
    """Runs over a question already analysed: its terms per language, its embedding and the agenda
    item it names all come from the ``QuestionAnalysis``; nothing here reads the question's text."""

    def __init__(self, index: LiveIndex, *, dense: bool = True, mode: str = "hybrid", rrf_k: int = 60,
                 candidates: int = 20, top_k: int = 10, reranker=None, rerank_top_n: int = 20) -> None:
        if mode == "dense" and (not dense or index.store is None):
            raise ValueError("dense retrieval requested but no dense index/model is available")
        self.index = index
        self.dense = dense and mode in ("dense", "hybrid") and index.store is not None
        self.mode = mode
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.top_k = top_k
        self.reranker = reranker
        self.rerank_top_n = rerank_top_n
        self._idf = {lang: lex.idf for lang, lex in index.lexical.items()}
        self._tokens = {lang: dict(zip(lex.keys, lex.doc_tokens, strict=True)) for lang, lex in index.lexical.items()}
        self._masks: dict[tuple[str, tuple[str, ...]], object] = {}

    def retrieve(self, question: QuestionAnalysis) -> Retrieved:
        timings: dict[str, float] = {}
        runs: dict[str, list[str]] = {}
        weights: dict[str, float] = {}
        terms = {lang: dict(question.terms.get(lang, {})) for lang in self.index.lexical}
        start = time.perf_counter()
        if self.mode in ("lexical", "hybrid"):
            for lang, lexical in self.index.lexical.items():
                expanded = [t for t, w in terms[lang].items() for _ in range(2 if w >= 1 else 1)]
                runs[f"bm25:{lang}"] = [key for key, _ in lexical.search(expanded, self.candidates,
                                                                         self._allowed(lang, question.records))]
                weights[f"bm25:{lang}"] = 1.0 if lang == question.lang or question.lang not in self.index.lexical \
                    else CROSS_LINGUAL_WEIGHT
            if question.lang in terms:
                for lang in terms:
                    if lang != question.lang:
                        weights[f"bm25:{lang}"] *= self._carried(terms, question.lang, lang)
        timings["lexical"] = elapsed_ms(start)

        similarity: dict[str, float] = {}
        notices: list[str] = []
        if self.dense and question.vector is not None:
            start = time.perf_counter()
            try:
                hits = self.index.store.query(question.vector, self.candidates * 3,
                                              where=record_filter(question.records))
            except VectorStoreUnavailable as exc:
                # The Chroma server is down or too slow: the lexical runs still answer, and the
                # answer says that semantic search was left out.
                hits = []
                notices.append(str(exc))
            for hit in hits:
                key = hit.metadata["key"]
                similarity[key] = max(similarity.get(key, -1.0), 1.0 - hit.distance)
            runs["dense"] = sorted(similarity, key=lambda k: -similarity[k])[: self.candidates]
            weights["dense"] = DENSE_WEIGHT if self.mode == "hybrid" else 1.0
            timings["dense"] = elapsed_ms(start)

        agenda, named_item = self._agenda_run(question)
        if agenda:
            # The question names the item outright: that beats any word overlap.
            runs["agenda"] = agenda
            weights["agenda"] = AGENDA_WEIGHT if question.agenda_item is not None else AGENDA_LIST_WEIGHT
        fused = reciprocal_rank_fusion(runs, k=self.rrf_k, weights=weights)
        if self.reranker is not None and fused:
            start = time.perf_counter()
            fused = self._rerank(question, fused[: self.rerank_top_n]) + fused[self.rerank_top_n :]
            timings["rerank"] = elapsed_ms(start)
        keys = [key for key, _ in fused[: self.top_k]]
        own = {question.lang: terms[question.lang]} if terms.get(question.lang) else terms
        evidence = {key: self._evidence(key, own, question.named) for key in keys}
        for key in named_item:
            if key in evidence:
                # "What was decided under agenda item 4?" names its paragraphs outright; its other
                # words ("decided", "作出了什么决定") need not be in them.
                evidence[key] = 1.0
        return Retrieved(keys, dict(fused[: self.top_k]), runs, terms, evidence, similarity, self._idf, timings,
                         notices)

    def _allowed(self, lang: str, records: tuple[str, ...]):
        """The lexical index's mask of keys in ``records`` (None: every record), kept per selection."""
        if not records:
            return None
        if (lang, records) not in self._masks:
            if len(self._masks) > 256:  # selections are few; a client cycling through many must not grow this
                self._masks.clear()
            self._masks[(lang, records)] = self.index.lexical[lang].record_mask(records)
        return self._masks[(lang, records)]

    def _agenda_run(self, question: QuestionAnalysis) -> tuple[list[str], list[str]]:
        """Paragraphs under the agenda item the question names, and the agenda list that names it;
        and the paragraphs the question names outright (those under the item, or the list when it
        asks what the item was)."""
        if question.agenda_item is None and not question.about_agenda:
            return [], []
        chosen = set(question.records)

        def keys(found: list[tuple[str, str]]) -> list[str]:
            return [key for record, key in found if not chosen or record in chosen]

        agenda = self._agenda
        if question.agenda_item is None:
            # "What was the final item on the agenda?": the agenda list, though no item is named.
            return list(dict.fromkeys(keys(agenda.lists))), []
        number, asks_what = str(question.agenda_item), question.agenda_asks_what
        under = keys(agenda.under.get(number, []))
        listing = keys(agenda.listing.get(number, []))
        ranked = listing if asks_what else under + listing
        named = listing if asks_what else under
        return list(dict.fromkeys(ranked)), list(dict.fromkeys(named))

    @cached_property
    def _agenda(self) -> _AgendaTable:
        """Where agenda items are, read once from the corpus (each question scanning every
        paragraph took 125 ms on a 100,000-paragraph collection)."""
        return _AgendaTable.of(self.index.corpus.paragraphs())

    def _carried(self, terms: dict[str, dict[str, float]], own: str, other: str) -> float:
        """How much of the question the glossary carried into the other language, in [0, 1]: the
        IDF mass of the terms reached there over that of the question's own terms. A run over a
        few generic carried terms (an organisation's name, "session") is worth little."""
        def mass(lang: str) -> float:
            idf = self._idf[lang]
            return sum(w * idf.get(t, 0.0) for t, w in terms[lang].items())
        own_mass = mass(own)
        return min(1.0, mass(other) / own_mass) if own_mass > 0 else 1.0

    def _evidence(self, key: str, terms: dict[str, dict[str, float]], named) -> float:
        best = 0.0
        for lang, doc_tokens in self._tokens.items():
            if key in doc_tokens and terms.get(lang):
                weights = term_idf(terms[lang], self._idf[lang], unseen_idf(len(doc_tokens)), named.get(lang, ()))
                best = max(best, coverage(terms[lang], doc_tokens[key], weights, 0.0))
        return best

    def _rerank(self, question: QuestionAnalysis, fused: list[tuple[str, float]]) -> list[tuple[str, float]]:
        corpus = self.index.corpus
        pairs = [(question.text, corpus.in_language(key, question.lang).text) for key, _ in fused]
        scores = self.reranker.predict(pairs)
        order = sorted(range(len(fused)), key=lambda i: -float(scores[i]))
        return [(fused[i][0], float(scores[i])) for i in order]


def record_filter(records: tuple[str, ...]) -> dict | None:
    """The vector store's filter for paragraphs of ``records`` (each entry's metadata names its
    record); None for every record."""
    if not records:
        return None
    return where_all(record=records[0] if len(records) == 1 else {"$in": list(records)})


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a perf_counter reading), rounded for reports."""
    return round((time.perf_counter() - start) * 1000, 2)
