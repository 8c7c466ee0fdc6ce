"""Answers written by an LLM through LangChain, checked before anyone sees them: the reply must
have the expected shape, its markup and links are removed, its length is capped, citations must
point to retrieved paragraphs, an answer with none left abstains, and the language must be the
question's. Any failure raises LLMFailure, whose message is a fixed notice (upstream error text
goes to the log, never to the user), so the caller can fall back to the extractive answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from indexer.corpus import Corpus
from indexer.sentences import split_sentences
from qa.analysis import QuestionAnalysis
from qa.citation import MARKER, marker, validate
from qa.extractive import Draft
from qa.language import question_language
from qa.language_pack import Packs
from qa.llm_gate import LLMUnavailable
from qa.llm_reply import UnusableReply, message_text, parse_reply
from qa.plain_text import settled_length, strip_markup
from qa.prompt import Prompts
from qa.usage import TokenUsage

if TYPE_CHECKING:  # langchain_core takes a second to import; only type hints need it here
    from langchain_core.prompts import ChatPromptTemplate

log = logging.getLogger("recordqa.llm")

LANGUAGE_NAMES = {"zh": "Chinese (简体中文)", "en": "English"}
_REFUSAL = re.compile(
    r"does not (?:answer|contain|say|address)|not (?:in|stated in) the record|记录(?:中)?(?:没有|未)|无法回答",
    re.IGNORECASE,
)
# A sentence ends at its punctuation, with the markers that follow it.
_SENTENCE_END = re.compile(r"[.!?。！？](?:\s*\[\s*¶[^\[\]\n]{0,60}\])*")
_WORDS = re.compile(r"\w")

NOTICES = {
    "failed": "the language model is unavailable; showing the extractive answer",
    "busy": "the language model is busy; showing the extractive answer",
    "paused": "the language model is paused after repeated failures; showing the extractive answer",
    "unusable": "the language model's reply could not be used; showing the extractive answer",
    "language": "the language model answered in the wrong language; showing the extractive answer",
}
"""What a user is told when the LLM's answer is not shown: fixed texts, never upstream text."""


class LLMFailure(RuntimeError):
    """The LLM could not produce a usable answer; the message is the fixed user-visible notice."""

    def __init__(self, reason: str):
        super().__init__(NOTICES[reason])
        self.reason = reason


def format_paragraphs(keys: list[str], corpus: Corpus, lang: str) -> str:
    single = len(corpus.record_ids) <= 1
    blocks = []
    for key in keys:
        paragraph = corpus.in_language(key, lang)
        heading = paragraph.section or paragraph.chapter or ""
        blocks.append(f"{marker(key, single_record=single)} ({heading})\n{paragraph.text}")
    return "\n\n".join(blocks)


def answer_messages(question: QuestionAnalysis, keys: list[str], corpus: Corpus, prompt: ChatPromptTemplate) -> list:
    """The chat messages asking the analysed question (its follow-up context folded in)."""
    lang = question.answer_lang
    asked = f"{question.context} {question.text}" if question.context else question.text
    return prompt.format_messages(language=LANGUAGE_NAMES.get(lang, lang),
                                  paragraphs=format_paragraphs(keys, corpus, lang), question=asked)


def llm_answer(question: QuestionAnalysis, keys: list[str], corpus: Corpus, *, llm: Any, prompts: Prompts,
               packs: Packs, max_chars: int = 2000, usage: TokenUsage | None = None) -> Draft:
    """The LLM's answer (a JSON reply) to the analysed question, in the answer language.

    ``llm`` is anything with ``invoke(messages)``: an LLMGate in the server, a chat model in tests."""
    try:
        reply = llm.invoke(answer_messages(question, keys, corpus, prompts.answer))
    except LLMUnavailable as exc:
        raise LLMFailure(exc.reason) from exc
    except Exception as exc:  # a bare chat model's transport error: logged, never shown
        log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
        raise LLMFailure("failed") from exc
    if usage is not None:
        usage.add_reported(getattr(reply, "usage_metadata", None))
    try:
        parsed = parse_reply(reply.content)
    except UnusableReply as exc:
        log.warning("LLM reply unusable: %s; reply began %r", exc, message_text(reply.content)[:200])
        raise LLMFailure("unusable") from exc
    text = capped(parsed.answer, max_chars)
    return checked_draft(text, parsed.references(), keys, corpus, question.answer_lang, packs)


