"""The default answerer: no LLM. It quotes the best sentences of the top paragraphs in the
question's language, each followed by its citation, and abstains when the evidence is weak or
the paragraph that would answer is still to be completed in the record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.corpus import Corpus
from indexer.lexical import unseen_idf
from indexer.paragraph import Paragraph
from indexer.tokenize import Tokenizer
from qa.citation import marker
from qa.evidence import coverage
from qa.retrieve import Retrieved
from qa.sentences import split_sentences

_ANNEX = re.compile(r"附件\s*\[\s*\]|annex\s*\[\s*\]", re.IGNORECASE)
PARAGRAPH_RANK_BONUS = 0.08
SECOND_SENTENCE_RATIO = 0.75

MESSAGES = {
    "en": {
        "nothing": "The record does not address this question: nothing relevant was found.",
        "weak": "The record does not appear to answer this question: the closest paragraph ({ref}) "
                "covers only {pct}% of its key terms.",
        "pending": "The record has not yet filled in {ref} ({heading}); it cannot answer this yet.",
        "annex": "{ref} refers to an annex that this record does not include; the answer is not in the record.",
    },
    "zh": {
        "nothing": "会议记录中没有与此问题相关的内容。",
        "weak": "会议记录似乎无法回答此问题：最相关的段落（{ref}）仅涵盖问题关键词的 {pct}%。",
        "pending": "会议记录尚未补全{ref}（{heading}），目前无法回答此问题。",
        "annex": "{ref}提到的附件未收入本会议记录，记录中没有答案。",
    },
}


@dataclass(frozen=True)
class Draft:
    """What an answerer produces before it becomes an Answer."""

    text: str
    abstained: bool
    reason: str | None
    quotes: dict[str, str]
    """Cited key -> quoted sentence."""


def message(lang: str, name: str, **values) -> str:
    return MESSAGES.get(lang, MESSAGES["en"])[name].format(**values)


def abstention(lang: str, name: str, **values) -> Draft:
    text = message(lang, name, **values)
    return Draft(text, True, text, {})


def extractive_answer(retrieved: Retrieved, corpus: Corpus, tokenizer: Tokenizer, *, lang: str,
                      paragraphs: int = 3, max_sentences: int = 2, min_evidence: float = 0.5) -> Draft:
    """Pure given its inputs: the same retrieval always gives the same answer."""
    single = len(corpus.record_ids) <= 1
    if not retrieved.keys:
        return abstention(lang, "nothing")
    top = retrieved.keys[0]
    top_paragraph = corpus.in_language(top, lang)
    if top_paragraph.pending and retrieved.evidence.get(top, 0) >= min_evidence / 2:
        return abstention(lang, "pending", ref=marker(top, single_record=single), heading=_heading(top_paragraph))
    best_evidence = max(retrieved.evidence.values(), default=0.0)
    if best_evidence < min_evidence:
        best = max(retrieved.evidence, key=retrieved.evidence.get)
        return abstention(lang, "weak", ref=marker(best, single_record=single), pct=round(best_evidence * 100))

    terms = retrieved.terms.get(lang) or next(iter(retrieved.terms.values()), {})
    lexical_lang = lang if lang in retrieved.terms else next(iter(retrieved.terms), lang)
    idf = retrieved.idf.get(lexical_lang, {})
    unseen = unseen_idf(max(1, len(corpus.keys())))
    candidates: list[tuple[float, int, str, str]] = []
    considered = [k for k in retrieved.keys if retrieved.evidence.get(k, 0) >= min_evidence][:paragraphs]
    for rank, key in enumerate(considered):
        paragraph = corpus.in_language(key, lang)
        if paragraph.pending:
            continue
        for order, sentence in enumerate(split_sentences(paragraph.text, paragraph.lang)):
            score = coverage(terms, tokenizer.tokens(sentence, paragraph.lang), idf, unseen)
            score += PARAGRAPH_RANK_BONUS * (paragraphs - rank) / paragraphs
            candidates.append((score, rank * 1000 + order, key, sentence))
    if not candidates:
        return abstention(lang, "pending", ref=marker(top, single_record=single), heading=_heading(top_paragraph))
    candidates.sort(key=lambda c: -c[0])
    chosen = [candidates[0]]
    for candidate in candidates[1:]:
        if len(chosen) >= max_sentences or candidate[0] < SECOND_SENTENCE_RATIO * chosen[0][0]:
            break
        chosen.append(candidate)
    if len(chosen) == 1 and _ANNEX.search(chosen[0][3]) and len(chosen[0][3]) < 80:
        return abstention(lang, "annex", ref=marker(chosen[0][2], single_record=single))
    chosen.sort(key=lambda c: c[1])  # read in record order
    sep = "" if lang == "zh" else " "
    text = sep.join(f"{sentence} {marker(key, single_record=single)}" for _, _, key, sentence in chosen)
    quotes: dict[str, str] = {}
    for _, _, key, sentence in chosen:
        quotes[key] = f"{quotes[key]} {sentence}" if key in quotes else sentence
    return Draft(text, False, None, quotes)


def _heading(paragraph: Paragraph) -> str:
    return paragraph.section or paragraph.chapter or paragraph.id
