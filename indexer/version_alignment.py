"""Aligning two language versions of one record by content, where they share no paragraph numbers.

The versions list the same segments in the same order, but a segment can be missing on one side
(a masthead line, a footnote the converter put elsewhere) or split in two on one side. Position
alone then pairs everything after the first difference wrongly, so the alignment is a monotone
path found by dynamic programming (Gale-Church / bleualign style) over groups 1-1, 1-0, 0-1, 2-1
and 1-2, scored by:

- the cosine similarity of multilingual passage vectors, centred per side (so that merging two
  vectors does not raise their similarity by itself) and corrected for hubness (CSLS: a pair
  counts by how much more alike its two segments are than each is to its nearest neighbours);
- shared anchors: numbers (``2.74亿`` = ``274 million``), Latin-script names and acronyms inside
  the other script (``UNICEF``, ``CLARE II``), document symbols (``E/2023/L.19``) and section
  numerals (``一.`` = ``I.``);
- the length ratio, estimated from the two texts themselves (Chinese characters to English
  characters is about 1 to 3.5 in UN documents);
- a fixed cost for leaving a segment unpaired, so that a segment present on one side only stays
  alone instead of shifting every later pair.

Weights and per-language words live in ``version_alignment.tsv`` beside this module. The path is
searched in a band around the diagonal, so the cost grows linearly with the number of segments.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATA_FILE = Path(__file__).with_name("version_alignment.tsv")

Group = tuple[tuple[int, ...], tuple[int, ...]]

# Moves of the path: (left segments consumed, right segments consumed).
_MOVES = ((1, 1), (1, 0), (0, 1), (2, 1), (1, 2))


class AlignedGroup(NamedTuple):
    left: tuple[int, ...]
    right: tuple[int, ...]
    confidence: float
    """How much more likely this grouping is than its best alternative, in [0, 1] (a sigmoid of the
    score difference); for an unpaired segment, how sure it is that it has no counterpart."""


@dataclass(frozen=True)
class _Config:
    weights: dict[str, float]
    scales: dict[str, float]
    months: dict[str, int]
    numerals: dict[str, int]


@lru_cache(maxsize=1)
def _config() -> _Config:
    sections: dict[str, dict[str, str]] = {"weight": {}, "scale": {}, "month": {}, "numeral": {}}
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, key, value = line.split("\t")[:3]
        sections[kind][key] = value
    return _Config(
        weights={k: float(v) for k, v in sections["weight"].items()},
        scales={k: float(v) for k, v in sections["scale"].items()},
        months={k: int(v) for k, v in sections["month"].items()},
        numerals={k: int(v) for k, v in sections["numeral"].items()},
    )


# ---------------------------------------------------------------- anchors

_SYMBOL = re.compile(r"(?<![A-Za-z0-9/])[A-Z]{1,8}(?:/[A-Za-z0-9.\-]*[A-Za-z0-9])+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ROMAN = re.compile(r"^\s*([IVXL]+)[.\s]")
_LETTER_HEADING = re.compile(r"^\s*([A-Z])\.\s")


@lru_cache(maxsize=1)
def _number_pattern() -> re.Pattern[str]:
    words = sorted(_config().scales, key=len, reverse=True)
    latin = "|".join(re.escape(w) for w in words if w.isascii())
    other = "|".join(re.escape(w) for w in words if not w.isascii())
    return re.compile(
        r"(?<![0-9A-Za-z.])(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(\.\d+)?"
        rf"(?:\s*(?:({latin})\b|({other})))?"
    )


@lru_cache(maxsize=1)
def _month_pattern() -> re.Pattern[str]:
    names = "|".join(m.capitalize() for m in _config().months)
    # Only next to a number: "may" is also a verb.
    return re.compile(rf"(?<=\d )({names})\b|\b({names})(?= \d)")


def _roman(text: str) -> int | None:
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    total = 0
    for a, b in zip(text, text[1:] + " ", strict=True):
        v = values[a]
        total += -v if b in values and values[b] > v else v
    return total or None


def _number_key(value: float) -> str:
    return f"n:{value:.6g}"


@dataclass(frozen=True)
class _Anchors:
    strong: frozenset[str]
    """What this segment asserts: its numbers, symbols, section numerals, and its names/acronyms."""
    confirm: frozenset[str]
    """What it can confirm of the other side's anchors: its strong anchors plus every Latin word."""


