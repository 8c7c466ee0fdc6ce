"""A paragraph in every language, with the sentences an answer relied on marked. Pure."""

from __future__ import annotations

import re

from indexer.catalogue import record_info
from indexer.corpus import Corpus
from indexer.sentences import split_sentences
from qa.language import question_language

_MIN_OVERLAP = 0.5


def _grams(text: str) -> set[str]:
    """Character bigrams of CJK runs and lower-cased Latin words: comparable across quoting styles."""
    text = text.lower()
    words = set(re.findall(r"[a-z0-9]+", text))
    cjk = "".join(re.findall(r"[\u4e00-\u9fff]", text))
    return words | {cjk[i:i + 2] for i in range(len(cjk) - 1)}


def marked_sentences(sentences: list[str], claim: str) -> list[bool]:
    """Which sentences the claim quotes or restates: the best match, and any other sentence
    sharing at least half of its terms with the claim."""
    claim_grams = _grams(claim)
    if not claim_grams or not sentences:
        return [False] * len(sentences)
    scores = []
    for sentence in sentences:
        grams = _grams(sentence)
        scores.append(len(grams & claim_grams) / len(grams) if grams else 0.0)
    best = max(scores)
    return [s >= _MIN_OVERLAP or (s == best and s > 0.2) for s in scores]


def _latin(text: str) -> set[str]:
    """Names, numbers and symbols: the words a Chinese and an English sentence share verbatim."""
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _spans(sentences: list[str]) -> list[tuple[float, float]]:
    """Each sentence's place in its paragraph as a fraction of the paragraph's length."""
    total = sum(len(s) for s in sentences) or 1
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start / total, (start + len(sentence)) / total))
        start += len(sentence)
    return spans


def aligned_marks(source: list[str], marks: list[bool], target: list[str]) -> list[bool]:
    """The target-language sentences that translate the marked source sentences.

    Versions that split into as many sentences are aligned one to one. Otherwise (one version
    joins with semicolons what the other ends with full stops) a target sentence is marked when
    it covers mostly the same stretch of the paragraph as the marked sentences, and the best
    candidate is always marked, its place and the names and numbers it shares with them
    deciding, so the reader still sees where to look."""
    if len(source) == len(target):
        return list(marks)
    if not any(marks) or not target:
        return [False] * len(target)
    marked_spans = [span for span, marked in zip(_spans(source), marks, strict=True) if marked]
    shared_words = set().union(*(_latin(s) for s, marked in zip(source, marks, strict=True) if marked))
    overlaps, scores = [], []
    for (start, end), sentence in zip(_spans(target), target, strict=True):
        covered = sum(max(0.0, min(end, b) - max(start, a)) for a, b in marked_spans)
        overlap = covered / (end - start) if end > start else 0.0
        words = _latin(sentence)
        shared = len(words & shared_words) / len(words) if words else 0.0
        overlaps.append(overlap)
        scores.append(overlap + shared)
    best = max(scores)
    return [o >= _MIN_OVERLAP or (s == best and s > 0) for o, s in zip(overlaps, scores, strict=True)]


def paragraph_view(corpus: Corpus, key: str, highlight: str | None = None) -> dict:
    """JSON for one paragraph: metadata, text per language, and sentences with a ``highlight`` flag.

    The claim is matched in its own language; the other language's matching sentences are found
    by ``aligned_marks``, since sentence ids are not recorded across languages."""
    versions = {lang: corpus.get(key, lang) for lang in corpus.languages}
    versions = {lang: p for lang, p in versions.items() if p is not None}
    first = next(iter(versions.values()))
    split = {lang: split_sentences(p.text, lang) for lang, p in versions.items()}
    marks = {lang: [False] * len(s) for lang, s in split.items()}
    if highlight and highlight.strip():
        claim_lang = question_language(highlight)
        if claim_lang in split:
            marks[claim_lang] = marked_sentences(split[claim_lang], highlight)
            for lang, sentences in split.items():
                if lang != claim_lang:
                    marks[lang] = aligned_marks(split[claim_lang], marks[claim_lang], sentences)
    info = record_info(corpus, first.record)
    return {
        "id": first.id,
        "key": key,
        "record": first.record,
        # The viewer names the record: its title (per language when the versions have their own).
        "symbol": info.symbol,
        "record_title": info.title,
        "record_titles": {lang: record_info(corpus, first.record, lang).title for lang in versions},
        "chapter": first.chapter,
        "section": first.section,
        # Headings differ by language; the viewer shows the one of the interface language.
        "sections": {lang: p.section or p.chapter for lang, p in versions.items()},
        "agenda_item": first.agenda_item,
        "pending": first.pending,
        "missing_annex": first.missing_annex,
        "placeholder": first.placeholder,
        "text": {lang: p.text for lang, p in versions.items()},
        "sentences": {lang: [{"text": s, "highlight": m} for s, m in zip(split[lang], marks[lang], strict=True)]
                      for lang in split},
    }
