"""Follow-up questions: turn a question that leans on earlier turns into one that stands alone.

With an LLM the condense prompt rewrites it. Without one, a heuristic: a short question, or one
that opens like a continuation ('and ...', 'what about ...', '那么…', '…呢') or refers back with a
pronoun, is searched together with the previous user question, which weighs less than the new one.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from qa.language_pack import LanguagePack
from qa.prompt import Prompts


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


def condense(question: str, history: list[dict], *, lang: str, llm: BaseChatModel, prompts: Prompts,
             turns: int) -> str:
    """A standalone rewrite by the LLM. Raises on transport errors; the caller falls back."""
    recent = [m for m in history if m.get("role") in ("user", "assistant")][-2 * turns :]
    transcript = "\n".join(f"{m['role']}: {m.get('content', '')}" for m in recent)
    messages = prompts.condense.format_messages(language=lang, history=transcript, question=question)
    reply = llm.invoke(messages)
    text = str(reply.content).strip().strip('"').strip()
    return text or question
