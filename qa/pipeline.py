"""The answer path: check the question -> make it standalone -> retrieve -> answer -> cite.

``Answerer`` holds its collaborators (index, retriever, optional LLM); tests hand it real or
fake ones. Whatever the LLM does, the user gets an answer whose citations point to paragraphs
retrieved for this question.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from indexer.catalogue import RecordInfo, UnknownRecord, catalogue, choose_records, citation_label
from indexer.live import LiveIndex
from qa.alignment import in_language
from qa.analysis import QuestionAnalyser
from qa.answer import Answer, Citation, QuestionError, UnknownRecordError
from qa.extractive import Draft, ExtractiveAnswerer
from qa.followup import condense, heuristic_context
from qa.language import question_language
from qa.llm_answer import LLMFailure, llm_answer, stream_llm_answer
from qa.prompt import Prompts
from qa.retrieve import Retriever, elapsed_ms
from qa.usage import TokenUsage

if TYPE_CHECKING:  # langchain_core takes a second to import; only type hints need it here
    from langchain_core.prompts import ChatPromptTemplate

log = logging.getLogger("recordqa.llm")

REWRITE_FAILED = "follow-up rewrite failed; using the conversation heuristically"
"""The notice when the LLM's rewrite of a follow-up is not used (the reason goes to the log)."""


@dataclass
class AnswerOptions:
    answer_paragraphs: int = 5
    max_question_chars: int = 2000
    history_turns: int = 3
    settings_hash: str = ""
    max_answer_chars: int = 2000
    """Longest LLM answer used; a longer one is cut after its last whole sentence that fits."""
    max_rewrite_chars: int = 500
    """Longest LLM rewrite of a follow-up used; a longer one is ignored for the heuristic."""


@dataclass
class _Asked:
    """A question made standalone, analysed and retrieved for; what ask and ask_stream share."""

    question: str
    asked_in: str
    lang: str
    analysis: Any
    retrieved: Any
    standalone: str | None
    notices: list[str]
    timings: dict[str, float]
    started: float


