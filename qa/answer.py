"""The answer a user gets, whatever produced it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    paragraph: str = Field(description="Paragraph number as printed in the record, e.g. '45'.")
    record: str = Field(description="Record id the paragraph belongs to.")
    quote: str = Field(description="The sentence of the paragraph the answer relies on.")


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    reason: str | None = Field(None, description="Why the answer abstains, when it does.")
    citations: list[Citation] = []
    retrieved: list[str] = Field([], description="Ranked paragraph numbers retrieved for the question.")
    mode: str = Field(description="extractive, or llm:<model>.")
    lang: str
    standalone_question: str | None = Field(None, description="The question as searched, for follow-ups.")
    notices: list[str] = []
    timings_ms: dict[str, float] = {}
    settings_hash: str = ""

    def public_json(self) -> dict:
        return self.model_dump(mode="json")


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message is for the user."""
