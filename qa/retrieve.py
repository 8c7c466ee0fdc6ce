"""Hybrid retrieval: BM25 in every indexed language and dense search, fused by reciprocal rank
and deduplicated to paragraph keys, optionally reordered by a cross-encoder.

A question reaches the other language's lexical index through the UN-terms glossary and the
names, numbers and symbols both texts share; the dense index is language-neutral when the
multilingual model is active.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from indexer.embedder import Embedder
from indexer.lexical import unseen_idf
from indexer.live import LiveIndex
from indexer.tokenize import Tokenizer
from qa.evidence import coverage, term_idf, weighted_terms
from qa.fusion import reciprocal_rank_fusion
from qa.question_type import about_agenda, agenda_reference, question_anchors

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


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    context: str = ""
    """Earlier turns folded in for a follow-up question (heuristic mode), weighted lower."""


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


class Retriever:
    def __init__(self, index: LiveIndex, tokenizer: Tokenizer, *, embedder: Embedder | None = None,
                 mode: str = "hybrid", rrf_k: int = 60, candidates: int = 20, top_k: int = 10,
                 reranker=None, rerank_top_n: int = 20) -> None:
        if mode in ("dense", "hybrid") and embedder is not None and embedder.name != index.dense_model:
            # Embeddings from another model would be compared with ours: unusable.
            embedder = None
        if mode == "dense" and embedder is None:
            raise ValueError("dense retrieval requested but no dense index/model is available")
        self.index = index
        self.tokenizer = tokenizer
        self.embedder = embedder if mode in ("dense", "hybrid") else None
        self.mode = mode
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.top_k = top_k
        self.reranker = reranker
        self.rerank_top_n = rerank_top_n
        self._idf = {lang: lex.idf for lang, lex in index.lexical.items()}
        self._tokens = {lang: dict(zip(lex.keys, lex.doc_tokens, strict=True)) for lang, lex in index.lexical.items()}

    def terms(self, query: Query, lang: str) -> dict[str, float]:
        """Weighted terms of the query for the lexical index in ``lang``."""
        def tokens(text: str) -> list[str]:
            if not text:
                return []
            found = self.tokenizer.tokens(text, lang)
            if lang != query.lang:
                bridged = " ".join(self.tokenizer.glossary.translate(text, query.lang))
                found += self.tokenizer.tokens(bridged, lang)
                vocab = self.index.lexical[lang].bm25.vocab_dict
                found = [t for t in found if t in vocab]
            return found
        return weighted_terms(tokens(query.text), tokens(query.context))

    def retrieve(self, query: Query) -> Retrieved:
        timings: dict[str, float] = {}
        runs: dict[str, list[str]] = {}
        weights: dict[str, float] = {}
        terms: dict[str, dict[str, float]] = {}
        start = time.perf_counter()
        if self.mode in ("lexical", "hybrid"):
            for lang, lexical in self.index.lexical.items():
                terms[lang] = self.terms(query, lang)
                expanded = [t for t, w in terms[lang].items() for _ in range(2 if w >= 1 else 1)]
                runs[f"bm25:{lang}"] = [key for key, _ in lexical.search(expanded, self.candidates)]
                weights[f"bm25:{lang}"] = 1.0 if lang == query.lang or query.lang not in self.index.lexical \
                    else CROSS_LINGUAL_WEIGHT
            if query.lang in terms:
                for lang in terms:
                    if lang != query.lang:
                        weights[f"bm25:{lang}"] *= self._carried(terms, query.lang, lang)
        else:
            terms = {lang: self.terms(query, lang) for lang in self.index.lexical}
        timings["lexical"] = elapsed_ms(start)

        similarity: dict[str, float] = {}
        if self.embedder is not None and self.index.store is not None and (
            self.embedder.languages is None or query.lang in self.embedder.languages
        ):
            start = time.perf_counter()
            vector = self.embedder.embed_query(f"{query.context} {query.text}".strip())
            hits = self.index.store.query(vector, self.candidates * 3)
            for hit in hits:
                key = hit.metadata["key"]
                similarity[key] = max(similarity.get(key, -1.0), 1.0 - hit.distance)
            runs["dense"] = sorted(similarity, key=lambda k: -similarity[k])[: self.candidates]
            weights["dense"] = DENSE_WEIGHT
            timings["dense"] = elapsed_ms(start)

        agenda, named_item = self._agenda_run(query.text)
        if agenda:
            # The question names the item outright: that beats any word overlap.
            runs["agenda"] = agenda
            weights["agenda"] = AGENDA_WEIGHT if agenda_reference(query.text) else AGENDA_LIST_WEIGHT
        fused = reciprocal_rank_fusion(runs, k=self.rrf_k, weights=weights)
        if self.reranker is not None and fused:
            start = time.perf_counter()
            fused = self._rerank(query, fused[: self.rerank_top_n]) + fused[self.rerank_top_n :]
            timings["rerank"] = elapsed_ms(start)
        keys = [key for key, _ in fused[: self.top_k]]
        own = {query.lang: terms[query.lang]} if terms.get(query.lang) else terms
        named = {lang: self.named_tokens(query, lang) for lang in own}
        evidence = {key: self._evidence(key, own, named) for key in keys}
        for key in named_item:
            if key in evidence:
                # "What was decided under agenda item 4?" names its paragraphs outright; its other
                # words ("decided", "作出了什么决定") need not be in them.
                evidence[key] = 1.0
        return Retrieved(keys, dict(fused[: self.top_k]), runs, terms, evidence, similarity, self._idf, timings)

    def _agenda_run(self, question: str) -> tuple[list[str], list[str]]:
        """Paragraphs under the agenda item the question names, and the agenda list that names it;
        and the paragraphs the question names outright (those under the item, or the list when it
        asks what the item was)."""
        reference = agenda_reference(question)
        if reference is None:
            if about_agenda(question):
                # "What was the final item on the agenda?": the agenda list, though no item is named.
                return [p.key for p in self.index.corpus.paragraphs()
                        if len(_LIST_ITEM.findall(p.text)) >= AGENDA_LIST_ITEMS], []
            return [], []
        number, asks_what = reference
        under = [p.key for p in self.index.corpus.paragraphs() if p.agenda_item == str(number)]
        listing = [p.key for p in self.index.corpus.paragraphs()
                   if re.search(rf"(?m)^{number}\.\s", p.text) and "\n" in p.text]
        ranked = listing if asks_what else under + listing
        named = listing if asks_what else under
        return list(dict.fromkeys(ranked)), list(dict.fromkeys(named))

    def _carried(self, terms: dict[str, dict[str, float]], own: str, other: str) -> float:
        """How much of the question the glossary carried into the other language, in [0, 1]: the
        IDF mass of the terms reached there over that of the question's own terms. A run over a
        few generic carried terms ("UN-Habitat", "session") is worth little."""
        def mass(lang: str) -> float:
            idf = self._idf[lang]
            return sum(w * idf.get(t, 0.0) for t, w in terms[lang].items())
        own_mass = mass(own)
        return min(1.0, mass(other) / own_mass) if own_mass > 0 else 1.0

    def named_tokens(self, query: Query, lang: str) -> set[str]:
        """Tokens (in ``lang``) of what the question names: people, countries, numbers, symbols."""
        text = " ".join(form for a in question_anchors(query.text, query.lang) for form in (a.label, *a.forms))
        return set(self.tokenizer.tokens(text, lang)) if text else set()

    def _evidence(self, key: str, terms: dict[str, dict[str, float]], named: dict[str, set[str]]) -> float:
        best = 0.0
        for lang, doc_tokens in self._tokens.items():
            if key in doc_tokens and terms.get(lang):
                weights = term_idf(terms[lang], self._idf[lang], unseen_idf(len(doc_tokens)), named.get(lang, ()))
                best = max(best, coverage(terms[lang], doc_tokens[key], weights, 0.0))
        return best

    def _rerank(self, query: Query, fused: list[tuple[str, float]]) -> list[tuple[str, float]]:
        corpus = self.index.corpus
        pairs = [(query.text, corpus.in_language(key, query.lang).text) for key, _ in fused]
        scores = self.reranker.predict(pairs)
        order = sorted(range(len(fused)), key=lambda i: -float(scores[i]))
        return [(fused[i][0], float(scores[i])) for i in order]


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a perf_counter reading), rounded for reports."""
    return round((time.perf_counter() - start) * 1000, 2)
