"""How well a text covers a question: IDF-weighted share of the question's terms it contains.

Pure functions; used to rank sentences and to decide when the evidence is too weak to answer.
A question term that occurs nowhere in the record weighs as much as the rarest term, so a
question about something the record never mentions scores low.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Words of a question that say how it asks, not what it asks about (stemmed, as the tokenizer gives them).
QUESTION_FILLER = frozenset("accord want find turn happen mention describ talk kind type thing way".split())
# A Chinese question word ("几点钟", "什么样") is no term to look for in the record.
_ZH_INTERROGATIVE = re.compile(r"几|哪|谁|什么|多少|怎|^做些$")
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


def weighted_terms(tokens: list[str], context_tokens: list[str] = (), context_weight: float = 0.3) -> dict[str, float]:
    """Distinct terms with weights: question terms 1.0, terms only from earlier turns ``context_weight``.
    Question filler ('according', 'want') and Chinese question words are left out."""
    terms = {t: context_weight for t in context_tokens if is_content(t)}
    terms.update({t: 1.0 for t in tokens if is_content(t)})
    return terms


def is_content(term: str) -> bool:
    return bool(term) and term not in QUESTION_FILLER and not _ZH_INTERROGATIVE.search(term)


def term_idf(terms: Iterable[str], idf: Mapping[str, float], unseen: float,
             named: Iterable[str] = ()) -> dict[str, float]:
    """The IDF of each question term; terms the record never uses weigh ``unseen`` when the question
    names them (``named``) and ``UNSEEN_COMMON_SHARE * unseen`` otherwise."""
    named = set(named)
    return {t: idf.get(t, unseen if t in named else UNSEEN_COMMON_SHARE * unseen) for t in terms}