@dataclass
class Answerer:
    index: LiveIndex
    retriever: Retriever
    analyser: QuestionAnalyser
    extractive: ExtractiveAnswerer
    options: AnswerOptions = field(default_factory=AnswerOptions)
    llm: Any = None
    """The LLM: an LLMGate around a chat model in the server (bounded pool, timeout, breaker);
    anything with ``invoke(messages)`` and ``stream(messages)`` will do."""
    llm_name: str = ""
    prompts: Prompts | None = None
    stream_prompt: ChatPromptTemplate | None = None
    """The plain-text answer prompt used when the answer is streamed; without it, ask_stream
    answers with one JSON call and streams nothing until it is checked."""
    notices: list[str] = field(default_factory=list)
    """Standing notices shown with every answer (dense retrieval off, stale index)."""
    _records: dict[str, RecordInfo] | None = field(default=None, init=False, repr=False)

    @property
    def records(self) -> dict[str, RecordInfo]:
        """The loaded records by id (symbol, title, languages, paragraphs), read once from the index."""
        if self._records is None:
            self._records = {info.id: info for info in catalogue(self.index.corpus)}
        return self._records

    def choose_records(self, chosen: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
        """The record ids a question may be restricted to (None or [] for all), checked against the
        index: an unknown id raises UnknownRecordError (a QuestionError) listing the loaded ids."""
        try:
            return choose_records(chosen, list(self.records))
        except UnknownRecord as exc:
            raise UnknownRecordError(str(exc)) from None

    @property
    def mode(self) -> str:
        return f"llm:{self.llm_name}" if self.llm is not None else "extractive"

    def ask(self, question: str, history: list[dict] | None = None, lang: str | None = None, *,
            explain: bool = False, usage: TokenUsage | None = None, records=None) -> Answer:
        """The cited answer. ``usage`` (optional) is filled with the LLM's reported token counts;
        ``records`` (ids; None for all) restricts the search, and so every citation, to those records."""
        asked = self._begin(question, history, lang, usage, records)
        t = time.perf_counter()
        mode, draft = "extractive", None
        if self._llm_answers(asked):
            try:
                draft = llm_answer(asked.analysis, self._shown(asked), self.index.corpus, llm=self.llm,
                                   prompts=self.prompts, packs=self.extractive.packs,
                                   max_chars=self.options.max_answer_chars, usage=usage)
                mode = self.mode
            except LLMFailure as exc:
                asked.notices.append(str(exc))
        if draft is None:
            draft = self._extractive(asked, explain)
        asked.timings["answer"] = elapsed_ms(t)
        return self._finish(asked, draft, mode, explain)

    def ask_stream(self, question: str, history: list[dict] | None = None, lang: str | None = None, *,
                   usage: TokenUsage | None = None, records=None) -> Iterator[str | Answer]:
        """Like ask, as it is written: text deltas while the LLM streams its answer, then the
        Answer, which is final (checked citations, plain text) and replaces what was streamed when
        they differ. Extractive answers come whole: only the Answer is yielded."""
        asked = self._begin(question, history, lang, usage, records)
        t = time.perf_counter()
        mode, draft = "extractive", None
        if self._llm_answers(asked):
            try:
                if self.stream_prompt is None:
                    draft = llm_answer(asked.analysis, self._shown(asked), self.index.corpus, llm=self.llm,
                                       prompts=self.prompts, packs=self.extractive.packs,
                                       max_chars=self.options.max_answer_chars, usage=usage)
                else:
                    for item in stream_llm_answer(asked.analysis, self._shown(asked), self.index.corpus,
                                                  llm=self.llm, prompt=self.stream_prompt,
                                                  packs=self.extractive.packs,
                                                  max_chars=self.options.max_answer_chars, usage=usage):
                        if isinstance(item, str):
                            asked.timings.setdefault("first_token", elapsed_ms(asked.started))
                            yield item
                        else:
                            draft = item
                mode = self.mode
            except LLMFailure as exc:
                asked.notices.append(str(exc))
                draft = None
        if draft is None:
            draft = self._extractive(asked, explain=False)
        asked.timings["answer"] = elapsed_ms(t)
        yield self._finish(asked, draft, mode, explain=False)

    def _begin(self, question: str, history: list[dict] | None, lang: str | None,
               usage: TokenUsage | None, records=None) -> _Asked:
        started = time.perf_counter()
        question = clean_question(question, self.options.max_question_chars)
        chosen = self.choose_records(records)
        # The record is searched and weighed in the language the question is written in; an
        # explicit answer language only changes which version is quoted.
        asked_in = question_language(question)
        lang = question_language(question, lang)
        notices = list(self.notices)
        timings: dict[str, float] = {}
        analysis, retrieved, standalone = self.prepare(question, history or [], lang, notices=notices,
                                                       timings=timings, usage=usage, records=chosen)
        return _Asked(question, asked_in, lang, analysis, retrieved, standalone, notices, timings, started)

    def _llm_answers(self, asked: _Asked) -> bool:
        return self.llm is not None and self.prompts is not None and bool(asked.retrieved.keys)

    def _shown(self, asked: _Asked) -> list[str]:
        """The retrieved paragraphs the LLM is shown."""
        return asked.retrieved.keys[: max(self.options.answer_paragraphs, 5)]

    def _extractive(self, asked: _Asked, explain: bool) -> Draft:
        draft = self.extractive.answer(asked.analysis, asked.retrieved, explain=explain)
        return in_language(draft, self.index.corpus, asked.asked_in, asked.lang)

    def _finish(self, asked: _Asked, draft: Draft, mode: str, explain: bool) -> Answer:
        asked.timings["total"] = elapsed_ms(asked.started)
        records = self.records
        names = {rid: info.name for rid, info in records.items()}
        citations = []
        for key, quote in draft.quotes.items():
            record, _, paragraph = key.rpartition(":")
            info = records.get(record)
            citations.append(Citation(paragraph=paragraph, record=record, quote=quote,
                                      symbol=info.symbol if info else None, record_title=info.title if info else None,
                                      label=citation_label(record, paragraph, names)))
        # With several records a bare number is ambiguous: the retrieved list names each paragraph's record.
        retrieved = [k if len(records) > 1 else k.rpartition(":")[2] for k in asked.retrieved.keys]
        details = None
        if explain:
            details = {"analysis": asked.analysis.explain(), "decision": draft.explain}
        return Answer(
            question=asked.question, answer=draft.text, abstained=draft.abstained, reason=draft.reason,
            outcome=draft.outcome, confidence=draft.confidence, citations=citations,
            retrieved=retrieved, mode=mode, lang=asked.lang,
            standalone_question=asked.standalone, notices=asked.notices, timings_ms=asked.timings,
            settings_hash=self.options.settings_hash, explain=details,
        )

    def prepare(self, question: str, history: list[dict], lang: str, *, notices: list[str] | None = None,
                timings: dict[str, float] | None = None, usage: TokenUsage | None = None,
                records: tuple[str, ...] = ()):
        """(analysis, retrieved, the question as searched): the question made standalone, analysed
        once, and retrieved for. ``question`` is already clean; ``lang`` is the answer language."""
        notices = notices if notices is not None else []
        timings = timings if timings is not None else {}
        asked_in = question_language(question)
        text, context, standalone = question, "", None
        if history:
            t = time.perf_counter()
            text, context, standalone, notice = self._standalone(question, history, asked_in, usage)
            timings["condense"] = elapsed_ms(t)
            if notice:
                notices.append(notice)
        # The one analysis of the question: retrieval and both answerers read it, nothing re-parses.
        t = time.perf_counter()
        analysis = self.analyser.analyse(text, lang, context=context, records=records)
        timings["analysis"] = elapsed_ms(t)
        t = time.perf_counter()
        retrieved = self.retriever.retrieve(analysis)
        timings["retrieval"] = elapsed_ms(t)
        notices.extend(n for n in retrieved.notices if n not in notices)
        timings.update({f"retrieval.{k}": v for k, v in retrieved.timings_ms.items()})
        return analysis, retrieved, standalone

    def _standalone(self, question: str, history: list[dict], lang: str,
                    usage: TokenUsage | None = None) -> tuple[str, str, str | None, str | None]:
        """(text to analyse, earlier context, the question as searched, notice)."""
        if self.llm is not None and self.prompts is not None:
            try:
                rewritten = condense(question, history, lang=lang, llm=self.llm, prompts=self.prompts,
                                     turns=self.options.history_turns, max_chars=self.options.max_rewrite_chars,
                                     usage=usage)
                rewritten = clean_question(rewritten, self.options.max_rewrite_chars)
                if question_language(rewritten) == lang:
                    return rewritten, "", rewritten, None
            except Exception as exc:  # the rewrite is an aid; without it the heuristic still works
                log.warning("follow-up rewrite not used: %s: %s", type(exc).__name__, exc)
                context = heuristic_context(question, history, pack=self.extractive.packs[lang],
                                            turns=self.options.history_turns)
                return question, context, _joined(context, question), REWRITE_FAILED
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

