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

Each group gets a confidence (``align_with_confidence``): how much better it scores than the best
alternative for its segments. With vectors, a 1-1 pair under ``doubtful_pair`` confidence is left
as two unpaired segments (two lines that match nothing nearby, such as a heading on one side and a
section letter on the other, are not a translation of each other).

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

# A document symbol: capitals, then slash-separated parts, one of them with a digit (E/2023/L.19,
# A/RES/70/1), so that "HIV/AIDS" stays two names.
_SYMBOL = re.compile(r"(?<![A-Za-z0-9/])[A-Z]{1,8}(?:/[A-Za-z.\-]*[A-Za-z])*(?:/[A-Za-z.\-]*\d[A-Za-z0-9.\-]*)"
                     r"(?:/[A-Za-z0-9.\-]*[A-Za-z0-9])*")
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


def _anchor_matrices(anchors: list[_Anchors], keys: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrices (segments x anchor keys) of what each segment asserts and confirms."""
    strong = np.zeros((len(anchors), len(keys)), dtype=np.float32)
    confirm = np.zeros((len(anchors), len(keys)), dtype=np.float32)
    for row, a in enumerate(anchors):
        strong[row, [keys[k] for k in a.strong]] = 1.0
        confirm[row, [keys[k] for k in a.confirm if k in keys]] = 1.0
    return strong, confirm


def _merged_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows of consecutive segments merged (the union of their anchors)."""
    return np.maximum(matrix[:-1], matrix[1:]) if len(matrix) > 1 else matrix[:0]


# ---------------------------------------------------------------- lengths and vectors

def _script_lengths(text: str) -> tuple[int, int]:
    """(CJK characters, other non-space characters) of a text."""
    cjk = len(_CJK.findall(text))
    return cjk, sum(1 for c in text if not c.isspace()) - cjk


def _lengths(left: Sequence[str], right: Sequence[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """Lengths of both sides in one unit, and the ratio of right to left length in that unit.

    A CJK character counts as k other characters, k chosen so that both sides have the same total
    (Chinese to English about 1 to 3 in UN documents): then a Chinese footnote that is mostly a
    Latin URL is as long as its English translation. Where the sides do not differ in how much CJK
    text they hold (two Latin-script versions), k is 1 and the ratio of the totals stands."""
    lc, lo = np.array([_script_lengths(t) for t in left], dtype=np.float64).reshape(-1, 2).T
    rc, ro = np.array([_script_lengths(t) for t in right], dtype=np.float64).reshape(-1, 2).T
    k = 1.0
    cjk_gap = lc.sum() - rc.sum()
    if abs(cjk_gap) > 0.2 * (lc.sum() + rc.sum() + lo.sum() + ro.sum()) / 2:
        k = (ro.sum() - lo.sum()) / cjk_gap
        if not 0.5 <= k <= 10:  # no plausible script ratio: fall back to the totals
            k = 1.0
    llen, rlen = lo + k * lc, ro + k * rc
    total_l, total_r = llen.sum(), rlen.sum()
    return llen, rlen, (total_r / total_l if total_l > 0 and total_r > 0 else 1.0)


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
    """Scores of candidate groups, a row of candidates at a time; vectors, anchors and lengths are
    prepared once per text."""

    def __init__(self, left: Sequence[str], right: Sequence[str], left_vectors, right_vectors,
                 band: list[tuple[int, int]]) -> None:
        self.w = _config().weights
        self.n, self.m = len(left), len(right)
        lv = _prepared(left_vectors, left, "left")
        rv = _prepared(right_vectors, right, "right")
        if lv is None or rv is None:
            lv = rv = None  # one side alone says nothing about pairs
        la, ra = [_anchors(t) for t in left], [_anchors(t) for t in right]
        weights = _anchor_weights(la, ra)
        keys = {k: n for n, k in enumerate(sorted(weights))}
        self.anchor_weight = np.array([weights[k] for k in sorted(weights)], dtype=np.float32)
        ls, lc = _anchor_matrices(la, keys)
        rs, rc = _anchor_matrices(ra, keys)
        # Per side, singles (index 0) and consecutive pairs merged (index 1): (strong, confirm).
        self.anchor = {"l": ((ls, lc), (_merged_rows(ls), _merged_rows(lc))),
                       "r": ((rs, rc), (_merged_rows(rs), _merged_rows(rc)))}
        self.strong_weight = [m[0] @ self.anchor_weight for m in self.anchor["r"]]
        self.llen, self.rlen, self.ratio = _lengths(left, right)
        # Lengths, vectors and CSLS radii of single segments (index 0) and of consecutive pairs
        # (index 1: entry i stands for segments i and i+1 merged).
        self.lens = {"l": (self.llen, _pair_sums(self.llen)), "r": (self.rlen, _pair_sums(self.rlen))}
        self.vectors = None
        if lv is not None:
            lrad, rrad = _radii(lv, rv, band, max(1, int(self.w["csls_neighbours"])))
            self.vectors = {
                "l": ((lv, lrad), _pair_vectors(lv, lrad, self.llen)),
                "r": ((rv, rrad), _pair_vectors(rv, rrad, self.rlen)),
            }

    def scores(self, a: int, left_size: int, bs: np.ndarray, right_size: int) -> np.ndarray:
        """Scores of grouping left segments a..a+left_size-1 with right segments b..b+right_size-1,
        for each b in ``bs`` (all valid indices)."""
        w = self.w
        total = np.full(len(bs), w["bias"])
        if not len(bs):
            return total
        if bs[-1] - bs[0] + 1 == len(bs):
            bs = slice(int(bs[0]), int(bs[-1]) + 1)  # a view, not a copy, of the band's rows
        if self.vectors is not None:
            lvec, lrad = self.vectors["l"][left_size - 1]
            rvec, rrad = self.vectors["r"][right_size - 1]
            csls = 2.0 * (rvec[bs] @ lvec[a]) - lrad[a] - rrad[bs]
            feature = (csls - w["cosine_offset"]) / w["cosine_scale"]
            total += w["cosine"] * np.clip(feature, -w["cosine_clip"], w["cosine_clip"])
        ll = self.lens["l"][left_size - 1][a]
        rl = self.lens["r"][right_size - 1][bs]
        s = w["length_smoothing"]
        d = np.log((rl + s) / (self.ratio * ll + s)) / w["length_sigma"]
        total -= np.minimum(w["length"] * 0.5 * d * d, w["length_cap"])
        if left_size + right_size > 2:
            total -= w["merge"]
        total += self._anchor_scores(a, left_size, bs, right_size)
        return total

    def _anchor_scores(self, a: int, left_size: int, bs: np.ndarray | slice, right_size: int) -> np.ndarray:
        """Shared anchors minus anchors one side asserts and the other cannot confirm, weighted by
        rarity. For sets with strong within confirm: hits = As.Bc + Bs.Ac - As.Bs and misses =
        |As| - As.Bc + |Bs| - Bs.Ac, as weighted indicator products."""
        w = self.w
        if not len(self.anchor_weight):
            return 0.0
        ls, lc = self.anchor["l"][left_size - 1]
        rs, rc = self.anchor["r"][right_size - 1]
        a_strong = ls[a] * self.anchor_weight
        a_confirm = lc[a] * self.anchor_weight
        b_strong, b_confirm = rs[bs], rc[bs]
        as_bc = b_confirm @ a_strong
        bs_ac = b_strong @ a_confirm
        as_bs = b_strong @ a_strong
        hits = as_bc + bs_ac - as_bs
        misses = a_strong.sum() - as_bc + self.strong_weight[right_size - 1][bs] - bs_ac
        return w["anchor_hit"] * hits - w["anchor_miss"] * np.minimum(misses, w["anchor_miss_cap"])


def _pair_sums(lengths: np.ndarray) -> np.ndarray:
    return lengths[:-1] + lengths[1:] if len(lengths) > 1 else np.zeros(0)


def _pair_vectors(v: np.ndarray, radii: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of consecutive segments merged (length-weighted, as the model averages tokens) and
    their CSLS radii (the weighted mean of the parts')."""
    if len(v) < 2:
        return np.zeros((0, v.shape[1]), dtype=v.dtype), np.zeros(0)
    wa, wb = (lengths[:-1] + 1.0)[:, None], (lengths[1:] + 1.0)[:, None]
    merged = v[:-1] * wa + v[1:] * wb
    norms = np.linalg.norm(merged, axis=1, keepdims=True)
    merged = merged / np.where(norms > 0, norms, 1.0)
    radii = (radii[:-1] * wa[:, 0] + radii[1:] * wb[:, 0]) / (wa[:, 0] + wb[:, 0])
    return merged, radii


def _radii(lv: np.ndarray, rv: np.ndarray, band: list[tuple[int, int]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean similarity of each segment to its k nearest neighbours on the other side within the
    band (CSLS), so that a generally 'central' segment does not pair with everything."""
    n, m = len(lv), len(rv)
    lrad = np.zeros(n)
    top_right = np.full((m, k), np.nan)
    for i in range(n):
        lo, hi = band[i][0], min(m, band[i][1] + 1)
        if lo >= hi:
            continue
        sims = rv[lo:hi] @ lv[i]
        lrad[i] = np.sort(sims)[-k:].mean()
        # Keep each right segment's k best: replace the smallest kept value where beaten.
        block = top_right[lo:hi]
        filled = np.where(np.isnan(block), -np.inf, block)
        worst = filled.argmin(axis=1)
        rows = np.arange(hi - lo)
        better = sims > filled[rows, worst]
        block[rows[better], worst[better]] = sims[better]
    rrad = np.array([np.nanmean(r) if not np.all(np.isnan(r)) else 0.0 for r in top_right])
    return lrad, rrad


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


def _take(row: np.ndarray, lo: int, js: np.ndarray) -> np.ndarray:
    """Values of a band row at right positions ``js``; -inf outside the band."""
    idx = js - lo
    valid = (idx >= 0) & (idx < len(row))
    return np.where(valid, row[np.clip(idx, 0, max(0, len(row) - 1))], -np.inf)


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
    # best[i][j - lo_i]: best score of a path that consumed i left and j right segments;
    # back[i][...]: the index in _MOVES of its last move.
    best: list[np.ndarray] = []
    back: list[np.ndarray] = []
    pair_rows: dict[int, tuple[int, np.ndarray]] = {}  # left a -> (first right b, 1-1 scores)
    for i in range(n + 1):
        lo, hi = band[i]
        js = np.arange(lo, hi + 1)
        candidates = np.full((4, len(js)), -np.inf)
        if i == 0:
            candidates[0, js == 0] = 0.0  # the start
        if i >= 1:
            a = i - 1
            ok = js >= 1
            gains = scorer.scores(a, 1, js[ok] - 1, 1)
            pair_rows[a] = (int(js[ok][0]) - 1 if ok.any() else 0, gains)
            candidates[0, ok] = _take(best[a], band[a][0], js[ok] - 1) + gains
            candidates[1] = _take(best[a], band[a][0], js) + skip
            ok = js >= 2
            candidates[3, ok] = _take(best[a], band[a][0], js[ok] - 2) + scorer.scores(a, 1, js[ok] - 2, 2)
        if i >= 2:
            a = i - 2
            ok = js >= 1
            candidates[2, ok] = _take(best[a], band[a][0], js[ok] - 1) + scorer.scores(a, 2, js[ok] - 1, 1)
        move_of = np.array([0, 1, 3, 4], dtype=np.int8)  # rows of candidates -> _MOVES
        choice = candidates.argmax(axis=0)
        base = candidates[choice, np.arange(len(js))]
        # 0-1 moves within the row: best[j] = max over k <= j of base[k] + (j - k) * skip.
        t = base - np.arange(len(js)) * skip
        running = np.maximum.accumulate(t)
        k_best = np.maximum.accumulate(np.where(t >= running, np.arange(len(js)), 0))
        row = base[k_best] + (np.arange(len(js)) - k_best) * skip
        ptr = np.where(k_best == np.arange(len(js)), move_of[choice], 2).astype(np.int8)
        best.append(row)
        back.append(ptr)

    if not np.isfinite(best[n][m - band[n][0]]):  # cannot happen: the band holds both corners
        raise RuntimeError("alignment band does not reach the end")
    groups: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    i, j = n, m
    while i or j:
        di, dj = _MOVES[int(back[i][j - band[i][0]])]
        groups.append((tuple(range(i - di, i)), tuple(range(j - dj, j))))
        i, j = i - di, j - dj
    groups.reverse()
    firsts = np.array([pair_rows[a][0] for a in range(n)])
    ends = firsts + np.array([len(pair_rows[a][1]) for a in range(n)])
    aligned = [AlignedGroup(li, ri, _confidence(li, ri, scorer, pair_rows, (firsts, ends), skip))
               for li, ri in groups]
    if scorer.vectors is None:
        # Without vectors a pair's rivals (lines of similar length) are often as good as it: its
        # confidence says little, and the path is kept as found.
        return aligned
    return _doubtful_pairs_unpaired(aligned, scorer.w["doubtful_pair"])


def _doubtful_pairs_unpaired(groups: list[AlignedGroup], threshold: float) -> list[AlignedGroup]:
    """A 1-1 pair whose confidence is under ``threshold`` split into two unpaired segments: the
    path pairs two segments that match nothing else nearby (a heading on one side, a section
    letter on the other), and showing them in one language each is better than a wrong pair."""
    out: list[AlignedGroup] = []
    for g in groups:
        if len(g.left) == len(g.right) == 1 and g.confidence < threshold:
            out += [AlignedGroup(g.left, (), 1.0 - g.confidence), AlignedGroup((), g.right, 1.0 - g.confidence)]
        else:
            out.append(g)
    return out


def _confidence(li: tuple[int, ...], ri: tuple[int, ...], scorer: _Scorer,
                pair_rows: dict[int, tuple[int, np.ndarray]], spans: tuple[np.ndarray, np.ndarray],
                skip: float) -> float:
    """Sigmoid of how much better the chosen group scores than the best alternative for its segments."""
    def row_of(a: int) -> dict[int, float]:
        first, gains = pair_rows[a]
        return {first + k: float(g) for k, g in enumerate(gains)}

    firsts, ends = spans

    def column_of(b: int) -> dict[int, float]:
        rows = np.nonzero((firsts <= b) & (b < ends))[0]
        return {int(a): float(pair_rows[a][1][b - firsts[a]]) for a in rows}

    if li and ri:
        own = float(scorer.scores(li[0], len(li), np.array([ri[0]]), len(ri))[0])
        if len(li) == 1 and len(ri) == 1:
            a, b = li[0], ri[0]
            rivals = [g for c, g in row_of(a).items() if c != b]
            rivals += [g for c, g in column_of(b).items() if c != a]
            alternative = max([2 * skip, *rivals])
        else:
            # The alternative to a merge: one part paired, the other left alone.
            singles = [float(scorer.scores(a, 1, np.array([b]), 1)[0]) for a in li for b in ri]
            alternative = max(singles) + skip
        return _sigmoid(own - alternative)
    rivals = list(row_of(li[0]).values()) if li else list(column_of(ri[0]).values())
    return _sigmoid(2 * skip - max(rivals, default=2 * skip - 10.0))


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
