"""The shape an LLM reply must have before its words are considered: a JSON object
``{"answer": "<text>", "citations": ["N", ...]}``, or plain text with [¶N] markers.

Anything else (a null or object answer, citations sent as one string, an empty reply) is not
guessed at: it raises UnusableReply and the caller answers extractively.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from qa.citation import cited_numbers

_JSON = re.compile(r"\{.*\}", re.DOTALL)
_PROSE = object()


class UnusableReply(ValueError):
    """The reply does not have the expected shape; the message is for the log, not the user."""


class LLMReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    answer: StrictStr = Field(min_length=1, description="The answer text with [¶N] markers.")
    citations: list[StrictStr | StrictInt] = Field([], description="Cited paragraph numbers ('N' or 'REC:N').")

    def references(self) -> list[str]:
        """Cited references in order, each once: the markers in the text, then the listed ones."""
        listed = [str(c).strip().lstrip("¶").strip() for c in self.citations]
        return list(dict.fromkeys(cited_numbers(self.answer) + [ref for ref in listed if ref]))


def message_text(content: object) -> str:
    """The text of a chat message's content: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       for part in content if isinstance(part, str | dict))
    return ""


def parse_reply(content: object) -> LLMReply:
    """The reply as an LLMReply. A JSON object must match the schema; text that holds no JSON
    object is the answer itself."""
    text = message_text(content).strip()
    try:
        whole = json.loads(text)
    except ValueError:
        whole = _PROSE
    if isinstance(whole, str):
        text = whole.strip()  # a JSON string is its text
    elif whole is not _PROSE and not isinstance(whole, dict):
        raise UnusableReply(f"the reply is JSON but not an object: {type(whole).__name__}")
    match = _JSON.search(text)
    if match:
        try:
            data = json.loads(match.group())
        except json.JSONDecodeError:
            data = None  # braces in prose, not a JSON reply
        if data is not None:
            if not isinstance(data, dict):
                raise UnusableReply(f"the reply is JSON but not an object: {type(data).__name__}")
            try:
                reply = LLMReply.model_validate(data)
            except ValidationError as exc:
                raise UnusableReply(f"the reply does not match the schema: {exc.errors(include_url=False)}") from exc
            if not reply.answer.strip():
                raise UnusableReply("the reply's answer is blank")
            return reply
    if not text:
        raise UnusableReply("the reply is empty")
    return LLMReply(answer=text)
