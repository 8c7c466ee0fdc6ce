"""The JSON API: /api/ask (and its server-sent-events variant), /api/paragraphs/{id}, /healthz."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.answer import Answer
from ui.errors import ApiError
from ui.markup import pieces
from ui.paragraph_view import paragraph_view
from ui.service import Service


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question, in Chinese or English.")
    history: list[Turn] = Field([], max_length=50, description="Earlier turns, oldest first, for follow-ups.")
    lang: Literal["zh", "en"] | None = Field(None, description="Answer language; default: the question's.")


def service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(service)]


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def client_id(request: Request) -> str:
    """Who the rate limit counts: the API key when one is sent, else the peer address.
    X-Forwarded-For is not trusted: behind a proxy, put the limit in the proxy."""
    key = presented_key(request)
    return f"key:{key}" if key else f"ip:{request.client.host if request.client else 'unknown'}"


def require_key(request: Request, svc: ServiceDep) -> None:
    if not svc.key_valid(presented_key(request)):
        raise ApiError(401, "a valid API key is required (Authorization: Bearer <key>)", "invalid_api_key",
                       "authentication_error", {"WWW-Authenticate": "Bearer"})


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(answer: Answer) -> Iterator[str]:
    """The answer text in pieces (``delta``), then the whole answer JSON (``answer``)."""
    for piece in pieces(answer.answer):
        yield sse("delta", {"text": piece})
    yield sse("answer", answer.public_json())


router = APIRouter()


@router.post("/api/ask", dependencies=[Depends(require_key)], tags=["answers"],
             summary="Answer a question with paragraph citations (the JSON of `recordqa ask --json`).")
def ask(body: AskRequest, request: Request, svc: ServiceDep) -> dict:
    answer = svc.ask(body.question, [t.model_dump() for t in body.history], body.lang, client_id(request))
    return answer.public_json()


@router.post("/api/ask/stream", dependencies=[Depends(require_key)], tags=["answers"],
             summary="Like /api/ask, as server-sent events: `delta` events with text pieces, then one `answer` "
                     "event with the full answer JSON.",
             response_class=StreamingResponse)
def ask_stream(body: AskRequest, request: Request, svc: ServiceDep) -> StreamingResponse:
    # Bad input is refused before the stream opens, so it still gets a 4xx status.
    answer = svc.ask(body.question, [t.model_dump() for t in body.history], body.lang, client_id(request))
    return StreamingResponse(answer_events(answer), media_type="text/event-stream",
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


@router.get("/healthz", tags=["service"],
            summary="Readiness: the build answering, answer mode, dense retrieval on or off, degraded states; "
                    "HTTP 503 when the service cannot answer.")
def healthz(svc: ServiceDep) -> JSONResponse:
    status = svc.status()
    return JSONResponse(status, status_code=200 if status["ready"] else 503)


@router.get("/livez", include_in_schema=False)
def livez() -> dict:
    return {"status": "alive"}
