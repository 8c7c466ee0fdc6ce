"""Synthetic bilingual records for measuring cost as a collection grows (`make bench-scale`).

Every synthetic record is made of real text: aligned Chinese/English sentence pairs taken from
the shipped record (``data/records/``, aligned by paragraph number, then sentence by sentence
where both versions have as many sentences) and from the shared real documents
(``../shared/records/``: the SDG targets paired by their labels, the other documents' lines
paired where their numbers confirm the pairing). A record is written the way the parser reads a
record today: a header (document symbol, organisation, body, session, date and place, title),
chapter headings (``一、…`` / ``I. …``) and section headings (``A. …``) taken from real headings,
and numbered paragraphs ``N. …``, each about as long (in English characters) as a real paragraph
drawn at random, filled with pairs up to that length. Both language versions use the same pairs
in the same order, so they align by number.

Record ``i`` depends only on the seed and ``i``: a collection of 1,000 records begins with the
collection of 100, so their indexes share text (and cached vectors).

    python -m eval.synthetic_records --out DIR --records 10 [--paragraphs 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer.corpus import load_corpus
from indexer.record import detect_language
from indexer.sentences import split_sentences

ROOT = Path(__file__).resolve().parents[1]
SEED_RECORDS = ROOT / "data" / "records"
SHARED_RECORDS = ROOT.parent / "shared" / "records"
LANGS = ("zh", "en")

_LABEL = re.compile(r"^(\d{1,2}\.(?:\d{1,2}|[a-z])?)\s+(.+)$")
"""An SDG line: goal ``1.`` or target ``1.1`` / ``1.a``, then its text."""
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
_LEADING_MARKER = re.compile(r"^(?:\d{1,3}\.(?:\d+|[a-z])?|\([a-z]{1,4}\)|[-•·–*])\s*")
_HEADING_NUMERAL = re.compile(r"^(?:[一二三四五六七八九十]+、|[IVXLC]+\.\s|[A-Z]\.\s)\s*")
_MONTHS = ("January February March April May June July August September October November December").split()
_ZH_DIGITS = "〇一二三四五六七八九"
_ZH_ENDS = tuple("。！？；")
_EN_ENDS = tuple(".!?;")
_OPEN_ENDS = "：:，,、 "
_EN_START = re.compile(r"[A-Z(\"“‘'0-9\[]")
"""What the sentence splitter takes as the start of an English sentence (mastheads' ``<<…>>`` are not)."""
# How far (in lines) the two versions of a shared document drift apart near headers and footnotes.
_MAX_DRIFT = 3


@dataclass(frozen=True)
class Pair:
    zh: str
    en: str


@dataclass(frozen=True)
class SentencePool:
    """What synthetic records are made of: aligned sentence pairs, aligned heading titles, the
    real paragraphs' lengths (English characters) and the seed record's header fields."""

    sentences: tuple[Pair, ...]
    chapters: tuple[Pair, ...]
    sections: tuple[Pair, ...]
    paragraph_lengths: tuple[int, ...]
    header: dict[str, Pair]


def load_pool(seed_records: Path = SEED_RECORDS, shared_records: Path | None = SHARED_RECORDS) -> SentencePool:
    """The pool from the real records: the seed records (parsed by the project's parser) and, when
    the folder exists, the shared documents (read line by line: the parser need not read them)."""
    corpus = load_corpus([seed_records])
    sentences: list[Pair] = []
    chapters: dict[str, Pair] = {}
    sections: dict[str, Pair] = {}
    counts: list[int] = []
    header: dict[str, Pair] = {}
    for record_id in corpus.record_ids:
        versions = corpus.versions(record_id)
        if not all(lang in versions for lang in LANGS):
            continue
        zh, en = versions["zh"], versions["en"]
        for field in ("organization", "body", "place"):
            if getattr(zh.meta, field) and getattr(en.meta, field) and field not in header:
                header[field] = Pair(getattr(zh.meta, field), getattr(en.meta, field))
        for pz, pe in zip(zh.paragraphs, en.paragraphs, strict=True):
            zs, es = split_sentences(pz.text, "zh"), split_sentences(pe.text, "en")
            counts.append(len(pe.text))
            sentences.extend(_pairs(zs, es, pz.text, pe.text))
            for kind, table in (("chapter", chapters), ("section", sections)):
                hz, he = getattr(pz, kind), getattr(pe, kind)
                if hz and he:
                    table.setdefault(he, Pair(_title(hz), _title(he)))
    if shared_records is not None and shared_records.is_dir():
        for folder in sorted(p for p in shared_records.iterdir() if p.is_dir()):
            files = {lang: folder / f"{lang}.txt" for lang in LANGS}
            if not all(f.exists() for f in files.values()):
                continue
            zh_lines, en_lines = (_lines(files[lang]) for lang in LANGS)
            for line_pair in _paired_lines(zh_lines, en_lines):
                zs, es = split_sentences(line_pair.zh, "zh"), split_sentences(line_pair.en, "en")
                counts.append(len(line_pair.en))
                sentences.extend(_pairs(zs, es, line_pair.zh, line_pair.en))
    usable = tuple(dict.fromkeys(p for p in (_clean(p) for p in sentences) if p is not None))
    if not usable or not chapters:
        raise ValueError(f"no aligned zh/en text with headings found in {seed_records}")
    return SentencePool(usable, tuple(chapters.values()), tuple(sections.values()) or tuple(chapters.values()),
                        tuple(counts), header)


def _pairs(zs: list[str], es: list[str], zh_text: str, en_text: str) -> list[Pair]:
    """Sentence pairs when both versions cut into as many sentences, else the whole text as one unit."""
    if len(zs) == len(es):
        return [Pair(z, e) for z, e in zip(zs, es, strict=True)]
    return [Pair(" ".join(zh_text.split("\n")), " ".join(en_text.split("\n")))]


def _clean(pair: Pair) -> Pair | None:
    """One line each, without a leading list marker (a line ``3. …`` would read as a paragraph
    number); None for fragments too short to stand as a sentence."""
    zh = _LEADING_MARKER.sub("", " ".join(pair.zh.split())).strip()
    en = _LEADING_MARKER.sub("", " ".join(pair.en.split())).strip()
    if len(zh) < 6 or len(en) < 12 or detect_language(zh) != "zh" or detect_language(en) != "en" \
            or not _EN_START.match(en):
        return None
    # Each pair ends a sentence, so the splitter cuts a synthetic paragraph back into the pool's
    # sentences: the distinct sentences (what the index embeds one by one) stay those of the pool.
    zh = zh if zh.endswith(_ZH_ENDS) else zh.rstrip(_OPEN_ENDS) + "。"
    en = en if en.endswith(_EN_ENDS) else en.rstrip(_OPEN_ENDS) + "."
    return Pair(zh, en)


def _title(heading: str) -> str:
    return _HEADING_NUMERAL.sub("", heading).strip()


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _numbers(text: str) -> tuple[str, ...]:
    return tuple(sorted(n.replace(",", "") for n in _NUMBERS.findall(text)))


def _paired_lines(zh: list[str], en: list[str]) -> Iterable[Pair]:
    """Lines of two versions of one document that are each other's translation.

    Labelled lines (``1.1``, ``1.a``) pair by label. Other lines pair by position up to a small
    drift: a line is anchored when a line of the other version within the drift carries the same
    non-empty set of numbers; an unanchored line pairs only when the anchors before and after it
    agree on the drift (so the pairing between them is not in doubt)."""
    zh_labels = {m.group(1): m.group(2) for line in zh if (m := _LABEL.match(line))}
    en_labels = {m.group(1): m.group(2) for line in en if (m := _LABEL.match(line))}
    shared = [label for label in zh_labels if label in en_labels]
    if len(shared) >= max(3, len(zh) // 2):
        yield from (Pair(zh_labels[label], en_labels[label]) for label in shared)
        return
    anchors: dict[int, int] = {}
    for i, line in enumerate(zh):
        numbers = _numbers(line)
        if not numbers:
            continue
        matches = [d for d in range(-_MAX_DRIFT, _MAX_DRIFT + 1)
                   if 0 <= i + d < len(en) and _numbers(en[i + d]) == numbers]
        if len(matches) == 1:
            anchors[i] = matches[0]
    points = sorted(anchors)
    for i in range(len(zh)):
        if i in anchors:
            drift = anchors[i]
        else:
            before = [p for p in points if p < i]
            after = [p for p in points if p > i]
            if not before or not after or anchors[before[-1]] != anchors[after[0]]:
                continue
            drift = anchors[before[-1]]
        if 0 <= i + drift < len(en) and 1.0 <= len(en[i + drift]) / max(len(zh[i]), 1) <= 5.0:
            yield Pair(zh[i], en[i + drift])


def _zh_number(n: int) -> str:
    """Chapter numerals as the parser reads them (一 … 十, 十一 …, 二十 …)."""
    if n <= 10:
        return "十" if n == 10 else _ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[ones] if ones else "")


def _roman(n: int) -> str:
    out = ""
    for value, digits in ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + digits, n - value
    return out


def record_id(index: int) -> str:
    return f"SYN-{index + 1:05d}"


def document_symbol(index: int) -> str:
    return f"SYN/{2000 + index % 25}/{index + 1}"


def synthetic_record(index: int, pool: SentencePool, *, paragraphs: int = 100, seed: int = 0) -> dict[str, str]:
    """The zh and en text of synthetic record ``index`` (0-based): ``paragraphs`` numbered paragraphs
    under chapter and section headings. Deterministic for (seed, index)."""
    rng = random.Random(f"recordqa-synthetic:{seed}:{index}")
    year, month, day = 2000 + index % 25, 1 + index % 12, 1 + index % 24
    place = pool.header.get("place", Pair("", ""))
    lines: dict[str, list[str]] = {
        "zh": [document_symbol(index), pool.header.get("organization", Pair("", "")).zh,
               pool.header.get("body", Pair("", "")).zh, f"第{index % 40 + 1}届会议", "",
               f"{year}年{month}月{day}日至{day + 4}日，{place.zh}", "",
               f"合成记录 {record_id(index)}（RecordQA 规模基准）", ""],
        "en": [document_symbol(index), pool.header.get("organization", Pair("", "")).en,
               pool.header.get("body", Pair("", "")).en, f"{_ordinal(index % 40 + 1)} session", "",
               f"{place.en}, {day}-{day + 4} {_MONTHS[month - 1]} {year}", "",
               f"Synthetic record {record_id(index)} (RecordQA scale benchmark)", ""],
    }
    # Chapters of 10-30 paragraphs; half of them cut into sections of 4-12.
    number, chapter = 1, 0
    while number <= paragraphs:
        chapter += 1
        size = min(rng.randint(10, 30), paragraphs - number + 1)
        title = rng.choice(pool.chapters)
        lines["zh"] += [f"{_zh_number(chapter)}、{title.zh}", ""]
        lines["en"] += [f"{_roman(chapter)}. {title.en}", ""]
        cuts = _section_sizes(rng, size) if rng.random() < 0.5 else [size]
        for s, section_size in enumerate(cuts):
            if len(cuts) > 1:
                heading = rng.choice(pool.sections)
                letter = chr(ord("A") + s)
                lines["zh"] += [f"{letter}. {heading.zh}", ""]
                lines["en"] += [f"{letter}. {heading.en}", ""]
            for _ in range(section_size):
                target, chosen, length = rng.choice(pool.paragraph_lengths), [], 0
                while True:  # add pairs while that brings the paragraph closer to its target length
                    pair = rng.choice(pool.sentences)
                    if chosen and abs(length + len(pair.en) + 1 - target) >= abs(length - target):
                        break
                    chosen.append(pair)
                    length += len(pair.en) + 1
                lines["zh"] += [f"{number}. " + "".join(p.zh for p in chosen), ""]
                lines["en"] += [f"{number}. " + " ".join(p.en for p in chosen), ""]
                number += 1
    return {lang: "\n".join(lines[lang]).rstrip() + "\n" for lang in LANGS}


def _section_sizes(rng: random.Random, size: int) -> list[int]:
    sizes = []
    left = size
    while left > 0 and len(sizes) < 8:
        take = min(rng.randint(4, 12), left)
        sizes.append(take)
        left -= take
    if left:
        sizes[-1] += left
    return sizes


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def write_collection(out: Path, *, records: int, paragraphs: int = 100, seed: int = 0,
                     pool: SentencePool | None = None, start: int = 0) -> list[Path]:
    """Write records ``start`` .. ``start + records - 1`` as folders ``out/SYN-00001/{zh,en}.txt``;
    returns the folders. A file already holding the same text is left untouched (its mtime too)."""
    pool = pool or load_pool()
    folders = []
    for index in range(start, start + records):
        folder = out / record_id(index)
        folder.mkdir(parents=True, exist_ok=True)
        for lang, text in synthetic_record(index, pool, paragraphs=paragraphs, seed=seed).items():
            path = folder / f"{lang}.txt"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.synthetic_records", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the record folders into")
    parser.add_argument("--records", type=int, default=10, help="how many records (default 10)")
    parser.add_argument("--paragraphs", type=int, default=100, help="paragraphs per record (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    args = parser.parse_args(argv)
    pool = load_pool()
    write_collection(args.out, records=args.records, paragraphs=args.paragraphs, seed=args.seed, pool=pool)
    print(f"wrote {args.records} records of {args.paragraphs} paragraphs (zh and en) to {args.out} "
          f"from {len(pool.sentences)} aligned sentence pairs")


if __name__ == "__main__":
    main()