def stream_llm_answer(question: QuestionAnalysis, keys: list[str], corpus: Corpus, *, llm: Any,
                      prompt: ChatPromptTemplate, packs: Packs, max_chars: int = 2000,
                      usage: TokenUsage | None = None) -> Iterator[str | Draft]:
    """The LLM's plain-text answer as it is written: text deltas, then the checked Draft.

    Deltas are already stripped of markup and of markers that cite nothing retrieved; a tail that
    may still turn into a link is held back until it is settled. The Draft is the whole reply
    checked like ``llm_answer``'s, and is what counts: when it differs from the deltas (an
    abstention, a cut at the length cap) it replaces them."""
    single = len(corpus.record_ids) <= 1
    messages = answer_messages(question, keys, corpus, prompt)
    raw, shown = "", ""
    try:
        reply = llm.stream(messages)
        try:
            for chunk in reply:
                if usage is not None:
                    usage.add_reported(getattr(chunk, "usage_metadata", None))
                raw += message_text(chunk.content)
                if len(raw) > max_chars:
                    break  # enough: the rest would be cut anyway
                if raw.lstrip().startswith(("{", "[{", "```")):
                    continue  # a JSON reply despite the prompt: nothing to show until it is parsed whole
                visible = validate(strip_markup(raw[:settled_length(raw)]), keys, single_record=single).text
                if len(visible) > len(shown) and visible.startswith(shown):
                    yield visible[len(shown):]
                    shown = visible
        finally:
            close = getattr(reply, "close", None)
            if close is not None:
                close()
    except LLMUnavailable as exc:
        raise LLMFailure(exc.reason) from exc
    except Exception as exc:
        log.warning("LLM stream failed: %s: %s", type(exc).__name__, exc)
        raise LLMFailure("failed") from exc
    try:
        # A model that answers in JSON despite the prompt is read as such.
        parsed = parse_reply(raw)
    except UnusableReply as exc:
        log.warning("LLM streamed reply unusable: %s; reply began %r", exc, raw[:200])
        raise LLMFailure("unusable") from exc
    draft = checked_draft(capped(parsed.answer, max_chars), parsed.references(), keys, corpus,
                          question.answer_lang, packs)
    if draft.text.startswith(shown) and len(draft.text) > len(shown):
        yield draft.text[len(shown):]
    yield draft


def capped(text: str, max_chars: int) -> str:
    """``text`` when it fits in ``max_chars``; otherwise cut after the last whole sentence (with
    its markers) that fits. Raises LLMFailure when not even one sentence fits."""
    if len(text) <= max_chars:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, max_chars)]
    if not ends:
        log.warning("LLM answer of %d characters has no sentence end within the cap of %d", len(text), max_chars)
        raise LLMFailure("unusable")
    return text[:ends[-1]].strip()


def checked_draft(text: str, refs: list[str], keys: list[str], corpus: Corpus, lang: str, packs: Packs) -> Draft:
    """The reply made safe to show: plain text, citations of retrieved paragraphs only, an
    abstention when none is left, in the answer language."""
    single = len(corpus.record_ids) <= 1
    checked = validate(strip_markup(text), keys, extra_refs=refs, single_record=single)
    if not checked.keys:
        if _REFUSAL.search(checked.text) and question_language(checked.text) == lang:
            return Draft(checked.text, True, checked.text, {}, outcome="abstain")
        nothing = packs[lang].message("nothing")
        return Draft(nothing, True, nothing, {}, outcome="abstain")
    if not _WORDS.search(MARKER.sub("", checked.text)):
        log.warning("LLM answer holds nothing but markers: %r", checked.text[:200])
        raise LLMFailure("unusable")
    if question_language(checked.text) != lang:
        raise LLMFailure("language")
    quotes = {key: _quote(corpus, key, lang, checked.text) for key in checked.keys}
    return Draft(checked.text, False, None, quotes)


def _quote(corpus: Corpus, key: str, lang: str, answer: str) -> str:
    """The sentence of the cited paragraph that shares most characters with the answer."""
    paragraph = corpus.in_language(key, lang)
    sentences = split_sentences(paragraph.text, paragraph.lang) or [paragraph.text]
    answer_chars = set(answer.lower())
    return max(sentences, key=lambda s: len(set(s.lower()) & answer_chars) / (1 + len(set(s.lower()))))
