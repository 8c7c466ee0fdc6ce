"""The answer a user gets, whatever produced it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Citation(BaseModel):
    paragraph: str = Field(description="Paragraph number as printed in the record, e.g. '45'.")
    record: str = Field(description="Record id the paragraph belongs to.")
    quote: str = Field(description="The sentence of the paragraph the answer relies on.")
    symbol: str | None = Field(None, description="The record's document symbol, when it has one.")
    record_title: str | None = Field(None, description="The record's title, when known.")
    label: str = Field("", description="How the citation is shown: '¶45' with one record loaded, "
                       "'E/ICEF/2023/14 ¶12' (symbol, else record id) with several.")


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    reason: str | None = Field(None, description="Why the answer abstains, when it does.")
    outcome: str = Field(
        "answer", description="'answer'; 'indirect' (the record does not state this directly: the closest "
        "passages are cited, no claim is made, counted as an abstention); or 'abstain'.")
    confidence: float | None = Field(
        None, description="Calibrated probability that the record answers the question (extractive answers).")
    citations: list[Citation] = []
    retrieved: list[str] = Field([], description="Ranked paragraph numbers retrieved for the question.")
    mode: str = Field(description="extractive, or llm:<model>.")
    lang: str
    standalone_question: str | None = Field(None, description="The question as searched, for follow-ups.")
    notices: list[str] = []
    timings_ms: dict[str, float] = {}
    settings_hash: str = ""
    explain: dict | None = Field(None, description="With explain: the question's analysis and the decision's features.")

    def public_json(self) -> dict:
        # 'explain' appears only when asked for, so the usual JSON keeps its documented keys.
        return self.model_dump(mode="json", exclude={"explain"} if self.explain is None else None)


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message is for the user."""

    code = "invalid_question"


class UnknownRecordError(QuestionError):
    """A question asked of a record the index does not hold; the message lists the loaded ids."""

    code = "unknown_record"
