"""Follow-up questions: turn a question that leans on earlier turns into one that stands alone.

With an LLM the condense prompt rewrites it. Without one, a heuristic: a short question, or one
that opens like a continuation ('and ...', 'what about ...', '那么…', '…呢') or refers back with a
pronoun, is searched together with the previous user question, which weighs less than the new one.
"""

from __future__ import annotations

from typing import Any

from qa.language_pack import LanguagePack
from qa.llm_reply import message_text
from qa.plain_text import strip_markup
from qa.prompt import Prompts
from qa.usage import TokenUsage


def user_turns(history: list[dict], limit: int) -> list[str]:
    """The last ``limit`` user messages of a chat history of {'role', 'content'} dicts."""
    turns = [str(m.get("content", "")) for m in history if m.get("role") == "user" and m.get("content")]
    return turns[-limit:] if limit else []


def is_follow_up(question: str, pack: LanguagePack) -> bool:
    """Short, or opening like a continuation / referring back (the pack's ``continuation`` cue)."""
    if "short_chars" in pack.limits:
        short = len(question) <= pack.limits["short_chars"]
    else:
        short = len(question.split()) <= pack.limits.get("short_words", 0)
    return short or bool(pack.patterns["continuation"].search(question))


def heuristic_context(question: str, history: list[dict], *, pack: LanguagePack, turns: int) -> str:
    """Earlier user text to search along with the question; '' when it stands alone."""
    earlier = user_turns(history, turns)
    if not earlier or not is_follow_up(question, pack):
        return ""
    return earlier[-1]


def condense(question: str, history: list[dict], *, lang: str, llm: Any, prompts: Prompts, turns: int,
             max_chars: int = 500, usage: TokenUsage | None = None) -> str:
    """A standalone rewrite by the LLM (anything with ``invoke(messages)``), as plain text.
    Raises on transport errors, and RewriteRejected for a rewrite longer than ``max_chars``:
    a question that long is not a rewrite, and it must not reach retrieval or the answer prompt.
    The caller falls back to the heuristic."""
    recent = [m for m in history if m.get("role") in ("user", "assistant")][-2 * turns :]
    transcript = "\n".join(f"{m['role']}: {m.get('content', '')}" for m in recent)
    messages = prompts.condense.format_messages(language=lang, history=transcript, question=question)
    reply = llm.invoke(messages)
    if usage is not None:
        usage.add_reported(getattr(reply, "usage_metadata", None))
    text = " ".join(strip_markup(message_text(reply.content)).split()).strip('"').strip()
    if len(text) > max_chars:
        raise RewriteRejected(f"the rewrite has {len(text)} characters; the cap is {max_chars}")
    return text or question


class RewriteRejected(ValueError):
    """The LLM's rewrite of a follow-up cannot be used; the message is for the log."""
