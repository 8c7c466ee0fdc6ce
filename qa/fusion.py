"""Rank fusion. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(runs: Mapping[str, Sequence[str]], *, k: int = 60,
                           weights: Mapping[str, float] | None = None) -> list[tuple[str, float]]:
    """Fuse ranked lists of ids: score(d) = sum over runs of w / (k + rank). Ties keep first-seen order."""
    scores: dict[str, float] = {}
    for name, ranking in runs.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, item in enumerate(dict.fromkeys(ranking), 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
