"""POST /api/feedback: a thumbs up or down (and an optional comment) on an answer of /api/ask."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.answer import Answer
from ui.api import require_key
from ui.errors import ApiError
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore, Rating


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: dict[str, Any] | None = Field(
        None, description="The answer JSON exactly as /api/ask (or the `recordqa` field of /v1) returned it.")
    answer_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{16}$",
        description="Instead of `answer`: the `answer_id` a previous feedback on the same answer returned.")
    rating: Rating = Field(description="`up` (the answer is right and well cited) or `down` (it is not).")
    comment: str = Field("", max_length=MAX_COMMENT_CHARS, description="What was wrong or missing (optional).")


def feedback_store(request: Request) -> FeedbackStore:
    return FeedbackStore(request.app.state.service.settings.feedback_path)


router = APIRouter()


@router.post("/api/feedback", dependencies=[Depends(require_key)], tags=["answers"], status_code=201,
             summary="Rate an answer up or down, with an optional comment; kept with the answer's JSON, the "
                     "settings hash and the time (`recordqa feedback export` writes them as benchmark lines).")
def give_feedback(body: FeedbackRequest, request: Request,
                  store: Annotated[FeedbackStore, Depends(feedback_store)]) -> dict:
    if (body.answer is None) == (body.answer_id is None):
        raise ApiError(422, "send either 'answer' (the answer JSON) or 'answer_id', not both", "invalid_field")
    if body.answer is not None:
        try:
            answer = Answer.model_validate(body.answer).public_json()
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            raise ApiError(422, f"invalid field 'answer.{where}': {first['msg']}", "invalid_field") from exc
    else:
        answer = store.answer(body.answer_id)
        if answer is None:
            raise ApiError(404, f"no answer with answer_id '{body.answer_id}' was rated before; send the answer "
                                "JSON instead", "unknown_answer")
    settings = request.app.state.service.settings
    return store.add(answer, body.rating, body.comment, settings.settings_hash(), "api").public_json()
