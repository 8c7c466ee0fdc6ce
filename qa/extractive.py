"""The default answerer: no LLM. It quotes the best sentences of the top paragraphs in the
question's language, each followed by its citation, and abstains when the evidence is weak or
the paragraph that would answer is still to be completed in the record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.corpus import Corpus
from indexer.lexical import unseen_idf
from indexer.paragraph import Paragraph
from indexer.sentences import split_sentences
from indexer.tokenize import Tokenizer
from qa.citation import marker
from qa.evidence import coverage, term_idf
from qa.question_type import (
    PLACEHOLDER,
    VOTE_TALLY,
    WITHOUT_VOTE,
    Anchor,
    agenda_reference,
    answer_type_words,
    asks_vote_count,
    countries_in,
    expected_answer,
    holds,
    names_someone,
    outcome_terms,
    question_anchors,
    question_focus,
)
from qa.retrieve import Retrieved

_ANNEX = re.compile(r"附件\s*\[\s*\]|annex\s*\[\s*\]", re.IGNORECASE)
PARAGRAPH_RANK_BONUS = 0.08
# A paragraph this short that mentions an empty annex is only a pointer to it.
ANNEX_POINTER_CHARS = 120
# When the question names something (a country, a person), a lower-ranked paragraph that names it
# may answer; this many retrieved paragraphs are searched for the one that best matches the rest.
ANCHOR_SEARCH_RANKS = 10
# A paragraph that names what the question names must match the rest of the question at least
# this share as well as the paragraph that matches the rest best ("What did Brazil say in the
# general debate?": the debate paragraph does not name Brazil, the list naming Brazil is no debate).
TOPIC_SHARE = 0.5
ANSWER_KIND_BONUS = 0.25
# A list of speakers or members answers who, which country and how many; for other questions its
# entries only share the names with the question.
ROLL_ANSWERS = frozenset({"person", "country", "count", "ordinal"})
ROLL_ITEMS = 4
ROLL_SHARE = 0.75
# An enumeration's first item opens with one of these ("First, …", "首先，…").
_ENUMERATION_START = re.compile(r"\s*(?:first(?:ly)?\b|首先|第一[，,、]|一是|\(a\)|（a）|\(i\)|-\s)", re.IGNORECASE)
# A sentence is read in its paragraph: one from a paragraph that covers the question as a whole
# beats one elsewhere that only shares a few words with it.
PARAGRAPH_EVIDENCE_WEIGHT = 0.3
# A speaker is named in the first paragraph of a statement; the next ones say "she" or "he".
SPEECH_LOOKBACK = 2
_AGENDA_QUESTION = re.compile(r"\bagenda\b|\bitems?\s+\d|议程", re.IGNORECASE)
_LIST_LINE = re.compile(r"(?m)^\s*\d{1,3}\.\s")
# A further sentence must add at least this share of the question's terms not yet covered.
MIN_GAIN = 0.1
WHAT = {
    "en": {"count": "a number", "ordinal": "which meeting or which one", "date": "a date", "person": "a name",
           "country": "a country", "reference": "a rule, resolution, document symbol or title",
           "reason": "a reason"},
    "zh": {"count": "具体数字", "ordinal": "具体的次序（第几次）", "date": "具体日期", "person": "具体姓名",
           "country": "具体国家", "reference": "具体的规则、决议、文号或名称", "reason": "原因"},
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
        "unmentioned": "The record does not say this: the closest passage ({ref}) does not mention {what}.",
        "absent": "The record does not mention {what} anywhere.",
        "no_vote": "The record reports no vote count: {ref} records the decision as taken {how}, without a vote.",
        "no_tally": "The record reports no vote count for this; the closest passage is {ref}.",
        "outcome": "The record does not state this outcome: the closest passage ({ref}) does not report it.",
    },
    "zh": {
        "nothing": "会议记录中没有与此问题相关的内容。",
        "weak": "会议记录似乎无法回答此问题：最相关的段落（{ref}）仅涵盖问题关键词的 {pct}%。",
        "pending": "会议记录尚未补全{ref}（{heading}），目前无法回答此问题。",
        "annex": "{ref}提到的附件未收入本会议记录，记录中没有答案。",
        "slot": "会议记录没有说明这一点：最相关的段落（{ref}）没有给出{what}。",
        "placeholder": "会议记录尚未补全这一信息：{ref}中只有占位符（XX）。",
        "unmentioned": "会议记录没有说明这一点：最相关的段落（{ref}）没有提到{what}。",
        "absent": "会议记录中没有提到{what}。",
        "no_vote": "会议记录没有报告任何计票结果：{ref}记载该事项是以{how}决定的，并未进行表决。",
        "no_tally": "会议记录没有报告这方面的计票结果；最相关的段落是{ref}。",
        "outcome": "会议记录没有说明这一结果：最相关的段落（{ref}）没有报告该结果。",
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
    pending = _pending_match(retrieved, corpus, lang, min_evidence)
    if pending is not None:
        paragraph = corpus.in_language(pending, lang)
        return abstention(lang, "pending", ref=marker(pending, single_record=single), heading=_heading(paragraph))
    top_paragraph = corpus.in_language(top, lang)
    if _ANNEX.search(top_paragraph.text) and len(top_paragraph.text) < ANNEX_POINTER_CHARS \
            and retrieved.evidence.get(top, 0) >= min_evidence / 2:
        # The best match only points to an annex the record does not include.
        return abstention(lang, "annex", ref=marker(top, single_record=single))
    anchors = question_anchors(question, lang)
    everywhere = _record_text(corpus)
    absent = [a for a in anchors if not a.found_in(everywhere)]
    anchors = [a for a in anchors if a.kind != "word"]
    if absent:
        # Something the question names (a country, a person, a number) is nowhere in the record.
        what = ("、" if lang == "zh" else ", ").join(a.shown(lang) for a in absent)
        return abstention(lang, "absent", what=what if lang == "zh" else f"“{what}”")
    best_evidence = max(retrieved.evidence.values(), default=0.0)
    if best_evidence < min_evidence:
        best = max(retrieved.evidence, key=retrieved.evidence.get)
        return abstention(lang, "weak", ref=marker(best, single_record=single), pct=round(best_evidence * 100))

    terms = retrieved.terms.get(lang) or next(iter(retrieved.terms.values()), {})
    lexical_lang = lang if lang in retrieved.terms else next(iter(retrieved.terms), lang)
    idf = retrieved.idf.get(lexical_lang, {})
    kind = expected_answer(question, lang)
    named = " ".join(form for a in anchors for form in (a.label, *a.forms))
    idf = term_idf(terms, idf, unseen_idf(max(1, len(corpus.keys()))), tokenizer.tokens(named, lang))
    unseen = 0.0  # every question term has its weight in idf
    reading = list(retrieved.keys)
    if kind not in ROLL_ANSWERS:
        # A roll of speakers or members names who spoke, not what they said: the paragraphs with
        # the statements come first.
        rolls = [k for k in reading if _is_roll(corpus.in_language(k, lang).text)]
        reading = [k for k in reading if k not in rolls] + rolls
    considered = [k for k in reading if retrieved.evidence.get(k, 0) >= min_evidence][:paragraphs]
    reference = agenda_reference(question)
    if reference is not None and not reference[1]:
        # "What was decided under agenda item 2?": the answer is under that item.
        item = str(reference[0])
        under = [k for k in retrieved.keys if corpus.in_language(k, lang).agenda_item == item]
        if any(not corpus.in_language(k, lang).pending for k in under):
            considered = under[:paragraphs]
    missing = {k: _missing_anchors(anchors, k, corpus) for k in retrieved.keys}
    if anchors and all(missing[k] for k in considered):
        # The paragraphs that match best do not name what the question names; one ranked a little
        # lower that does, and still matches, is worth reading.
        naming = [k for k in retrieved.keys[:ANCHOR_SEARCH_RANKS] if k not in considered and not missing[k]
                  and retrieved.evidence.get(k, 0) >= min_evidence / 2]
        if naming:
            # Of those, the one that best matches the rest of the question ("How did Mr. Kenyatta
            # characterize progress…": his statement's paragraph on progress, not his first one).
            topic = _topic_terms(terms, question, lang, anchors, tokenizer)
            fit = {k: coverage(topic, tokenizer.tokens(_own_text(k, corpus, lang), lang), idf, unseen)
                   for k in naming}
            naming = sorted(naming, key=lambda k: -fit[k])
        considered += naming[:1]
    if asks_vote_count(question, lang):
        refused = _no_vote_count(considered, corpus, lang, single)
        if refused is not None:
            return refused
    agenda_question = bool(_AGENDA_QUESTION.search(question))
    candidates: list[_Sentence] = []
    for rank, key in enumerate(considered):
        paragraph = corpus.in_language(key, lang)
        if paragraph.pending:
            continue
        agenda_list = len(_LIST_LINE.findall(paragraph.text)) >= 3
        bonus = PARAGRAPH_RANK_BONUS * max(0, paragraphs - rank) / paragraphs \
            + PARAGRAPH_EVIDENCE_WEIGHT * retrieved.evidence.get(key, 0.0)
        for order, sentence in enumerate(split_sentences(paragraph.text, paragraph.lang)):
            if agenda_list and not agenda_question and _LIST_LINE.match(sentence):
                continue  # an agenda title names a subject; it says nothing about it
            tokens = set(tokenizer.tokens(sentence, paragraph.lang))
            candidates.append(_Sentence(key, rank * 1000 + order, sentence, tokens, bonus,
                                        holds(sentence, kind, question)))
    if not candidates:
        pending = next((k for k in considered if corpus.in_language(k, lang).pending), top)
        return abstention(lang, "pending", ref=marker(pending, single_record=single),
                          heading=_heading(corpus.in_language(pending, lang)))

    if anchors:
        # Only passages that mention what the question names (a person, a country, a number) can
        # answer it, and only if they are also about what the question asks of it.
        named = [c for c in candidates if not missing[c.key]]
        if not named:
            lead = _select(candidates, terms, idf, unseen, 1, kind)[0]
            return _unmentioned(missing[lead.key], lead.key, corpus, lang, single)
        if len(named) < len(candidates) and any(a.kind in ("country", "name") for a in anchors):
            topic = _topic_terms(terms, question, lang, anchors, tokenizer)
            if topic:
                keys = list(dict.fromkeys(c.key for c in candidates))
                fit = {k: coverage(topic, tokenizer.tokens(_own_text(k, corpus, lang), lang), idf, unseen)
                       for k in keys}
                best = max(keys, key=lambda k: fit[k])
                if max(fit[c.key] for c in named) < TOPIC_SHARE * fit[best]:
                    return _unmentioned(missing[best], best, corpus, lang, single)
        candidates = named
    chosen = _select(candidates, terms, idf, unseen, max_sentences, kind)
    focus = question_focus(question, lang) if not kind else ""
    head = [t for t in tokenizer.tokens(focus, lang) if t in terms][-1:]
    if head and head[0] not in retrieved.idf.get(lexical_lang, {}) and not any(head[0] in c.tokens for c in chosen):
        # "What was the weather like in Nairobi?": what is asked for is a word the record never
        # uses, and sentences that only share the other words (Nairobi, the session) do not answer.
        return _unmentioned([Anchor(focus, (focus,), "word")], chosen[0].key, corpus, lang, single)
    outcome = outcome_terms(question, lang, tokenizer)
    if outcome and not outcome & chosen[0].tokens:
        # "Did the Assembly finally approve the plan?": a passage that mentions the plan but not
        # its approval does not answer.
        return abstention(lang, "outcome", ref=marker(chosen[0].key, single_record=single))
    if kind and not chosen[0].has_kind and PLACEHOLDER.search(chosen[0].text):
        # The passage that matches best has only a placeholder (XX) where the answer would be.
        return abstention(lang, "placeholder", ref=marker(chosen[0].key, single_record=single))
    if kind and not any(c.has_kind for c in chosen):
        if any(PLACEHOLDER.search(c.text) for c in chosen):
            return abstention(lang, "placeholder", ref=marker(chosen[0].key, single_record=single))
        return abstention(lang, "slot", ref=marker(chosen[0].key, single_record=single),
                          what=WHAT.get(lang, WHAT["en"])[kind])
    if kind:
        holder = next(c for c in chosen if c.has_kind)
        names = [a for a in anchors if a.kind == "name"]
        # "Which country is X from?": the country has to be stated with X, not elsewhere in the passage.
        unrelated = kind == "country" and any(not a.found_in(holder.text) for a in names)
        # Nor from a sentence about someone else ("How old is X?" answered by "Y's week-long activity").
        unrelated = unrelated or bool(names and names_someone(holder.text)
                                      and not any(a.found_in(holder.text) for a in names))
        # The answer comes from the part of the record the question is about, not another section.
        elsewhere = not _same_section(holder.key, chosen[0].key, corpus, lang)
        if unrelated or elsewhere:
            return abstention(lang, "slot", ref=marker(chosen[0].key, single_record=single),
                              what=WHAT.get(lang, WHAT["en"])[kind])
    pointer = next((c for c in chosen if _ANNEX.search(c.text)), None)
    if pointer is not None:
        # A sentence chosen for the question's terms says the matter is set out in an annex the
        # record lacks ("the summary … is contained in annex []").
        return abstention(lang, "annex", ref=marker(pointer.key, single_record=single))
    chosen = _with_first_items(chosen, candidates)
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

    def cover(c: _Sentence, wanted: dict[str, float]) -> float:
        return sum(w * idf.get(t, unseen) for t, w in wanted.items() if t in c.tokens) / total

    def gain(c: _Sentence, remaining: dict[str, float], chosen: list[_Sentence]) -> float:
        if kind and c.has_kind and not any(x.has_kind for x in chosen):
            # The first sentence holding the answer is judged by how well it matches the whole
            # question, not only the terms earlier sentences left over.
            return max(cover(c, remaining), cover(c, terms) / 2) + c.bonus + ANSWER_KIND_BONUS
        return cover(c, remaining) + c.bonus

    while len(chosen) < limit:
        pool = [c for c in candidates if c not in chosen]
        if kind and chosen and not any(x.has_kind for x in chosen):
            # The lead sentence matches the question but holds no answer of the kind asked for:
            # the next sentence is one that does, if any.
            pool = [c for c in pool if c.has_kind] or pool
        if not pool:
            break
        # Equal gains: the sentence more about the whole question first, then the earlier one.
        best = max(pool, key=lambda c: (round(gain(c, remaining, chosen), 9), cover(c, terms), -c.order))
        if chosen and gain(best, remaining, chosen) - best.bonus < MIN_GAIN:
            break
        chosen.append(best)
        remaining = {t: w for t, w in remaining.items() if t not in best.tokens}
    return chosen


def _with_first_items(chosen: list[_Sentence], candidates: list[_Sentence]) -> list[_Sentence]:
    """A chosen sentence that announces an enumeration ("She identified three opportunities.",
    "…as follows:") is followed by the enumeration's first item: the announcement alone names none."""
    by_order = {c.order: c for c in candidates}
    extra = []
    for c in chosen:
        following = by_order.get(c.order + 1)
        if following is None or following in chosen or following in extra:
            continue
        if _ENUMERATION_START.match(following.text) or re.search(r"[:：]\s*$", c.text):
            extra.append(following)
    return chosen + extra


