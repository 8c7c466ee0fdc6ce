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
from qa.question_type import PLACEHOLDER, expected_answer, holds
from qa.retrieve import Retrieved
from qa.sentences import split_sentences

_ANNEX = re.compile(r"附件\s*\[\s*\]|annex\s*\[\s*\]", re.IGNORECASE)
PARAGRAPH_RANK_BONUS = 0.08
ANSWER_KIND_BONUS = 0.25
# A further sentence must add at least this share of the question's terms not yet covered.
MIN_GAIN = 0.2
WHAT = {
    "en": {"count": "a number", "date": "a date", "person": "a name"},
    "zh": {"count": "具体数字", "date": "具体日期", "person": "具体姓名"},
}

MESSAGES = {
    "en": {
        "nothing": "The record does not address this question: nothing relevant was found.",
        "weak": "The record does not appear to answer this question: the closest paragraph ({ref}) "
                "covers only {pct}% of its key terms.",
        "pending": "The record has not yet filled in {ref} ({heading}); it cannot answer this yet.",
        "annex": "{ref} refers to an annex that this record does not include; the answer is not in the record.",
        "slot": "The record does not state this: the closest passage ({ref}) does not give {what}.",
        "placeholder": "The record has not yet filled this in: {ref} shows only a placeholder (XX).",
    },
    "zh": {
        "nothing": "会议记录中没有与此问题相关的内容。",
        "weak": "会议记录似乎无法回答此问题：最相关的段落（{ref}）仅涵盖问题关键词的 {pct}%。",
        "pending": "会议记录尚未补全{ref}（{heading}），目前无法回答此问题。",
        "annex": "{ref}提到的附件未收入本会议记录，记录中没有答案。",
        "slot": "会议记录没有说明这一点：最相关的段落（{ref}）没有给出{what}。",
        "placeholder": "会议记录尚未补全这一信息：{ref}中只有占位符（XX）。",
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


def extractive_answer(question: str, retrieved: Retrieved, corpus: Corpus, tokenizer: Tokenizer, *, lang: str,
                      paragraphs: int = 3, max_sentences: int = 2, min_evidence: float = 0.5) -> Draft:
    """Pure given its inputs: the same retrieval always gives the same answer."""
    single = len(corpus.record_ids) <= 1
    if not retrieved.keys:
        return abstention(lang, "nothing")
    top = retrieved.keys[0]
    top_paragraph = corpus.in_language(top, lang)
    pending = _pending_match(retrieved, corpus, lang, min_evidence)
    if pending is not None:
        paragraph = corpus.in_language(pending, lang)
        return abstention(lang, "pending", ref=marker(pending, single_record=single), heading=_heading(paragraph))
    best_evidence = max(retrieved.evidence.values(), default=0.0)
    if best_evidence < min_evidence:
        best = max(retrieved.evidence, key=retrieved.evidence.get)
        return abstention(lang, "weak", ref=marker(best, single_record=single), pct=round(best_evidence * 100))

    terms = retrieved.terms.get(lang) or next(iter(retrieved.terms.values()), {})
    lexical_lang = lang if lang in retrieved.terms else next(iter(retrieved.terms), lang)
    idf = retrieved.idf.get(lexical_lang, {})
    unseen = unseen_idf(max(1, len(corpus.keys())))
    kind = expected_answer(question, lang)
    candidates: list[_Sentence] = []
    considered = [k for k in retrieved.keys if retrieved.evidence.get(k, 0) >= min_evidence][:paragraphs]
    for rank, key in enumerate(considered):
        paragraph = corpus.in_language(key, lang)
        if paragraph.pending:
            continue
        for order, sentence in enumerate(split_sentences(paragraph.text, paragraph.lang)):
            tokens = set(tokenizer.tokens(sentence, paragraph.lang))
            bonus = PARAGRAPH_RANK_BONUS * (paragraphs - rank) / paragraphs
            candidates.append(_Sentence(key, rank * 1000 + order, sentence, tokens, bonus, holds(sentence, kind)))
    if not candidates:
        return abstention(lang, "pending", ref=marker(top, single_record=single), heading=_heading(top_paragraph))

    chosen = _select(candidates, terms, idf, unseen, max_sentences, kind)
    if kind and not any(c.has_kind for c in chosen):
        if kind == "person" and any(PLACEHOLDER.search(c.text) for c in chosen):
            return abstention(lang, "placeholder", ref=marker(chosen[0].key, single_record=single))
        return abstention(lang, "slot", ref=marker(chosen[0].key, single_record=single),
                          what=WHAT.get(lang, WHAT["en"])[kind])
    if len(chosen) == 1 and _ANNEX.search(chosen[0].text) and len(chosen[0].text) < 80:
        return abstention(lang, "annex", ref=marker(chosen[0].key, single_record=single))
    chosen.sort(key=lambda c: c.order)  # read in record order
    sep = "" if lang == "zh" else " "
    text = sep.join(f"{c.text} {marker(c.key, single_record=single)}" for c in chosen)
    quotes: dict[str, str] = {}
    for c in chosen:
        quotes[c.key] = f"{quotes[c.key]} {c.text}" if c.key in quotes else c.text
    return Draft(text, False, None, quotes)


@dataclass(frozen=True)
class _Sentence:
    key: str
    order: int
    text: str
    tokens: set[str]
    bonus: float
    has_kind: bool


def _select(candidates: list[_Sentence], terms: dict[str, float], idf: dict[str, float], unseen: float,
            limit: int, kind: str | None) -> list[_Sentence]:
    """Greedy cover: the best sentence, then sentences that add question terms not yet covered."""
    chosen: list[_Sentence] = []
    remaining = dict(terms)
    total = max(1e-9, sum(w * idf.get(t, unseen) for t, w in terms.items()))

    def gain(c: _Sentence, remaining: dict[str, float], chosen: list[_Sentence]) -> float:
        covered = sum(w * idf.get(t, unseen) for t, w in remaining.items() if t in c.tokens)
        kind_bonus = ANSWER_KIND_BONUS if kind and c.has_kind and not any(x.has_kind for x in chosen) else 0
        return covered / total + c.bonus + kind_bonus

    while len(chosen) < limit:
        pool = [c for c in candidates if c not in chosen]
        if not pool:
            break
        best = max(pool, key=lambda c: (gain(c, remaining, chosen), -c.order))
        if chosen and gain(best, remaining, chosen) - best.bonus < MIN_GAIN:
            break
        chosen.append(best)
        remaining = {t: w for t, w in remaining.items() if t not in best.tokens}
    return chosen


def _pending_match(retrieved: Retrieved, corpus: Corpus, lang: str, min_evidence: float) -> str | None:
    """A to-be-completed paragraph among the top two that matches the question at least as well as
    the best paragraph with content: the answer would be in the part the record has not filled in."""
    evidence = retrieved.evidence
    best_filled = max((evidence.get(k, 0) for k in retrieved.keys if not corpus.in_language(k, lang).pending),
                      default=0.0)
    for key in retrieved.keys[:2]:
        if corpus.in_language(key, lang).pending and evidence.get(key, 0) >= max(min_evidence / 2, best_filled):
            return key
    return None


def _heading(paragraph: Paragraph) -> str:
    return paragraph.section or paragraph.chapter or paragraph.id