def _anchors(text: str) -> _Anchors:
    cfg = _config()
    strong: set[str] = set()
    rest = text
    for match in _SYMBOL.finditer(text):
        strong.add("s:" + match.group(0).rstrip(".").upper())
    rest = _SYMBOL.sub(" ", rest)
    for match in _number_pattern().finditer(rest):
        whole, frac, latin_scale, other_scale = match.groups()
        value = float(whole.replace(",", "") + (frac or ""))
        scale = latin_scale or other_scale
        strong.add(_number_key(value * cfg.scales[scale] if scale else value))
    for match in _month_pattern().finditer(rest):
        strong.add(_number_key(cfg.months[(match.group(1) or match.group(2)).lower()]))
    stripped = text.lstrip()
    if stripped[:1] in cfg.numerals and stripped[1:2] in (".", "、", "．", " "):
        strong.add(f"h:{cfg.numerals[stripped[0]]}")
    elif (m := _ROMAN.match(text)) and (value := _roman(m.group(1))):
        strong.add(f"h:{value}")
    elif m := _LETTER_HEADING.match(text):
        strong.add("h:" + m.group(1).lower())
    words = [w for w in _LATIN_WORD.findall(_SYMBOL.sub(" ", text)) if not w[0].isdigit()]
    lower = {w.lower() for w in words}
    foreign = bool(_CJK.search(text))
    for word in words:
        # In a text in another script every Latin word is a name; in a Latin text only acronyms
        # (two capitals or more, as UNICEF or II) are, except in an all-capitals heading.
        uppers = sum(c.isupper() for c in word)
        if (foreign and len(word) > 1) or (uppers >= 2 and not text.isupper()):
            strong.add("w:" + word.lower())
    return _Anchors(frozenset(strong), frozenset(strong | {"w:" + w for w in lower}))


def _anchor_weights(left: list[_Anchors], right: list[_Anchors]) -> dict[str, float]:
    """Rarer anchors count more: 2030 in half the lines of a text says little about one pair."""
    df_left = Counter(a for x in left for a in x.strong)
    df_right = Counter(a for x in right for a in x.strong)
    keys = set(df_left) | set(df_right)
    return {k: 1.0 / math.sqrt(max(1.0, (df_left[k] + df_right[k]) / 2)) for k in keys}


def _anchor_score(a: _Anchors, b: _Anchors, weights: dict[str, float], w: dict[str, float]) -> float:
    if not a.strong and not b.strong:
        return 0.0
    hits = (a.strong & b.confirm) | (b.strong & a.confirm)
    misses = (a.strong - b.confirm) | (b.strong - a.confirm)
    hit = sum(weights.get(k, 1.0) for k in hits)
    miss = min(w["anchor_miss_cap"], sum(weights.get(k, 1.0) for k in misses))
    return w["anchor_hit"] * hit - w["anchor_miss"] * miss


def _merged(x: _Anchors, y: _Anchors) -> _Anchors:
    return _Anchors(x.strong | y.strong, x.confirm | y.confirm)


# ---------------------------------------------------------------- lengths and vectors

