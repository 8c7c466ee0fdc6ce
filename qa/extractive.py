"""The default answerer: no LLM. It scores every sentence of the top paragraphs with the fitted
sentence model, decides with the fitted answerability model whether the record answers the
question, and then either quotes the best sentences (several paragraphs when several score close
to the best), or says the record does not state this directly and shows the closest cited
passages, or abstains saying why.

Both models and their thresholds are data (``qa/answer_model.json``, from `recordqa eval fit`);
this module only assembles candidates, applies the models and words the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from indexer.lexical import unseen_idf
from indexer.live import LiveIndex
from indexer.tokenize import Tokenizer
from qa.analysis import QuestionAnalysis
from qa.answer_model import AnswerModel, Fit
from qa.citation import marker
from qa.evidence import term_idf
from qa.features import Candidate, ParagraphView, question_features, sentence_candidates
from qa.language_pack import Packs
from qa.retrieve import Retrieved

# Below this share of the question's terms, an abstention says how little the closest passage covers.
WEAK_COVERAGE = 0.5
# A speaker is named in the first paragraph of a statement; the next ones say "she" or "he".
SPEECH_LOOKBACK = 2


@dataclass(frozen=True)
class Draft:
    """What an answerer produces before it becomes an Answer."""

    text: str
    abstained: bool
    reason: str | None
    quotes: dict[str, str]
    """Cited key -> quoted sentence."""
    confidence: float | None = None
    """Probability that the record answers the question (the answerability model), when computed."""
    outcome: str = "answer"
    """'answer', 'indirect' (the record does not state this directly; closest passages cited) or 'abstain'."""
    explain: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Scored:
    """The candidate set of one question with both models' scores: what `eval fit` learns from."""

    views: list[ParagraphView]
    candidates: list[Candidate]
    probabilities: list[float]
    question_features: dict[str, float]
    answerability: float


