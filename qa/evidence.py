"""How well a text covers a question: IDF-weighted share of the question's terms it contains.

Pure functions; coverage is one of the answer models' features and the retriever's evidence.
A question term that occurs nowhere in the record weighs as much as the rarest term, so a
question about something the record never mentions scores low.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# A question term the record never uses: when the question names it (a person, a country, a number)
# it weighs as the rarest term, so a question about something absent scores low; an ordinary word
# (a paraphrase: "envoys" for "ambassadors") weighs this share of that.
UNSEEN_COMMON_SHARE = 0.5


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


def term_idf(terms: Iterable[str], idf: Mapping[str, float], unseen: float,
             named: Iterable[str] = ()) -> dict[str, float]:
    """The IDF of each question term; terms the record never uses weigh ``unseen`` when the question
    names them (``named``) and ``UNSEEN_COMMON_SHARE * unseen`` otherwise."""
    named = set(named)
    return {t: idf.get(t, unseen if t in named else UNSEEN_COMMON_SHARE * unseen) for t in terms}
