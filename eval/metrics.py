"""QA metrics on paragraph ids and answer text. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


def normalise(text: str) -> str:
    """Casefold, NFKC, and drop whitespace and punctuation, so '2019 年 5 月' matches '2019年5月'."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\W_]+", "", text)


def hit_at(retrieved: Sequence[str], gold: Sequence[str], k: int) -> float:
    return 1.0 if set(retrieved[:k]) & set(gold) else 0.0


def contains_accepted(answer: str, accepted: Sequence[str]) -> bool:
    body = normalise(re.sub(r"\[¶[^\]]*\]", "", answer))
    return any(normalise(a) and normalise(a) in body for a in accepted)


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 2)