def _length(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def _prepared(vectors: np.ndarray | None, texts: Sequence[str], side: str) -> np.ndarray | None:
    if vectors is None:
        return None
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or len(v) != len(texts):
        raise ValueError(f"{side}_vectors must have one row per {side} text ({len(texts)}), not shape {v.shape}")
    if len(v) > 1:
        # Centred: multilingual vectors share a large common direction, which would make any two
        # segments merged into one look more like anything than either alone.
        v = v - v.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


class _Scorer:
    """Scores of candidate groups; vectors, anchors and lengths are computed once per text."""

    def __init__(self, left: Sequence[str], right: Sequence[str], left_vectors, right_vectors,
                 band: list[tuple[int, int]]) -> None:
        cfg = _config()
        self.w = cfg.weights
        self.n, self.m = len(left), len(right)
        self.lv = _prepared(left_vectors, left, "left")
        self.rv = _prepared(right_vectors, right, "right")
        if (self.lv is None) != (self.rv is None):
            self.lv = self.rv = None  # one side alone says nothing about pairs
        self.la = [_anchors(t) for t in left]
        self.ra = [_anchors(t) for t in right]
        self.aw = _anchor_weights(self.la, self.ra)
        self.llen = np.array([_length(t) for t in left], dtype=np.float64)
        self.rlen = np.array([_length(t) for t in right], dtype=np.float64)
        total_l, total_r = self.llen.sum(), self.rlen.sum()
        self.ratio = total_r / total_l if total_l > 0 and total_r > 0 else 1.0
        self.lr = self.rr = None
        if self.lv is not None:
            self._neighbourhoods(band)

    def _neighbourhoods(self, band: list[tuple[int, int]]) -> None:
        """Mean similarity of each segment to its k nearest neighbours on the other side, within
        the band (CSLS), so that a generally 'central' segment does not pair with everything."""
        k = max(1, int(self.w["csls_neighbours"]))
        lr = np.zeros(self.n)
        rr_sum = np.zeros(self.m)
        rr_best: list[list[float]] = [[] for _ in range(self.m)]
        for i in range(self.n):
            lo, hi = band[i]
            hi = min(self.m, hi + 1)
            if lo >= hi:
                continue
            sims = self.rv[lo:hi] @ self.lv[i]
            top = np.sort(sims)[-k:]
            lr[i] = top.mean()
            for j, s in zip(range(lo, hi), sims, strict=True):
                best = rr_best[j]
                if len(best) < k:
                    best.append(float(s))
                elif s > min(best):
                    best[best.index(min(best))] = float(s)
        for j in range(self.m):
            rr_sum[j] = np.mean(rr_best[j]) if rr_best[j] else 0.0
        self.lr, self.rr = lr, rr_sum

    def _cosine_feature(self, lvec, lr, rvec, rr) -> float:
        w = self.w
        csls = 2.0 * float(lvec @ rvec) - lr - rr
        return float(np.clip(csls / w["cosine_scale"], -w["cosine_clip"], w["cosine_clip"]))

    def _vector(self, vectors, radii, lengths, idx: tuple[int, ...]):
        if len(idx) == 1:
            return vectors[idx[0]], float(radii[idx[0]])
        weights = lengths[list(idx)] + 1.0
        v = (vectors[list(idx)] * weights[:, None]).sum(axis=0)
        norm = np.linalg.norm(v)
        return (v / norm if norm > 0 else v), float(np.average(radii[list(idx)], weights=weights))

    def score(self, li: tuple[int, ...], ri: tuple[int, ...]) -> float:
        """Score of pairing left segments ``li`` with right segments ``ri`` (both non-empty)."""
        w = self.w
        total = w["bias"]
        if self.lv is not None:
            lvec, lrad = self._vector(self.lv, self.lr, self.llen, li)
            rvec, rrad = self._vector(self.rv, self.rr, self.rlen, ri)
            total += w["cosine"] * self._cosine_feature(lvec, lrad, rvec, rrad)
        a = self.la[li[0]] if len(li) == 1 else _merged(*(self.la[i] for i in li))
        b = self.ra[ri[0]] if len(ri) == 1 else _merged(*(self.ra[j] for j in ri))
        total += _anchor_score(a, b, self.aw, w)
        ll = float(self.llen[list(li)].sum())
        rl = float(self.rlen[list(ri)].sum())
        s = w["length_smoothing"]
        d = math.log((rl + s) / (self.ratio * ll + s)) / w["length_sigma"]
        total -= w["length"] * 0.5 * d * d
        if len(li) + len(ri) > 2:
            total -= w["merge"]
        return total


# ---------------------------------------------------------------- the path

def _band(n: int, m: int) -> list[tuple[int, int]]:
    """For each path row i (left segments consumed, 0..n), the range [lo, hi] of right segments
    consumed that the path may visit."""
    w = _config().weights
    half = int(max(w["band_min"], abs(n - m) + w["band_min"], w["band_fraction"] * max(n, m)))
    rows = []
    for i in range(n + 1):
        centre = round(i * m / n) if n else 0
        rows.append((max(0, centre - half), min(m, centre + half)))
    return rows


def align_with_confidence(
    left: Sequence[str], right: Sequence[str], *, left_vectors: np.ndarray | None = None,
    right_vectors: np.ndarray | None = None,
) -> list[AlignedGroup]:
    """The alignment of ``align_versions``, each group with a confidence (see ``AlignedGroup``)."""
    n, m = len(left), len(right)
    if n == 0 or m == 0:
        return [AlignedGroup((i,), (), 1.0) for i in range(n)] + [AlignedGroup((), (j,), 1.0) for j in range(m)]
    band = _band(n, m)
    scorer = _Scorer(left, right, left_vectors, right_vectors, band)
    skip = -scorer.w["skip"]
    neg = -math.inf
    # best[i][j - lo_i]: best score of a path that consumed i left and j right segments.
    best: list[np.ndarray] = []
    back: list[np.ndarray] = []
    scores: dict[tuple[tuple[int, ...], tuple[int, ...]], float] = {}

    def at(row: int, j: int) -> float:
        if row < 0:
            return neg
        lo, hi = band[row]
        return float(best[row][j - lo]) if lo <= j <= hi else neg

    for i in range(n + 1):
        lo, hi = band[i]
        row = np.full(hi - lo + 1, neg)
        ptr = np.full(hi - lo + 1, -1, dtype=np.int8)
        for j in range(lo, hi + 1):
            if i == 0 and j == 0:
                row[0] = 0.0
                continue
            options = []
            for move, (di, dj) in enumerate(_MOVES):
                if i < di or j < dj or (di, dj) == (0, 1):
                    continue
                prev = at(i - di, j - dj)
                if prev == neg:
                    continue
                if di and dj:
                    key = (tuple(range(i - di, i)), tuple(range(j - dj, j)))
                    gain = scorer.score(*key)
                    scores[key] = gain
                else:
                    gain = skip
                options.append((prev + gain, move))
            # 0-1 moves within this row: from the cell to the left.
            if j > lo and row[j - lo - 1] > neg:
                options.append((row[j - lo - 1] + skip, 2))
            if options:
                value, move = max(options)
                row[j - lo], ptr[j - lo] = value, move
        best.append(row)
        back.append(ptr)

    if at(n, m) == neg:  # cannot happen with a band that contains both corners
        raise RuntimeError("alignment band does not reach the end")
    groups: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    i, j = n, m
    while i or j:
        move = int(back[i][j - band[i][0]])
        di, dj = _MOVES[move]
        groups.append((tuple(range(i - di, i)), tuple(range(j - dj, j))))
        i, j = i - di, j - dj
    groups.reverse()
    return [AlignedGroup(li, ri, _confidence(li, ri, scorer, scores, skip, band)) for li, ri in groups]


def _confidence(li, ri, scorer: _Scorer, scores: dict, skip: float, band) -> float:
    """Sigmoid of how much better the chosen group scores than the best alternative for its segments."""
    def pair(a: int, b: int) -> float:
        key = ((a,), (b,))
        if key not in scores:
            scores[key] = scorer.score(*key)
        return scores[key]

    def candidates_left(a: int) -> range:
        lo, hi = band[a]
        return range(max(0, lo - 2), min(scorer.m, hi + 2))

    def candidates_right(b: int) -> list[int]:
        return [a for a in range(scorer.n) if band[a][0] - 2 <= b < band[a][1] + 2]

    if li and ri:
        own = scores.get((li, ri)) if (li, ri) in scores else scorer.score(li, ri)
        if len(li) == 1 and len(ri) == 1:
            a, b = li[0], ri[0]
            rivals = [pair(a, c) for c in candidates_left(a) if c != b]
            rivals += [pair(c, b) for c in candidates_right(b) if c != a]
            alternative = max([2 * skip, *rivals])
        else:
            # The alternative to a merge: one part paired, the other left alone.
            alternative = max(pair(a, b) for a in li for b in ri) + skip
        return _sigmoid(own - alternative)
    if li:
        a = li[0]
        rival = max((pair(a, c) for c in candidates_left(a)), default=2 * skip)
    else:
        b = ri[0]
        rival = max((pair(c, b) for c in candidates_right(b)), default=2 * skip)
    return _sigmoid(2 * skip - rival)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def align_versions(
    left: Sequence[str], right: Sequence[str], *, left_vectors: np.ndarray | None = None,
    right_vectors: np.ndarray | None = None,
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Monotone groups (left indices, right indices), each 1-1, 1-0, 0-1, 2-1 or 1-2, covering
    every index of both sides once and in order. ``left_vectors``/``right_vectors`` are
    L2-normalised passage vectors of a multilingual model, one row per text; without them the
    texts are aligned on anchors and lengths only."""
    return [(g.left, g.right) for g in align_with_confidence(
        left, right, left_vectors=left_vectors, right_vectors=right_vectors)]