def _is_roll(text: str) -> bool:
    """A paragraph that is a list of people or countries (\"statements were delivered by Ms. A; Mr. B;
    …\"): at least ROLL_ITEMS items separated by semicolons, nearly all naming someone."""
    items = [item for item in re.split(r"[;；]", text) if item.strip()]
    named = sum(1 for item in items if names_someone(item) or countries_in(item))
    return len(items) >= ROLL_ITEMS and named >= ROLL_SHARE * len(items)


def _topic_terms(terms: dict[str, float], question: str, lang: str, anchors: list[Anchor],
                 tokenizer: Tokenizer) -> dict[str, float]:
    """The question's terms other than what it names and the words that ask for the kind of answer."""
    named = " ".join(form for a in anchors for form in (a.label, *a.forms))
    drop = set(tokenizer.tokens(named, lang)) | set(tokenizer.tokens(answer_type_words(question, lang), lang))
    return {t: w for t, w in terms.items() if t not in drop}


def _own_text(key: str, corpus: Corpus, lang: str) -> str:
    paragraph = corpus.in_language(key, lang)
    return f"{paragraph.heading}\n{paragraph.text}"


def _pending_match(retrieved: Retrieved, corpus: Corpus, lang: str, min_evidence: float) -> str | None:
    """A to-be-completed paragraph ranked first, or among the top two and matching the question at
    least as well as the best paragraph with content: the answer would be in the part the record
    has not filled in."""
    evidence = retrieved.evidence
    top = retrieved.keys[0]
    if corpus.in_language(top, lang).pending and evidence.get(top, 0) >= min_evidence / 2:
        return top  # ranked first by every run together: the question is about what is not filled in
    best_filled = max((evidence.get(k, 0) for k in retrieved.keys if not corpus.in_language(k, lang).pending),
                      default=0.0)
    for key in retrieved.keys[:2]:
        if corpus.in_language(key, lang).pending and evidence.get(key, 0) >= max(min_evidence / 2, best_filled):
            return key
    return None


