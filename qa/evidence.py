"""How well a text covers a question: IDF-weighted share of the question's terms it contains.

Pure functions; used to rank sentences and to decide when the evidence is too weak to answer.
A question term that occurs nowhere in the record weighs as much as the rarest term, so a
question about something the record never mentions scores low.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def coverage(query: Mapping[str, float], text_tokens: Iterable[str], idf: Mapping[str, float],
             unseen: float) -> float:
    """Share in [0, 1] of the weighted query terms present in ``text_tokens``.

    ``query`` maps each distinct term to a weight (1.0 for the question, less for context from
    earlier turns)."""
    present = set(text_tokens)
    total = hit = 0.0
    for term, weight in query.items():
        w = weight * idf.get(term, unseen)
        total += w
        if term in present:
            hit += w
    return hit / total if total else 0.0


def weighted_terms(tokens: list[str], context_tokens: list[str] = (), context_weight: float = 0.3) -> dict[str, float]:
    """Distinct terms with weights: question terms 1.0, terms only from earlier turns ``context_weight``."""
    terms = {t: context_weight for t in context_tokens if t}
    terms.update({t: 1.0 for t in tokens if t})
    return terms
