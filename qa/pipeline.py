"""The answer path: check the question -> make it standalone -> retrieve -> answer -> cite.

``Answerer`` holds its collaborators (index, retriever, optional LLM); tests hand it real or
fake ones. Whatever the LLM does, the user gets an answer whose citations point to paragraphs
retrieved for this question.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from indexer.live import LiveIndex
from indexer.tokenize import Tokenizer
from qa.alignment import in_language
from qa.answer import Answer, Citation, QuestionError
from qa.extractive import Draft, extractive_answer
from qa.followup import condense, heuristic_context
from qa.language import question_language
from qa.llm_answer import LLMFailure, llm_answer
from qa.prompt import Prompts
from qa.retrieve import Query, Retriever, elapsed_ms


@dataclass
class AnswerOptions:
    answer_paragraphs: int = 3
    max_sentences: int = 2
    min_evidence: float = 0.5
    max_question_chars: int = 2000
    history_turns: int = 3
    settings_hash: str = ""


@dataclass
class Answerer:
    index: LiveIndex
    retriever: Retriever
    tokenizer: Tokenizer
    options: AnswerOptions = field(default_factory=AnswerOptions)
    llm: BaseChatModel | None = None
    llm_name: str = ""
    prompts: Prompts | None = None
    notices: list[str] = field(default_factory=list)
    """Standing notices shown with every answer (dense retrieval off, stale index)."""

    @property
    def mode(self) -> str:
        return f"llm:{self.llm_name}" if self.llm is not None else "extractive"

    def ask(self, question: str, history: list[dict] | None = None, lang: str | None = None) -> Answer:
        started = time.perf_counter()
        question = clean_question(question, self.options.max_question_chars)
        # The record is searched and weighed in the language the question is written in; an
        # explicit answer language only changes which version is quoted.
        asked_in = question_language(question)
        lang = question_language(question, lang)
        history = history or []
        notices = list(self.notices)
        timings: dict[str, float] = {}

        query = Query(question, asked_in)
        standalone = None
        if history:
            t = time.perf_counter()
            query, standalone, notice = self._standalone(question, history, asked_in)
            timings["condense"] = elapsed_ms(t)
            if notice:
                notices.append(notice)

        t = time.perf_counter()
        retrieved = self.retriever.retrieve(query)
        timings["retrieval"] = elapsed_ms(t)
        timings.update({f"retrieval.{k}": v for k, v in retrieved.timings_ms.items()})

        t = time.perf_counter()
        mode = "extractive"
        draft: Draft | None = None
        if self.llm is not None and self.prompts is not None and retrieved.keys:
            try:
                draft = llm_answer(query.text if not query.context else f"{query.context} {query.text}",
                                   retrieved.keys[: max(self.options.answer_paragraphs, 5)], self.index.corpus,
                                   lang=lang, llm=self.llm, prompts=self.prompts)
                mode = self.mode
            except LLMFailure as exc:
                notices.append(f"{exc}; showing the extractive answer instead")
        if draft is None:
            draft = extractive_answer(
                query.text, retrieved, self.index.corpus, self.tokenizer, lang=asked_in,
                paragraphs=self.options.answer_paragraphs, max_sentences=self.options.max_sentences,
                min_evidence=self.options.min_evidence,
            )
            draft = in_language(draft, self.index.corpus, asked_in, lang)
        timings["answer"] = elapsed_ms(t)
        timings["total"] = elapsed_ms(started)

        citations = [
            Citation(paragraph=key.rpartition(":")[2], record=key.rpartition(":")[0], quote=quote)
            for key, quote in draft.quotes.items()
        ]
        return Answer(
            question=question, answer=draft.text, abstained=draft.abstained, reason=draft.reason,
            citations=citations, retrieved=[k.rpartition(":")[2] for k in retrieved.keys], mode=mode, lang=lang,
            standalone_question=standalone, notices=notices, timings_ms=timings,
            settings_hash=self.options.settings_hash,
        )

    def _standalone(self, question: str, history: list[dict], lang: str) -> tuple[Query, str | None, str | None]:
        if self.llm is not None and self.prompts is not None:
            try:
                rewritten = condense(question, history, lang=lang, llm=self.llm, prompts=self.prompts,
                                     turns=self.options.history_turns)
                if question_language(rewritten) == lang:
                    return Query(rewritten, lang), rewritten, None
            except Exception as exc:  # the rewrite is an aid; without it the heuristic still works
                notice = f"follow-up rewrite failed ({type(exc).__name__}); using the conversation heuristically"
                context = heuristic_context(question, history, lang=lang, turns=self.options.history_turns)
                return Query(question, lang, context), _joined(context, question), notice
        context = heuristic_context(question, history, lang=lang, turns=self.options.history_turns)
        return Query(question, lang, context), _joined(context, question), None


def clean_question(question: str, max_chars: int) -> str:
    """The question with control characters removed and whitespace collapsed; rejects empty or
    over-long input with a message meant for the user."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    # Line breaks and tabs separate words; other control and format characters (zero-width
    # spaces, soft hyphens, bells) sit inside words and are dropped.
    cleaned = "".join(" " if ch in "\t\n\r\f\v" else "" if unicodedata.category(ch).startswith("C") else ch
                      for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    return cleaned


def _joined(context: str, question: str) -> str | None:
    return f"{context} {question}" if context else None