def _no_vote_count(considered: list[str], corpus: Corpus, lang: str, single: bool) -> Draft | None:
    """A question that presupposes a counted vote, over passages that report none."""
    texts = {k: corpus.in_language(k, lang).text for k in considered}
    if not texts or any(VOTE_TALLY.search(t) for t in texts.values()):
        return None
    for key, text in texts.items():
        m = WITHOUT_VOTE.search(text)
        if m:
            how = m.group().lower()
            if lang == "en":
                how = "by acclamation" if how == "acclamation" else "by consensus" if how == "consensus" else how
            else:
                how = "鼓掌方式" if how == "鼓掌" else how
            return abstention(lang, "no_vote", ref=marker(key, single_record=single), how=how)
    return abstention(lang, "no_tally", ref=marker(considered[0], single_record=single))


def _context_text(key: str, corpus: Corpus) -> str:
    """A paragraph with its heading in every language, and the paragraphs of the same section
    just before it (where a speaker is named)."""
    record, _, number = key.rpartition(":")
    texts = []
    first = None
    for offset in range(SPEECH_LOOKBACK + 1):
        other = f"{record}:{int(number) - offset}" if number.isdigit() else key
        versions = [corpus.get(other, lang) for lang in corpus.languages]
        versions = [p for p in versions if p is not None]
        if not versions:
            break
        if first is None:
            first = versions[0]
        elif versions[0].section != first.section or versions[0].chapter != first.chapter:
            break
        texts.extend(f"{p.heading}\n{p.text}" for p in versions)
        if not number.isdigit():
            break
    return "\n".join(texts)


def _missing_anchors(anchors: list[Anchor], key: str, corpus: Corpus) -> list[Anchor]:
    if not anchors:
        return []
    text = _context_text(key, corpus)
    return [a for a in anchors if not a.found_in(text)]


def _same_section(key: str, other: str, corpus: Corpus, lang: str) -> bool:
    a, b = corpus.in_language(key, lang), corpus.in_language(other, lang)
    return (a.record, a.chapter, a.section) == (b.record, b.chapter, b.section)


def _record_text(corpus: Corpus) -> str:
    return "\n".join(f"{p.heading}\n{p.text}" for p in corpus.paragraphs())


def _unmentioned(missing: list[Anchor], key: str, corpus: Corpus, lang: str, single: bool) -> Draft:
    what = ("、" if lang == "zh" else ", ").join(a.shown(lang) for a in missing)
    return abstention(lang, "unmentioned", ref=marker(key, single_record=single),
                      what=what if lang == "zh" else f"“{what}”")


def _heading(paragraph: Paragraph) -> str:
    return paragraph.section or paragraph.chapter or paragraph.id

