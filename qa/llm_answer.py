"""Answers written by an LLM through LangChain, checked before anyone sees them: citations must
point to retrieved paragraphs, an answer with none left abstains, and the language must be the
question's. Any failure raises LLMFailure so the caller can fall back to the extractive answer."""

from __future__ import annotations

import json
import re

from langchain_core.language_models import BaseChatModel

from indexer.corpus import Corpus
from indexer.sentences import split_sentences
from qa.analysis import QuestionAnalysis
from qa.citation import cited_numbers, marker, validate
from qa.extractive import Draft
from qa.language import question_language
from qa.language_pack import Packs
from qa.prompt import Prompts

LANGUAGE_NAMES = {"zh": "Chinese (简体中文)", "en": "English"}
_JSON = re.compile(r"\{.*\}", re.DOTALL)
_REFUSAL = re.compile(
    r"does not (?:answer|contain|say|address)|not (?:in|stated in) the record|记录(?:中)?(?:没有|未)|无法回答",
    re.IGNORECASE,
)


class LLMFailure(RuntimeError):
    """The LLM could not produce a usable answer; the message says why, for the user-visible notice."""


def format_paragraphs(keys: list[str], corpus: Corpus, lang: str) -> str:
    single = len(corpus.record_ids) <= 1
    blocks = []
    for key in keys:
        paragraph = corpus.in_language(key, lang)
        heading = paragraph.section or paragraph.chapter or ""
        blocks.append(f"{marker(key, single_record=single)} ({heading})\n{paragraph.text}")
    return "\n\n".join(blocks)


def parse_reply(content: str) -> tuple[str, list[str]]:
    """(answer text, cited references) from a JSON reply, or from plain text with [¶N] markers."""
    match = _JSON.search(content)
    if match:
        try:
            data = json.loads(match.group())
            answer = str(data.get("answer", "")).strip()
            refs = [str(c).lstrip("¶").strip() for c in data.get("citations", []) or []]
            return answer, list(dict.fromkeys(cited_numbers(answer) + refs))
        except (json.JSONDecodeError, AttributeError):
            pass
    return content.strip(), cited_numbers(content)


def llm_answer(question: QuestionAnalysis, keys: list[str], corpus: Corpus, *, llm: BaseChatModel,
               prompts: Prompts, packs: Packs) -> Draft:
    """The LLM's answer to the analysed question (its follow-up context folded in), in the answer language."""
    lang = question.answer_lang
    asked = f"{question.context} {question.text}" if question.context else question.text
    messages = prompts.answer.format_messages(
        language=LANGUAGE_NAMES.get(lang, lang), paragraphs=format_paragraphs(keys, corpus, lang),
        question=asked,
    )
    try:
        reply = llm.invoke(messages)
    except Exception as exc:  # any transport or server error becomes a visible fallback
        raise LLMFailure(_describe(exc)) from exc
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    text, refs = parse_reply(content)
    if not text:
        raise LLMFailure("the model returned an empty answer")
    single = len(corpus.record_ids) <= 1
    checked = validate(text, keys, extra_refs=refs, single_record=single)
    if not checked.keys:
        if _REFUSAL.search(text):
            return Draft(checked.text, True, checked.text, {}, outcome="abstain")
        nothing = packs[lang].message("nothing")
        return Draft(nothing, True, nothing, {}, outcome="abstain")
    if question_language(checked.text) != lang:
        raise LLMFailure(f"the model answered in the wrong language (expected {lang})")
    quotes = {key: _quote(corpus, key, lang, checked.text) for key in checked.keys}
    return Draft(checked.text, False, None, quotes)


def _quote(corpus: Corpus, key: str, lang: str, answer: str) -> str:
    """The sentence of the cited paragraph that shares most characters with the answer."""
    paragraph = corpus.in_language(key, lang)
    sentences = split_sentences(paragraph.text, paragraph.lang) or [paragraph.text]
    answer_chars = set(answer.lower())
    return max(sentences, key=lambda s: len(set(s.lower()) & answer_chars) / (1 + len(set(s.lower()))))


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "the LLM did not answer in time"
    if "Connection" in name:
        return "the LLM endpoint cannot be reached"
    return f"the LLM request failed ({name}: {str(exc)[:120]})"
