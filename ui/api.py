"""The JSON API: /api/ask (and its server-sent-events variant), /api/paragraphs/{id}, /healthz."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.answer import Answer
from ui import clients
from ui.errors import ApiError
from ui.markup import pieces
from ui.paragraph_view import paragraph_view
from ui.service import Service

MAX_TURN_CHARS = 20_000
"""Longest earlier turn accepted (answers quoting several paragraphs stay well below it)."""
MAX_HISTORY_TURNS = 50


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # minLength is stated, not enforced here: the answer path refuses an empty or blank question
    # with its own 400 message, which the schema documents.
    question: str = Field(description="The question, in Chinese or English; refused (400) when blank, longer "
                          "than the configured limit (2000 by default), or holding markup or control characters.",
                          json_schema_extra={"minLength": 1})
    history: list[Turn] = Field([], max_length=MAX_HISTORY_TURNS,
                                description="Earlier turns, oldest first, for follow-ups; only the last few "
                                "user turns (the history_turns setting) are read.")
    lang: Literal["zh", "en"] | None = Field(None, description="Answer language; default: the question's.")
    record: Annotated[str, Field(max_length=200)] | list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=100, description="Search only this record, or these records (ids as `GET /api/records` "
        "lists them); default: every record. An id that is not loaded is refused (422 `unknown_record`, naming "
        "the loaded ids).")


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def client_id(request: Request) -> str:
    """Who the rate limit counts (see ui.clients): a configured key's position, else the peer address."""
    return clients.client_id(presented_key(request), request.app.state.service.settings.api_keys,
                             request.client.host if request.client else None)


def require_key(request: Request, svc: ServiceDep) -> None:
    if not svc.key_valid(presented_key(request)):
        raise ApiError(401, "a valid API key is required (Authorization: Bearer <key>)", "invalid_api_key",
                       "authentication_error", {"WWW-Authenticate": "Bearer"})


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(stream: Iterable[str | Answer]) -> Iterator[str]:
    """``delta`` events as the answer is written, then the whole answer JSON (``answer``).

    With an LLM the deltas are its text as it arrives; the ``answer`` event carries the checked
    text, which replaces the deltas when they differ. An extractive answer comes whole and is
    sent in pieces."""
    streamed = False
    for item in stream:
        if isinstance(item, Answer):
            if not streamed:
                for piece in pieces(item.answer):
                    yield sse("delta", {"text": piece})
            yield sse("answer", item.public_json())
        else:
            streamed = True
            yield sse("delta", {"text": item})


router = APIRouter()


@router.post("/api/ask", dependencies=[Depends(require_key)], tags=["answers"],
             summary="Answer a question with paragraph citations (the JSON of `recordqa ask --json`).")
def ask(body: AskRequest, request: Request, svc: ServiceDep) -> dict:
    answer = svc.ask(body.question, [t.model_dump() for t in body.history], body.lang, client_id(request),
                     records=body.record)
    return answer.public_json()


@router.post("/api/ask/stream", dependencies=[Depends(require_key)], tags=["answers"],
             summary="Like /api/ask, as server-sent events: `delta` events with the text as it is written, then "
                     "one `answer` event with the full answer JSON, whose `answer` replaces the deltas when they "
                     "differ (an LLM reply that was cut, cited nothing valid or could not be used).",
             response_class=StreamingResponse)
def ask_stream(body: AskRequest, request: Request, svc: ServiceDep) -> StreamingResponse:
    # Bad input is refused before the stream opens, so it still gets a 4xx status.
    events = svc.ask_stream(body.question, [t.model_dump() for t in body.history], body.lang, client_id(request),
                            records=body.record)
    return StreamingResponse(answer_events(events), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/api/paragraphs/{paragraph_id}", tags=["record"],
            summary="One paragraph in every language with its section and agenda item.")
def paragraph(paragraph_id: str, svc: ServiceDep,
              highlight: str | None = Query(None, max_length=4000,
                                            description="Answer sentence whose supporting sentences to mark.")
              ) -> dict:
    corpus = svc.answerer.index.corpus
    key = corpus.resolve(paragraph_id.strip())
    if key is None:
        numbers = [k.rpartition(":")[2] for k in corpus.keys()]  # noqa: SIM118 - Corpus.keys() is ours
        raise ApiError(404, f"no paragraph '{paragraph_id[:40]}' in the record "
                            f"(paragraphs {numbers[0]}-{numbers[-1]} of {', '.join(corpus.record_ids)})",
                       "unknown_paragraph")
    return paragraph_view(corpus, key, highlight)


@router.get("/api/records", tags=["record"],
            summary="The loaded records: id, symbol, title, languages, paragraph count, numbering (own or generated); "
                    "and the widget's default title.")
def records(svc: ServiceDep) -> dict:
    from ui.record_card import widget_title

    answerer = svc.answerer
    # Server file paths are not the client's business (`recordqa records --json` shows them).
    listed = [{k: v for k, v in info.as_json().items() if k != "files"} for info in answerer.records.values()]
    return {"records": listed,
            "title": {lang: widget_title(answerer.index.corpus, lang) for lang in ("zh", "en")}}


@router.get("/healthz", tags=["service"],
            summary="Readiness: the build answering, answer mode, dense retrieval on or off, degraded states; "
                    "HTTP 503 when the service cannot answer.")
def healthz(svc: ServiceDep) -> JSONResponse:
    status = svc.status()
    return JSONResponse(status, status_code=200 if status["ready"] else 503)


@router.get("/livez", include_in_schema=False)
def livez() -> dict:
    return {"status": "alive"}
