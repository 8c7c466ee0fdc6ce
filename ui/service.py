"""What the web layer shares between requests: the answerer, the origin policy, the rate
limiter and the API keys. Built once by ``ui.app.create_app`` and handed to every route."""

from __future__ import annotations

import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from indexer.build import read_pointer
from indexer.live import LiveIndex
from qa.answer import Answer, QuestionError
from qa.llm_answer import NOTICES
from qa.pipeline import Answerer, clean_question
from qa.usage import TokenUsage
from recordqa.settings import Settings
from ui.metrics import Metrics
from ui.origins import EmbedPolicy
from ui.ratelimit import RateLimiter

# A tag-like run: '<' directly followed by a letter, '/', '!' or '?' (so "GDP < Mexico" and "<5%" pass).
_MARKUP = re.compile(r"<[A-Za-z/!?]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class RateLimited(Exception):
    def __init__(self, retry_after_s: float):
        super().__init__(f"rate limit exceeded; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def check_web_question(question: object) -> str:
    """Questions typed into a page or sent to the API: text without markup or control characters.

    The command line strips control characters silently; over the web they mark a broken or
    hostile client, so they are refused with a message instead."""
    if not isinstance(question, str):
        raise QuestionError("the question must be a string")
    if _CONTROL.search(question):
        raise QuestionError("the question contains control characters; send plain text")
    if _MARKUP.search(question):
        raise QuestionError("the question contains HTML or script markup; send plain text")
    return question


SWAP_CHECK_S = 1.0
"""How often a request looks at current.json (one stat) for a new build."""


@dataclass
class _Generation:
    answerer: Answerer
    requests: int = 0
    retired: bool = False


class LiveAnswerer:
    """The answerer of the live build, replaced when a re-index switches current.json: the new
    build is opened and given the old answerer's collaborators, and swapped in at once. A request
    keeps the answerer it started with; the old build is released (a later build may then prune
    it) when the last such request ends."""

    def __init__(self, answerer: Answerer, rebuild: Callable[[LiveIndex], Answerer] | None) -> None:
        self._generation = _Generation(answerer)
        self._rebuild = rebuild
        self._lock = threading.Lock()
        folder = getattr(getattr(answerer, "index", None), "folder", None)
        self._pointer = Path(folder).parent.parent / "current.json" if folder is not None else None
        self._stamp = self._stat()
        self._checked = time.monotonic()
        self.problem: str | None = None
        """Why the build current.json names is not the one answering, or None."""

    def current(self) -> Answerer:
        self._refresh()
        return self._generation.answerer

    @contextmanager
    def lease(self) -> Iterator[Answerer]:
        """The current answerer, kept (with its build's files) for the whole request."""
        self._refresh()
        with self._lock:
            generation = self._generation
            generation.requests += 1
        try:
            yield generation.answerer
        finally:
            with self._lock:
                generation.requests -= 1
                done = generation.retired and generation.requests == 0
            if done:
                generation.answerer.index.close()

    def _stat(self) -> tuple | None:
        if self._pointer is None:
            return None
        try:
            stat = os.stat(self._pointer)
        except OSError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _refresh(self) -> None:
        if self._rebuild is None or time.monotonic() - self._checked < SWAP_CHECK_S:
            return
        with self._lock:
            if time.monotonic() - self._checked < SWAP_CHECK_S:
                return
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            old = self._generation
            try:
                build = read_pointer(self._pointer.parent)
            except ValueError as exc:
                self.problem = f"{exc}; still answering from build {old.answerer.index.folder.name}"
                return
            if build is None or build == old.answerer.index.folder.name:
                self.problem = None
                return
            try:
                index = LiveIndex.open(self._pointer.parent, chroma_url=old.answerer.index.chroma_url)
                answerer = self._rebuild(index)
            except Exception as exc:  # keep answering from the loaded build, and say why in /healthz
                self.problem = (f"the new build {build} cannot be loaded ({exc}); still answering from build "
                                f"{old.answerer.index.folder.name}")
                return
            self.problem = None
            self._generation = _Generation(answerer)
            old.retired = True
            done = old.requests == 0
        if done:
            old.answerer.index.close()


@dataclass
class Service:
    settings: Settings
    live: LiveAnswerer
    policy: EmbedPolicy
    limiter: RateLimiter
    started: float = field(default_factory=time.monotonic)
    metrics: Metrics | None = None
    """Where answers, abstentions and LLM fallbacks are counted (the app's /metrics); None: not counted."""

    @classmethod
    def create(cls, settings: Settings, answerer: Answerer,
               rebuild: Callable[[LiveIndex], Answerer] | None = None) -> Service:
        if rebuild is None:
            from recordqa.factories import answerer_rebuilder

            rebuild = answerer_rebuilder(settings, answerer)
        return cls(settings, LiveAnswerer(answerer, rebuild), EmbedPolicy.from_setting(settings.embed_origins),
                   RateLimiter(settings.rate_limit_per_minute))

    @property
    def answerer(self) -> Answerer:
        """The answerer of the live build (a new build is picked up without a restart)."""
        return self.live.current()

    def key_valid(self, presented: str | None) -> bool:
        """True when no keys are configured or ``presented`` is one of them (constant-time)."""
        keys = [k.get_secret_value() for k in self.settings.api_keys]
        if not keys:
            return True
        return bool(presented) and any(hmac.compare_digest(presented.encode(), k.encode()) for k in keys)

    def ask(self, question: object, history: list[dict] | None, lang: str | None, client: str, *,
            usage: TokenUsage | None = None, records=None) -> Answer:
        """Check, count against the client's budget, answer. Raises QuestionError / RateLimited.
        ``usage`` (optional) is filled with the LLM's token counts; ``records`` (ids, None for all)
        restricts the search to those records (an unknown id: UnknownRecordError, no budget spent)."""
        text = self.admit(question, client, records)
        with self.live.lease() as answerer:
            answer = answerer.ask(text, history=history or [], lang=lang, usage=usage, records=records)
            self._count(answerer, answer)
            return answer

    def ask_stream(self, question: object, history: list[dict] | None, lang: str | None, client: str, *,
                   usage: TokenUsage | None = None, records=None) -> Iterator[str | Answer]:
        """Like ask, as text deltas and then the final Answer (see Answerer.ask_stream). The checks
        and the budget apply now, before the first event, so bad input still gets its 4xx status."""
        text = self.admit(question, client, records)

        def events() -> Iterator[str | Answer]:
            with self.live.lease() as answerer:
                for event in answerer.ask_stream(text, history=history or [], lang=lang, usage=usage,
                                                 records=records):
                    if isinstance(event, Answer):
                        self._count(answerer, event)
                    yield event

        return events()

    def _count(self, answerer: Answerer, answer: Answer) -> None:
        if self.metrics is None:
            return
        self.metrics.answered(answer.mode, answer.abstained)
        if answerer.llm is not None and answer.mode == "extractive":
            # The LLM was configured but its answer was not shown: the fixed notice names why.
            reason = next((name for name, text in NOTICES.items() if any(n.startswith(text) for n in answer.notices)),
                          None)
            if reason is not None:
                self.metrics.llm_fallback(reason)

    def admit(self, question: object, client: str, records=None) -> str:
        """The question, checked and counted against the client's budget. Raises QuestionError / RateLimited."""
        text = check_web_question(question)
        clean_question(text, self.settings.max_question_chars)  # an empty or over-long question costs no budget
        self.answerer.choose_records(records)  # so does one asked of a record that is not loaded
        wait = self.limiter.check(client)
        if wait is not None:
            raise RateLimited(wait)
        return text

    def status(self) -> dict:
        """Readiness, told truthfully: the build answering, whether dense search works now, and every
        way the service is degraded. ``ready`` is False when the loaded build's files are gone and no
        other build could be loaded (a restart would fail)."""
        answerer = self.answerer
        index = answerer.index
        dense = index.manifest.dense
        store_problem = index.vector_store_problem() if dense.get("model") else None
        dense_on = bool(dense.get("model")) and store_problem is None
        degraded = list(index.notices)
        if store_problem and index.store is not None:  # failing now; a store unusable at load is in the notices
            degraded.append(f"dense retrieval is off: {store_problem}")
        if self.live.problem:
            degraded.append(self.live.problem)
        ready = (index.folder / "manifest.json").exists()
        if not ready:
            degraded.append(f"the files of build {index.folder.name} are gone; run `recordqa index`")
        return {
            "status": "unavailable" if not ready else "degraded" if degraded else "ok",
            "ready": ready,
            "degraded": degraded,
            "index": {
                "loaded": True,
                "build": index.folder.name,
                "records": index.corpus.record_ids,
                "languages": index.corpus.languages,
                "paragraphs": len(index.corpus.keys()),
            },
            "mode": answerer.mode,
            "llm": {
                "configured": answerer.llm is not None,
                "model": answerer.llm_name if answerer.llm is not None else None,
                "circuit": getattr(answerer.llm, "circuit", None),
            },
            "dense": {
                "on": dense_on,
                "model": dense.get("model"),
                "label": (dense.get("label") or dense.get("model")) if dense.get("model") else None,
                "languages": dense.get("languages") or (index.corpus.languages if dense.get("model") else []),
                "all_languages": bool(dense.get("model")) and not dense.get("languages"),
                "reason": store_problem or dense.get("reason"),
            },
            "retrieval": self.settings.retrieval_mode,
            "settings_hash": self.settings.settings_hash(),
            "uptime_s": round(time.monotonic() - self.started, 1),
        }
