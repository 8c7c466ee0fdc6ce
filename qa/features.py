"""Named, general features of candidate answer sentences and of a whole candidate set. Pure.

The extractive answerer scores each sentence of the top paragraphs with a fitted model over
``SENTENCE_FEATURES`` and decides whether to answer at all with a second fitted model over
``QUESTION_FEATURES`` (``qa/answer_model.py``; fitted by `recordqa eval fit`). No feature names a
record's words: each is a similarity, a coverage, a rank, or a fact about document structure (a
paragraph still to be completed, an XX placeholder, a pointer to a missing annex).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from qa.analysis import QuestionAnalysis
from qa.evidence import coverage
from qa.language_pack import Shapes

SENTENCE_FEATURES = (
    "sim", "sim_gap", "sim_other", "para_sim", "cov", "cov_gap", "cov_para", "cov_other", "topic_cov",
    "evidence", "rank_recip", "fused", "first", "kind_asked", "kind_here", "kind_para", "kind_missing",
    "anchors_missing", "anchors_missing_ctx", "list_line", "roll", "pending", "placeholder", "annex",
    "agenda_match", "agenda_other", "log_len", "colon", "roll_mismatch", "kind_cov", "kind_topic", "reported",
)
QUESTION_FEATURES = (
    "p_best", "p_margin", "p_second", "best_sim", "best_cov", "best_cov_para", "best_topic_cov", "max_evidence",
    "absent", "absent_name", "best_anchors_missing_ctx", "any_anchor_candidate", "kind_asked", "best_kind_here",
    "any_kind", "top_pending", "top_pending_evidence", "pending_share", "best_placeholder", "top_annex",
    "vote_premise", "vote_contradicted", "outcome_missing", "reason_missing", "focus_unseen", "top_para_sim",
    "n_anchors", "n_terms_unseen", "best_cov_other", "max_cov", "max_topic_cov", "missing_weight",
    "missing_weight_para", "agenda_named", "best_agenda_match", "best_roll_mismatch",
)
# Features that need a dense model; the lexical-only model is fitted without them.
DENSE_FEATURES = frozenset({"sim", "sim_gap", "sim_other", "para_sim", "best_sim", "top_para_sim"})

# Kinds of answer a roll of names gives; for any other question a roll only shares its names.
ROLL_ANSWERS = frozenset({"person", "country", "count", "ordinal"})
# A paragraph of at least this many semicolon-separated items nearly all naming someone is a roll
# (of speakers, of members): it answers who and which country, not what was said.
ROLL_ITEMS = 4
ROLL_SHARE = 0.75


@dataclass(frozen=True)
class Candidate:
    key: str
    order: int
    """Rank of the paragraph * 1000 + position of the sentence in it: record reading order within a rank."""
    text: str
    lang: str
    tokens: frozenset[str]
    features: Mapping[str, float]


@dataclass(frozen=True)
class ParagraphView:
    """What the features read of one retrieved paragraph, prepared by the answerer from the index."""

    key: str
    rank: int
    sentences: tuple[str, ...]
    sentence_tokens: tuple[frozenset[str], ...]
    vectors: np.ndarray | None
    other_vectors: np.ndarray | None
    other_sentence_count: int
    tokens: frozenset[str]
    """Own-language tokens of paragraph and heading."""
    other_tokens: frozenset[str]
    text: str
    context: str
    """Paragraph, heading and the paragraphs of its section just before it, in every language."""
    pending: bool
    agenda_item: str | None


def holds(sentence: str, kind: str | None, shapes: Shapes, countries: Callable[[str], set[str]],
          question_countries: set[str] = frozenset(), question: QuestionAnalysis | None = None,
          places: Callable[[str], set[str]] | None = None) -> bool:
    """Whether the sentence contains an answer of the kind asked for (for 'country', one the question
    does not name itself; for 'place', a place or country the gazetteer knows, or a place phrase)."""
    p = shapes.patterns
    if kind is None:
        return True
    if kind == "country":
        return bool(countries(sentence) - set(question_countries))
    if kind == "place" and places is not None and places(sentence):
        return True
    if kind in ("reason", "ordinal", "date", "place"):
        return any(pattern.search(sentence) for pattern in shapes.any_of[kind])
    sentence = p["placeholder_symbol"].sub(" ", sentence)  # a symbol ending in XX is no symbol yet
    if kind == "reference":
        cue = question.kind_cue + " " + question.text if question is not None else ""
        wanted = [check for words, check in shapes.reference_kinds if words.search(cue)]
        return any(check.search(sentence) for check in (wanted or [c for _, c in shapes.reference_kinds]))
    if kind == "count":
        rest = p["symbol"].sub(" ", sentence)
        for pattern in (*shapes.any_of["date"], *shapes.any_of["ordinal"][:1], p["reference_number"]):
            rest = pattern.sub(" ", rest)
        return bool(re.search(r"\d", rest) or p["number_words"].search(rest))
    if kind == "person":
        return bool(p["person"].search(p["placeholder"].sub(" ", sentence)))
    return True


def is_roll(text: str, shapes: Shapes, countries: Callable[[str], set[str]]) -> bool:
    items = [item for item in re.split(r"[;；]", text) if item.strip()]
    named = sum(1 for item in items if shapes.patterns["person"].search(item) or countries(item))
    return len(items) >= ROLL_ITEMS and named >= ROLL_SHARE * len(items)


def sentence_candidates(question: QuestionAnalysis, paragraphs: list[ParagraphView], *,
                        weights: Mapping[str, float], other_weights: Mapping[str, float],
                        evidence: Mapping[str, float], fused: Mapping[str, float],
                        dense_similarity: Mapping[str, float], shapes: Shapes,
                        countries: Callable[[str], set[str]],
                        places: Callable[[str], set[str]] | None = None,
                        reported: Callable[[str], bool] | None = None) -> list[Candidate]:
    """Every sentence of the given paragraphs with its features. ``weights`` are the IDF weights of the
    question's own-language terms, ``other_weights`` those of its terms in the other language."""
    own_terms = question.terms.get(question.lang, {})
    other_lang = next((lang for lang in question.terms if lang != question.lang), None)
    other_terms = question.terms.get(other_lang, {}) if other_lang else {}
    topic = question.topic
    question_countries = {a.label for a in question.anchors if a.kind == "country"}
    top_fused = max(fused.values(), default=0.0) or 1.0
    raw: list[tuple[ParagraphView, int, str, frozenset[str], dict[str, float]]] = []
    for view in paragraphs:
        roll = is_roll(view.text, shapes, countries)
        kind_para = question.kind is not None and holds(view.text, question.kind, shapes, countries,
                                                        question_countries, question, places)
        missing_ctx = _missing_share(question, view.context, countries)
        cov_para = coverage(own_terms, view.tokens, weights, 0.0)
        cov_other = coverage(other_terms, view.other_tokens, other_weights, 0.0) if other_terms else cov_para
        annex = bool(shapes.patterns["annex_pointer"].search(view.text))
        for index, (sentence, tokens) in enumerate(zip(view.sentences, view.sentence_tokens, strict=True)):
            sim = float(view.vectors[index] @ question.vector) \
                if view.vectors is not None and question.vector is not None else 0.0
            if view.other_vectors is not None and question.vector is not None and len(view.other_vectors):
                other = view.other_vectors @ question.vector
                # The sentence at the same position when both versions split alike; else the best one.
                sim_other = float(other[index]) if view.other_sentence_count == len(view.sentences) \
                    else float(other.max())
            else:
                sim_other = sim
            kind_here = question.kind is not None and holds(sentence, question.kind, shapes, countries,
                                                            question_countries, question, places)
            f = {
                "sim": sim, "sim_other": sim_other, "para_sim": float(dense_similarity.get(view.key, 0.0)),
                "cov": coverage(own_terms, tokens, weights, 0.0), "cov_para": cov_para, "cov_other": cov_other,
                "topic_cov": coverage(topic, tokens, weights, 0.0) if topic else 0.0,
                "evidence": float(evidence.get(view.key, 0.0)), "rank_recip": 1.0 / (1 + view.rank),
                "fused": float(fused.get(view.key, 0.0)) / top_fused, "first": float(index == 0),
                "kind_asked": float(question.kind is not None), "kind_here": float(kind_here),
                "kind_para": float(kind_para), "kind_missing": float(question.kind is not None and not kind_here),
                "anchors_missing": _missing_share(question, sentence, countries),
                "anchors_missing_ctx": missing_ctx,
                "list_line": float(bool(shapes.patterns["list_line"].match(sentence))), "roll": float(roll),
                "pending": float(view.pending),
                "placeholder": float(bool(shapes.patterns["placeholder"].search(sentence))),
                "annex": float(annex and bool(shapes.patterns["annex_pointer"].search(sentence))),
                "agenda_match": float(question.agenda_item is not None
                                      and view.agenda_item == str(question.agenda_item)),
                "agenda_other": float(question.agenda_item is not None and view.agenda_item is not None
                                      and view.agenda_item != str(question.agenda_item)),
                "log_len": math.log1p(len(sentence)) / 6.0,
                "colon": float(sentence.rstrip().endswith((":", "："))),
            }
            # Products the linear model cannot form itself: a roll answers only who / which country / how
            # many; the kind asked for counts most where the sentence is also about the question.
            f["roll_mismatch"] = float(roll and question.kind not in ROLL_ANSWERS)
            f["kind_cov"] = f["kind_here"] * f["cov_para"]
            f["kind_topic"] = f["kind_here"] * f["topic_cov"]
            # Reported speech ('she said that…') against the record's own narrative of what was done.
            f["reported"] = float(bool(reported and reported(sentence)))
            raw.append((view, index, sentence, tokens, f))
    best_sim = max((f["sim"] for *_, f in raw), default=0.0)
    best_cov = max((f["cov"] for *_, f in raw), default=0.0)
    out = []
    for view, index, sentence, tokens, f in raw:
        f["sim_gap"] = f["sim"] - best_sim
        f["cov_gap"] = f["cov"] - best_cov
        out.append(Candidate(view.key, view.rank * 1000 + index, sentence, question.lang, tokens, f))
    return out


