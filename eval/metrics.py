"""QA metrics on paragraph ids and answer text. Pure functions, each on one item or one list.

Retrieval metrics follow pytrec_eval/BEIR with binary relevance: the retrieved list is
deduplicated (first occurrence kept) before cutting at k.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Sequence

from qa.citation import MARKER, normalise_markers

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_EN_ARTICLES = {"a", "an", "the"}


def normalise(text: str) -> str:
    """Casefold, NFKC, and drop whitespace and punctuation, so '2019 年 5 月' matches '2019年5月'."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\W_]+", "", text)


def _ranked(retrieved: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(retrieved))


def hit_at(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    return 1.0 if set(_ranked(retrieved)[:k]) & set(gold) else 0.0


def recall_at(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold paragraphs among the first k retrieved."""
    gold_set = set(gold)
    return len(set(_ranked(retrieved)[:k]) & gold_set) / len(gold_set) if gold_set else 0.0


def mrr_at(retrieved: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    """1 / rank of the first gold paragraph within the first k, else 0."""
    for rank, pid in enumerate(_ranked(retrieved)[:k], 1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at(retrieved: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    """Binary-relevance nDCG: sum of 1/log2(rank+1) over gold hits, over the ideal ranking's sum."""
    gold_set = set(gold)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, pid in enumerate(_ranked(retrieved)[:k], 1) if pid in gold_set)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal if ideal else 0.0


def answer_body(answer: str) -> str:
    return MARKER.sub(" ", normalise_markers(answer))


def contains_accepted(answer: str, accepted: Sequence[str]) -> bool:
    """Some accepted answer occurs in the answer (normalised, citations removed)."""
    body = normalise(answer_body(answer))
    return any(normalise(a) and normalise(a) in body for a in accepted)


def exact_match(answer: str, accepted: Sequence[str]) -> float:
    """1 when the whole answer (normalised, citations removed) equals an accepted answer."""
    body = normalise(answer_body(answer))
    return 1.0 if any(normalise(a) == body for a in accepted if normalise(a)) else 0.0


def answer_tokens(text: str, lang: str) -> list[str]:
    """Chinese: one token per CJK character, Latin words and numbers whole. English: words,
    without articles (as SQuAD's F1)."""
    tokens = _TOKEN.findall(unicodedata.normalize("NFKC", answer_body(text)).casefold())
    tokens = [t for t in tokens if t != "_"]
    return [t for t in tokens if t not in _EN_ARTICLES] if lang == "en" else tokens


def token_f1(answer: str, accepted: Sequence[str], lang: str) -> float:
    """Best token-overlap F1 against any accepted answer."""
    predicted = answer_tokens(answer, lang)
    best = 0.0
    for reference in accepted:
        gold = answer_tokens(reference, lang)
        common = sum(min(predicted.count(t), gold.count(t)) for t in set(gold))
        if not predicted or not gold or not common:
            continue
        precision, recall = common / len(predicted), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_precision(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    cited_set = set(cited)
    return len(cited_set & set(gold)) / len(cited_set) if cited_set else None


def citation_recall(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    gold_set = set(gold)
    return len(set(cited) & gold_set) / len(gold_set) if gold_set else None


def crag_score(answerable: bool, abstained: bool, correct: bool) -> int:
    """CRAG-style: +1 a correct answer (or an abstention when the record cannot answer), 0 an
    abstention on an answerable question, -1 a wrong answer (or any answer when it cannot)."""
    if not answerable:
        return 1 if abstained else -1
    if abstained:
        return 0
    return 1 if correct else -1


def abstention_scores(answerable: Sequence[bool], abstained: Sequence[bool]) -> dict[str, float | None]:
    """Abstaining treated as predicting 'unanswerable': precision, recall, F1, and the share of
    answerable questions that abstained."""
    tp = sum(1 for a, x in zip(answerable, abstained, strict=True) if not a and x)
    fp = sum(1 for a, x in zip(answerable, abstained, strict=True) if a and x)
    positives = sum(1 for a in answerable if not a)
    negatives = len(answerable) - positives
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / positives if positives else None
    f1 = (2 * precision * recall / (precision + recall) if precision and recall else
          (0.0 if precision is not None and recall is not None else None))
    return {"precision": precision, "recall": recall, "f1": f1,
            "false_abstention_rate": fp / negatives if negatives else None}


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: Sequence[float], q: float, digits: int = 2) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), digits)


def bootstrap_ci(items: Sequence, statistic: Callable[[Sequence], float | None], *, resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic`` over items resampled with replacement.
    Seeded, so the same results give the same interval."""
    if not items or statistic(items) is None:
        return None
    rng = random.Random(seed)
    n = len(items)
    values = []
    for _ in range(resamples):
        value = statistic([items[rng.randrange(n)] for _ in range(n)])
        if value is not None:
            values.append(value)
    if not values:
        return None
    tail = (1 - confidence) / 2
    return percentile(values, tail, 4), percentile(values, 1 - tail, 4)
