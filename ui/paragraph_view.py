"""A paragraph in every language, with the sentences an answer relied on marked. Pure."""

from __future__ import annotations

import re

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


def paragraph_view(corpus: Corpus, key: str, highlight: str | None = None) -> dict:
    """JSON for one paragraph: metadata, text per language, and sentences with a ``highlight`` flag.

    The claim is matched in its own language; the other language's sentence with the same
    position is marked too when both versions split into the same number of sentences (an
    aligned translation), since sentence ids are not recorded across languages."""
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
                if lang != claim_lang and len(sentences) == len(split[claim_lang]):
                    marks[lang] = list(marks[claim_lang])
    return {
        "id": first.id,
        "key": key,
        "record": first.record,
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