def question_features(question: QuestionAnalysis, candidates: list[Candidate], probabilities: list[float], *,
                      paragraphs: list[ParagraphView], evidence: Mapping[str, float],
                      dense_similarity: Mapping[str, float], shapes: Shapes,
                      countries: Callable[[str], set[str]], unseen_terms: int,
                      weights: Mapping[str, float], unseen: float) -> dict[str, float]:
    """Features of the whole candidate set for the answerability model. ``probabilities`` are the
    sentence model's scores of ``candidates``."""
    order = sorted(range(len(candidates)), key=lambda i: -probabilities[i])
    best = candidates[order[0]] if order else None
    p_best = probabilities[order[0]] if order else 0.0
    p_second = probabilities[order[1]] if len(order) > 1 else 0.0
    top = paragraphs[0] if paragraphs else None
    texts = " ".join(view.text for view in paragraphs[:3])
    vote_premise = "vote_count" in question.premises
    contradicted = vote_premise and bool(shapes.patterns["without_vote"].search(texts)) \
        and not shapes.patterns["vote_tally"].search(texts)
    decision_missing = bool(question.decision_terms) and best is not None \
        and not (question.decision_terms & best.tokens)
    f = {
        "p_best": p_best, "p_margin": p_best - p_second, "p_second": p_second,
        "best_sim": best.features["sim"] if best else 0.0,
        "best_cov": best.features["cov"] if best else 0.0,
        "best_cov_para": best.features["cov_para"] if best else 0.0,
        "best_topic_cov": best.features["topic_cov"] if best else 0.0,
        "max_evidence": max(evidence.values(), default=0.0),
        "absent": float(bool(question.absent)),
        "absent_name": float(any(a.kind in ("name", "country", "symbol", "number", "ordinal")
                                 for a in question.absent)),
        "best_anchors_missing_ctx": best.features["anchors_missing_ctx"] if best else 1.0,
        "any_anchor_candidate": float(not question.anchors or any(c.features["anchors_missing_ctx"] == 0
                                                                  for c in candidates)),
        "kind_asked": float(question.kind is not None),
        "best_kind_here": best.features["kind_here"] if best else 0.0,
        "any_kind": float(any(c.features["kind_here"] for c in candidates)),
        "top_pending": float(bool(top and top.pending)),
        "top_pending_evidence": float(evidence.get(top.key, 0.0)) if top and top.pending else 0.0,
        "pending_share": sum(v.pending for v in paragraphs[:3]) / max(1, min(3, len(paragraphs))),
        "best_placeholder": best.features["placeholder"] if best else 0.0,
        "top_annex": float(bool(top and shapes.patterns["annex_pointer"].search(top.text))),
        "vote_premise": float(vote_premise), "vote_contradicted": float(contradicted),
        "outcome_missing": float("final_outcome" in question.premises and decision_missing),
        "reason_missing": float("reason" in question.premises and best is not None
                                and not best.features["kind_here"]),
        "focus_unseen": float(question.focus_unseen),
        "top_para_sim": float(dense_similarity.get(top.key, 0.0)) if top else 0.0,
        "n_anchors": min(3, len(question.anchors)) / 3.0,
        "n_terms_unseen": min(3, unseen_terms) / 3.0,
        "best_cov_other": best.features["cov_other"] if best else 0.0,
        "max_cov": max((c.features["cov"] for c in candidates), default=0.0),
        "max_topic_cov": max((c.features["topic_cov"] for c in candidates), default=0.0),
        "agenda_named": float(question.agenda_item is not None),
        "best_agenda_match": best.features["agenda_match"] if best else 0.0,
        "best_roll_mismatch": best.features["roll_mismatch"] if best else 0.0,
    }
    # The most specific question term the chosen sentence (and its paragraph) lacks, as a share of
    # the weight of a term the record never uses: 'budget' missing from a passage on the budget
    # process weighs more than 'session' missing from it.
    own = question.terms.get(question.lang, {})
    view = next((v for v in paragraphs if best is not None and v.key == best.key), None)
    def lacking(tokens) -> float:
        return max((weights.get(t, unseen) * w / unseen for t, w in own.items() if t not in tokens), default=0.0)
    f["missing_weight"] = lacking(best.tokens) if best else 1.0
    f["missing_weight_para"] = lacking(view.tokens) if view else 1.0
    return f


def _missing_share(question: QuestionAnalysis, text: str, countries: Callable[[str], set[str]]) -> float:
    if not question.anchors:
        return 0.0
    missing = sum(1 for a in question.anchors if not a.found_in(text, countries))
    return missing / len(question.anchors)
