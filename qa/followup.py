"""Follow-up questions: turn a question that leans on earlier turns into one that stands alone.

With an LLM the condense prompt rewrites it. Without one, a heuristic: a short question, or one
that opens like a continuation ('and ...', 'what about ...', '那么…', '…呢') or refers back with a
pronoun, is searched together with the previous user question, which weighs less than the new one.
"""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel

from qa.prompt import Prompts

_EN_CONTINUATION = re.compile(
    r"^(and|also|but|what about|how about|who else|what else|then|so)\b|\b(he|she|it|they|him|her|them|his|its|"
    r"their|this|that|these|those|there)\b", re.IGNORECASE,
)
_ZH_CONTINUATION = re.compile(r"^(那么|那|还有|另外|而|并且|以及|此外)|呢[？?]?$|(他|她|它|他们|她们|该|此|这|那)")
SHORT_WORDS = 5
SHORT_CHARS = 10


def user_turns(history: list[dict], limit: int) -> list[str]:
    """The last ``limit`` user messages of a chat history of {'role', 'content'} dicts."""
    turns = [str(m.get("content", "")) for m in history if m.get("role") == "user" and m.get("content")]
    return turns[-limit:] if limit else []


def is_follow_up(question: str, lang: str) -> bool:
    if lang == "zh":
        return len(question) <= SHORT_CHARS or bool(_ZH_CONTINUATION.search(question))
    return len(question.split()) <= SHORT_WORDS or bool(_EN_CONTINUATION.search(question))


def heuristic_context(question: str, history: list[dict], *, lang: str, turns: int) -> str:
    """Earlier user text to search along with the question; '' when it stands alone."""
    earlier = user_turns(history, turns)
    if not earlier or not is_follow_up(question, lang):
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
