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
from qa.alignment import in_language
from qa.analysis import QuestionAnalyser
from qa.answer import Answer, Citation, QuestionError
from qa.extractive import Draft, ExtractiveAnswerer
from qa.followup import condense, heuristic_context
from qa.language import question_language
from qa.llm_answer import LLMFailure, llm_answer
from qa.prompt import Prompts
from qa.retrieve import Retriever, elapsed_ms


@dataclass
class AnswerOptions:
    answer_paragraphs: int = 5
    max_question_chars: int = 2000
    history_turns: int = 3
    settings_hash: str = ""


@dataclass
class Answerer:
    index: LiveIndex
    retriever: Retriever
    analyser: QuestionAnalyser
    extractive: ExtractiveAnswerer
    options: AnswerOptions = field(default_factory=AnswerOptions)
    llm: BaseChatModel | None = None
    llm_name: str = ""
    prompts: Prompts | None = None
    notices: list[str] = field(default_factory=list)
    """Standing notices shown with every answer (dense retrieval off, stale index)."""

    @property
    def mode(self) -> str:
        return f"llm:{self.llm_name}" if self.llm is not None else "extractive"

    def ask(self, question: str, history: list[dict] | None = None, lang: str | None = None, *,
            explain: bool = False) -> Answer:
        started = time.perf_counter()
        question = clean_question(question, self.options.max_question_chars)
        # The record is searched and weighed in the language the question is written in; an
        # explicit answer language only changes which version is quoted.
        asked_in = question_language(question)
        lang = question_language(question, lang)
        history = history or []
        notices = list(self.notices)
        timings: dict[str, float] = {}

        analysis, retrieved, standalone = self.prepare(question, history, lang, notices=notices, timings=timings)

        t = time.perf_counter()
        mode = "extractive"
        draft: Draft | None = None
        if self.llm is not None and self.prompts is not None and retrieved.keys:
            try:
                draft = llm_answer(analysis, retrieved.keys[: max(self.options.answer_paragraphs, 5)],
                                   self.index.corpus, llm=self.llm, prompts=self.prompts,
                                   packs=self.extractive.packs)
                mode = self.mode
            except LLMFailure as exc:
                notices.append(f"{exc}; showing the extractive answer instead")
        if draft is None:
            draft = self.extractive.answer(analysis, retrieved, explain=explain)
            draft = in_language(draft, self.index.corpus, asked_in, lang)
        timings["answer"] = elapsed_ms(t)
        timings["total"] = elapsed_ms(started)

        citations = [
            Citation(paragraph=key.rpartition(":")[2], record=key.rpartition(":")[0], quote=quote)
            for key, quote in draft.quotes.items()
        ]
        details = None
        if explain:
            details = {"analysis": analysis.explain(), "decision": draft.explain}
        return Answer(
            question=question, answer=draft.text, abstained=draft.abstained, reason=draft.reason,
            outcome=draft.outcome, confidence=draft.confidence,
            citations=citations, retrieved=[k.rpartition(":")[2] for k in retrieved.keys], mode=mode, lang=lang,
            standalone_question=standalone, notices=notices, timings_ms=timings,
            settings_hash=self.options.settings_hash, explain=details,
        )

    def prepare(self, question: str, history: list[dict], lang: str, *, notices: list[str] | None = None,
                timings: dict[str, float] | None = None):
        """(analysis, retrieved, the question as searched): the question made standalone, analysed
        once, and retrieved for. ``question`` is already clean; ``lang`` is the answer language."""
        notices = notices if notices is not None else []
        timings = timings if timings is not None else {}
        asked_in = question_language(question)
        text, context, standalone = question, "", None
        if history:
            t = time.perf_counter()
            text, context, standalone, notice = self._standalone(question, history, asked_in)
            timings["condense"] = elapsed_ms(t)
            if notice:
                notices.append(notice)
        # The one analysis of the question: retrieval and both answerers read it, nothing re-parses.
        t = time.perf_counter()
        analysis = self.analyser.analyse(text, lang, context=context)
        timings["analysis"] = elapsed_ms(t)
        t = time.perf_counter()
        retrieved = self.retriever.retrieve(analysis)
        timings["retrieval"] = elapsed_ms(t)
        timings.update({f"retrieval.{k}": v for k, v in retrieved.timings_ms.items()})
        return analysis, retrieved, standalone

    def _standalone(self, question: str, history: list[dict], lang: str) -> tuple[str, str, str | None, str | None]:
        """(text to analyse, earlier context, the question as searched, notice)."""
        if self.llm is not None and self.prompts is not None:
            try:
                rewritten = condense(question, history, lang=lang, llm=self.llm, prompts=self.prompts,
                                     turns=self.options.history_turns)
                if question_language(rewritten) == lang:
                    return rewritten, "", rewritten, None
            except Exception as exc:  # the rewrite is an aid; without it the heuristic still works
                notice = f"follow-up rewrite failed ({type(exc).__name__}); using the conversation heuristically"
                context = heuristic_context(question, history, pack=self.extractive.packs[lang],
                                            turns=self.options.history_turns)
                return question, context, _joined(context, question), notice
        context = heuristic_context(question, history, pack=self.extractive.packs[lang],
                                            turns=self.options.history_turns)
        return question, context, _joined(context, question), None


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

