"""What the web layer shares between requests: the answerer, the origin policy, the rate
limiter and the API keys. Built once by ``ui.app.create_app`` and handed to every route."""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass, field

from qa.answer import Answer, QuestionError
from qa.pipeline import Answerer, clean_question
from recordqa.settings import Settings
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


@dataclass
class Service:
    settings: Settings
    answerer: Answerer
    policy: EmbedPolicy
    limiter: RateLimiter
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def create(cls, settings: Settings, answerer: Answerer) -> Service:
        return cls(settings, answerer, EmbedPolicy.from_setting(settings.embed_origins),
                   RateLimiter(settings.rate_limit_per_minute))

    def key_valid(self, presented: str | None) -> bool:
        """True when no keys are configured or ``presented`` is one of them (constant-time)."""
        keys = [k.get_secret_value() for k in self.settings.api_keys]
        if not keys:
            return True
        return bool(presented) and any(hmac.compare_digest(presented.encode(), k.encode()) for k in keys)

    def ask(self, question: object, history: list[dict] | None, lang: str | None, client: str) -> Answer:
        """Check, count against the client's budget, answer. Raises QuestionError / RateLimited."""
        text = check_web_question(question)
        clean_question(text, self.settings.max_question_chars)  # an empty or over-long question costs no budget
        wait = self.limiter.check(client)
        if wait is not None:
            raise RateLimited(wait)
        return self.answerer.ask(text, history=history or [], lang=lang)

    def status(self) -> dict:
        index = self.answerer.index
        dense = index.manifest.dense
        return {
            "status": "ok",
            "index": {
                "loaded": True,
                "build": index.folder.name,
                "records": index.corpus.record_ids,
                "languages": index.corpus.languages,
                "paragraphs": len(index.corpus.keys()),
            },
            "mode": self.answerer.mode,
            "dense": {
                "on": bool(dense.get("model")),
                "model": dense.get("model"),
                "label": (dense.get("label") or dense.get("model")) if dense.get("model") else None,
                "languages": dense.get("languages") or (index.corpus.languages if dense.get("model") else []),
                "all_languages": bool(dense.get("model")) and not dense.get("languages"),
                "reason": dense.get("reason"),
            },
            "retrieval": self.settings.retrieval_mode,
            "settings_hash": self.settings.settings_hash(),
            "uptime_s": round(time.monotonic() - self.started, 1),
        }