class ExtractiveAnswerer:
    """Holds the index-derived tables (tokens per paragraph, the record's text) computed once."""

    def __init__(self, index: LiveIndex, tokenizer: Tokenizer, *, packs: Packs, gazetteer, model: AnswerModel,
                 paragraphs: int = 5, max_sentences: int = 2) -> None:
        self.index = index
        self.tokenizer = tokenizer
        self.packs = packs
        self.gazetteer = gazetteer
        self.model = model
        self.paragraphs = paragraphs
        self.max_sentences = max_sentences
        self.doc_tokens = {lang: dict(zip(lex.keys, lex.doc_tokens, strict=True))
                           for lang, lex in index.lexical.items()}
        self.n_docs = max(1, len(index.corpus.keys()))
        # A paragraph as the features read it depends only on the paragraph and the question's
        # language: prepared once (sentences, their tokens and vectors, context), reused at any rank.
        self._views: dict[tuple[str, str], ParagraphView | None] = {}
        self._countries: dict[str, frozenset[str]] = {}
        self._places: dict[str, frozenset[str]] = {}
        self.single = len(index.corpus.record_ids) <= 1
        self.answer_threshold: float | None = None
        """Overrides the fitted threshold (the evaluation's trade-off sweep); None uses the fit's."""

    def fit_for(self, question: QuestionAnalysis) -> Fit:
        dense = question.vector is not None and self.index.has_sentence_vectors
        return self.model.fit_for(self.index.dense_model if dense else None)

    def candidates(self, question: QuestionAnalysis, retrieved: Retrieved) -> tuple[list[ParagraphView],
                                                                                 list[Candidate]]:
        """The paragraphs read and every sentence of them with its features (what `eval fit` learns from)."""
        views = [self._view(key, rank, question) for rank, key in enumerate(retrieved.keys[: self.paragraphs])]
        views = [v for v in views if v is not None]
        lang = question.lang
        other = next((code for code in question.terms if code != lang), None)
        weights = self._weights(question, lang, retrieved)
        other_weights = self._weights(question, other, retrieved) if other else {}
        countries = self.countries_in
        candidates = sentence_candidates(
            question, views, weights=weights, other_weights=other_weights, evidence=retrieved.evidence,
            fused=retrieved.scores, dense_similarity=retrieved.dense_similarity, shapes=self.packs.shapes,
            countries=countries, places=self.places_in, reported=self._reported,
        )
        return views, candidates

    def question_features(self, question: QuestionAnalysis, retrieved: Retrieved, views: list[ParagraphView],
                          candidates: list[Candidate], probabilities: list[float]) -> dict[str, float]:
        idf = retrieved.idf.get(question.lang, {})
        unseen_terms = sum(1 for t in question.terms.get(question.lang, {}) if t not in idf)
        return question_features(question, candidates, probabilities, paragraphs=views, evidence=retrieved.evidence,
                                 dense_similarity=retrieved.dense_similarity, shapes=self.packs.shapes,
                                 countries=self.countries_in, unseen_terms=unseen_terms,
                                 weights=self._weights(question, question.lang, retrieved),
                                 unseen=unseen_idf(self.n_docs))

    def score(self, question: QuestionAnalysis, retrieved: Retrieved, fit: Fit | None = None) -> Scored:
        fit = fit or self.fit_for(question)
        views, candidates = self.candidates(question, retrieved)
        probabilities = [float(p) for p in fit.selector.probability([c.features for c in candidates])]
        qf = self.question_features(question, retrieved, views, candidates, probabilities)
        answerability = float(fit.answerability.probability([qf])[0])
        return Scored(views, candidates, probabilities, qf, answerability)

    def answer(self, question: QuestionAnalysis, retrieved: Retrieved, *, explain: bool = False) -> Draft:
        """The same question and retrieval always give the same answer."""
        pack = self.packs[question.lang]
        if not retrieved.keys:
            return _abstain(pack.message("nothing"), None)
        if not question.topic and not question.anchors and question.agenda_item is None \
                and not question.about_agenda and not question.context:
            # Nothing to look for beyond the kind of answer ("and from which country?" on its own):
            # any sentence quoted would answer a question nobody asked.
            return _abstain(pack.message("nothing"), None)
        fit = self.fit_for(question)
        scored = self.score(question, retrieved, fit)
        if not scored.candidates:
            return _abstain(pack.message("nothing"), 0.0)
        p = scored.answerability
        chosen = self._choose(scored, fit, frozenset(question.terms.get(question.lang, {})))
        details = self._explain(scored, fit, chosen) if explain else {}
        if p >= (self.answer_threshold if self.answer_threshold is not None else fit.answer_threshold) and chosen:
            text, quotes = self._quote(chosen, question.lang, scored)
            return Draft(text, False, None, quotes, round(p, 3), "answer", details)
        if p >= fit.indirect_threshold and chosen:
            lead = pack.message("indirect")
            text, quotes = self._quote(chosen, question.lang, scored)
            sep = "" if question.lang == "zh" else " "
            return Draft(f"{lead}{sep}{text}", True, lead, quotes, round(p, 3), "indirect", details)
        return _abstain(self._reason(question, scored, chosen), round(p, 3), details)

    # ------------------------------------------------------------------------------------- helpers

    def countries_in(self, text: str) -> frozenset[str]:
        """The gazetteer's countries in a text of the record, remembered: the texts are the record's
        own sentences and paragraphs, so the table is bounded by the index."""
        found = self._countries.get(text)
        if found is None:
            found = self._countries[text] = frozenset(self.gazetteer.countries_in(text))
        return found

    def _reported(self, sentence: str) -> bool:
        return any(pack.patterns["reported_speech"].search(sentence) for pack in self.packs.by_code.values())

    def places_in(self, text: str) -> frozenset[str]:
        """Places and countries the gazetteer finds in a text of the record, remembered likewise."""
        found = self._places.get(text)
        if found is None:
            found = self._places[text] = frozenset(self.gazetteer.names_in(text, ("place", "country")))
        return found

    def _view(self, key: str, rank: int, question: QuestionAnalysis) -> ParagraphView | None:
        if (key, question.lang) not in self._views:
            self._views[(key, question.lang)] = self._prepare_view(key, question.lang)
        view = self._views[(key, question.lang)]
        return replace(view, rank=rank) if view is not None else None

    def _prepare_view(self, key: str, question_lang: str) -> ParagraphView | None:
        corpus = self.index.corpus
        paragraph = corpus.in_language(key, question_lang)
        if paragraph is None:
            return None
        lang = paragraph.lang
        other_lang = next((code for code in corpus.languages if code != lang), None)
        sentences, vectors = self.index.sentence_vectors(key, lang)
        other_vectors, other_count = None, 0
        other_tokens: frozenset[str] = frozenset()
        if other_lang is not None and corpus.get(key, other_lang) is not None:
            other_sentences, other_vectors = self.index.sentence_vectors(key, other_lang)
            other_count = len(other_sentences)
            other_tokens = frozenset(self.doc_tokens.get(other_lang, {}).get(key, ()))
        return ParagraphView(
            key=key, rank=0, sentences=tuple(sentences),
            sentence_tokens=tuple(frozenset(self.tokenizer.tokens(s, lang)) for s in sentences),
            vectors=vectors, other_vectors=other_vectors, other_sentence_count=other_count,
            tokens=frozenset(self.doc_tokens.get(lang, {}).get(key, ())), other_tokens=other_tokens,
            text=paragraph.text, context=self._context(key), pending=paragraph.pending,
            agenda_item=paragraph.agenda_item,
        )

    def _weights(self, question: QuestionAnalysis, lang: str, retrieved: Retrieved) -> Mapping[str, float]:
        terms = question.terms.get(lang, {})
        return term_idf(terms, retrieved.idf.get(lang, {}), unseen_idf(self.n_docs), question.named.get(lang, ()))

    def _context(self, key: str) -> str:
        """A paragraph with its heading in every language, and the paragraphs of its section just
        before it (where a speaker is named)."""
        corpus = self.index.corpus
        texts, first = [], None
        # The paragraph, then those just before it in reading order (ids need not be consecutive numbers).
        for other in [key, *corpus.preceding(key, SPEECH_LOOKBACK)]:
            versions = [p for p in (corpus.get(other, lang) for lang in corpus.languages) if p is not None]
            if not versions:
                break
            if first is None:
                first = versions[0]
            elif (versions[0].section, versions[0].chapter) != (first.section, first.chapter):
                break
            texts.extend(f"{p.heading}\n{p.text}" for p in versions)
        return "\n".join(texts)

    def _choose(self, scored: Scored, fit: Fit, terms: frozenset[str]) -> list[Candidate]:
        picked = choose_sentences(scored.candidates, scored.probabilities, ratio=fit.extra_sentence_ratio,
                                  max_sentences=self.max_sentences, terms=terms)
        return _with_announced_item([scored.candidates[i] for i in picked], scored.candidates)

    def _quote(self, chosen: list[Candidate], lang: str, scored: Scored) -> tuple[str, dict[str, str]]:
        ordered = sorted(chosen, key=lambda c: c.order)  # read in record order
        sep = "" if lang == "zh" else " "
        text = sep.join(f"{c.text} {marker(c.key, single_record=self.single)}" for c in ordered)
        quotes: dict[str, str] = {}
        for c in ordered:
            quotes[c.key] = f"{quotes[c.key]} {c.text}" if c.key in quotes else c.text
        return text, quotes

    def _reason(self, question: QuestionAnalysis, scored: Scored, chosen: list[Candidate]) -> str:
        """Why the record cannot answer, worded from the features the decision saw. The decision is
        the model's; this only picks the most telling fact to say."""
        pack = self.packs[question.lang]
        f = scored.question_features
        zh = question.lang == "zh"
        lead = chosen[0] if chosen else scored.candidates[0]
        ref = marker(lead.key, single_record=self.single)
        top = scored.views[0]
        if question.absent:
            what = ("、" if zh else ", ").join(self._shown(a, question.lang) for a in question.absent)
            return pack.message("absent", what=what if zh else f"“{what}”")
        if f["top_pending"]:
            paragraph = self.index.corpus.in_language(top.key, question.lang)
            heading = paragraph.section or paragraph.chapter or paragraph.id
            return pack.message("pending", ref=marker(top.key, single_record=self.single), heading=heading)
        if f["vote_contradicted"]:
            return pack.message("no_tally", ref=ref)
        if f["best_placeholder"]:
            return pack.message("placeholder", ref=ref)
        if f["top_annex"]:
            return pack.message("annex", ref=marker(top.key, single_record=self.single))
        if question.anchors and lead.features["anchors_missing_ctx"] > 0:
            missing = [a for a in question.anchors if not a.found_in(scored.views[0].context, self.countries_in)]
            what = ("、" if zh else ", ").join(self._shown(a, question.lang) for a in missing or question.anchors)
            return pack.message("unmentioned", ref=ref, what=what if zh else f"“{what}”")
        if question.kind and not f["any_kind"]:
            return pack.message("slot", ref=ref, what=pack.what.get(question.kind, question.kind))
        if f["outcome_missing"]:
            return pack.message("outcome", ref=ref)
        if f["best_cov_para"] < WEAK_COVERAGE:
            return pack.message("weak", ref=ref, pct=round(100 * f["best_cov_para"]))
        return pack.message("unstated", ref=ref)

    def _shown(self, anchor, lang: str) -> str:
        if anchor.kind == "country":
            return self.gazetteer.name(anchor.label, lang)
        return anchor.label

    def _explain(self, scored: Scored, fit: Fit, chosen: list[Candidate]) -> dict:
        order = sorted(range(len(scored.candidates)), key=lambda i: -scored.probabilities[i])[:5]
        return {
            "answerability": round(scored.answerability, 3),
            "answer_threshold": fit.answer_threshold, "indirect_threshold": fit.indirect_threshold,
            "answerability_contributions": fit.answerability.contributions(scored.question_features),
            "question_features": {k: round(v, 3) for k, v in scored.question_features.items()},
            "top_sentences": [{"paragraph": scored.candidates[i].key.rpartition(":")[2],
                               "score": round(scored.probabilities[i], 3),
                               "sentence": scored.candidates[i].text[:200]} for i in order],
            "chosen": [c.key.rpartition(":")[2] for c in chosen],
        }


