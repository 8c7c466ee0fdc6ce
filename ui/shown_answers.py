"""The answers a chat page has shown, found again from the message that shows them: a thumbs
up or down stores the rated answer's JSON, and a downloaded conversation cites its quotes.

The chat's messages carry only Markdown, so each answer is kept under the Markdown it is shown
as (in either interface language); the most recent answers only, so memory stays bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from qa.answer import Answer
from ui.labels import LABELS
from ui.markup import answer_markdown

KEPT = 2000
"""Answers remembered per chat page (all visitors together); older ones can no longer be rated."""


def message_text(message: Any) -> str:
    """The text of a chat message as Gradio hands it back: a string, a {'text'} part or a list of parts."""
    if isinstance(message, dict):
        content = message.get("content", message.get("text", message.get("value", "")))
        return message_text(content) if not isinstance(content, str) else content
    if isinstance(message, list | tuple):
        return "".join(message_text(part) for part in message)
    return message if isinstance(message, str) else ""


class ShownAnswers:
    def __init__(self, default_record: str = "", kept: int = KEPT) -> None:
        self._default_record = default_record
        self._kept = kept
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, answer: Answer) -> None:
        with self._lock:
            for lang in LABELS:
                shown = answer_markdown(answer, lang, self._default_record)
                self._answers[shown] = answer
                self._answers.move_to_end(shown)
            while len(self._answers) > self._kept * len(LABELS):
                self._answers.popitem(last=False)

    def find(self, message: Any) -> Answer | None:
        with self._lock:
            return self._answers.get(message_text(message))

    def in_chat(self, chat: list) -> list[Answer]:
        """The answers among a chat's messages, in order (error messages and questions skipped)."""
        found = (self.find(m) for m in chat or [] if isinstance(m, dict) and m.get("role") == "assistant")
        return [answer for answer in found if answer is not None]

    def recording(self, service: Any) -> _Recording:
        """``service`` whose answers (from ask, or the last item of ask_stream) are kept here."""
        return _Recording(service, self)


class _Recording:
    def __init__(self, service: Any, shown: ShownAnswers) -> None:
        self._service = service
        self._shown = shown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def ask(self, *args: Any, **kwargs: Any) -> Answer:
        answer = self._service.ask(*args, **kwargs)
        self._shown.add(answer)
        return answer

    def ask_stream(self, *args: Any, **kwargs: Any) -> Iterator:
        # Called now, not inside the generator: bad input must still raise before the first event.
        return self._watch(self._service.ask_stream(*args, **kwargs))

    def _watch(self, events) -> Iterator:
        for item in events:
            if isinstance(item, Answer):
                self._shown.add(item)
            yield item