def choose_sentences(candidates: list[Candidate], probabilities: list[float], *, ratio: float, max_sentences: int,
                     terms: frozenset[str]) -> list[int]:
    """Indices of the sentences to quote: the best, then (up to ``max_sentences``) sentences scoring at
    least ``ratio`` of it that add question terms not yet covered, from any paragraph read, so a
    question two paragraphs answer together quotes and cites both. Paragraphs still to be
    completed are never quoted."""
    order = sorted(range(len(candidates)), key=lambda i: (-probabilities[i], candidates[i].order))
    usable = [i for i in order if not candidates[i].features["pending"]]
    if not usable:
        return []
    chosen = [usable[0]]
    covered = set(candidates[usable[0]].tokens & terms)
    for i in usable[1:]:
        if len(chosen) >= max_sentences or probabilities[i] < ratio * probabilities[usable[0]]:
            break
        if (candidates[i].tokens & terms) - covered:
            chosen.append(i)
            covered |= candidates[i].tokens & terms
    return chosen


def _abstain(text: str, confidence: float | None, details: dict | None = None) -> Draft:
    return Draft(text, True, text, {}, confidence, "abstain", details or {})


def _with_announced_item(chosen: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """A chosen sentence that ends by announcing what follows ('…as follows:') is quoted with the next
    sentence of its paragraph: the announcement alone says nothing."""
    by_order = {c.order: c for c in candidates}
    extra = []
    for c in chosen:
        following = by_order.get(c.order + 1)
        if following is not None and following not in chosen and following not in extra and c.features["colon"]:
            extra.append(following)
    return chosen + extra
