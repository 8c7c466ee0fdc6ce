"""``/v1/chat/completions``: RecordQA as an OpenAI-compatible model.

The last user message is the question; earlier user/assistant messages are the history;
system messages are ignored (the record decides what is answered). An extra body field
``record`` (an id or a list of ids) restricts the search to those records. Besides the standard
fields, every completion carries:

- ``citations``: ``[{"paragraph", "record", "quote", "symbol", "record_title", "label"}]``, the cited paragraphs;
- ``recordqa``: the full answer JSON of ``/api/ask`` (retrieved, abstained, reason, mode, ...).

When streaming, both ride on the last chunk (the one with ``finish_reason``). With an LLM the
content deltas are its words as they arrive (markup and invalid citations already removed); the
text that counts is ``recordqa.answer`` on the last chunk: it has been checked as a whole, and
when it differs from the joined deltas (the model's reply was cut at the length cap, cited
nothing valid, or could not be used and the extractive answer was given instead) a client
should show it in place of what it streamed.

``usage`` counts tokens the way ``qa.usage`` says: the LLM's reported counts when it reports
them, else an estimate of the request's messages and the answer. Streaming clients get it with
``stream_options: {"include_usage": true}``, as a final chunk with empty ``choices``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from qa.answer import Answer
from qa.usage import TokenUsage
from ui.api import MAX_HISTORY_TURNS, MAX_TURN_CHARS, ServiceDep, client_id, require_key
from ui.errors import ApiError
from ui.markup import pieces

MODEL_ID = "recordqa"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = Field(None, max_length=MAX_TURN_CHARS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = Field(
        None, description=f"Text, or content parts whose text parts are joined; at most {MAX_TURN_CHARS} "
        "characters either way (the question itself is held to the configured question limit).")

    @field_validator("content")
    @classmethod
    def _capped(cls, content: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(content, str) and len(content) > MAX_TURN_CHARS:
            raise PydanticCustomError("string_too_long", "String should have at most {max_length} characters",
                                      {"max_length": MAX_TURN_CHARS})
        if isinstance(content, list) and sum(len(p.text or "") for p in content) > MAX_TURN_CHARS:
            raise PydanticCustomError("too_long", "the text parts together exceed {max_length} characters",
                                      {"max_length": MAX_TURN_CHARS})
        return content

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # Unknown OpenAI parameters (temperature, max_tokens, ...) are accepted and ignored.
    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=100,
        description="The last user or assistant message must be the user's (the question; else 400). Earlier "
        f"user/assistant messages are the history: only the last {MAX_HISTORY_TURNS} are kept, and of those the "
        "answer path reads the last few user turns (the history_turns setting). System messages are ignored.")
    stream: bool = False
    record: Annotated[str, Field(max_length=200)] | list[Annotated[str, Field(max_length=200)]] | None = Field(
        None, max_length=100, description="RecordQA's extra field: search only this record or these records (ids "
        "as `GET /api/records` lists them); default: every record. Unknown ids: 422 `unknown_record`.")


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question", "invalid_messages")
    # Older turns are never read (see ChatRequest.messages); they are not carried further.
    earlier = turns[:-1][-MAX_HISTORY_TURNS:]
    return turns[-1].text(), [{"role": m.role, "content": m.text()} for m in earlier]


def _extras(answer: Answer) -> dict:
    payload = answer.public_json()
    return {"citations": payload["citations"], "recordqa": payload}


def completion(answer: Answer, model: str, usage: dict) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": usage,
        **_extras(answer),
    }


def completion_chunks(stream: Iterable[str | Answer], model: str, *, usage: TokenUsage, prompt_text: str,
                      include_usage: bool = False) -> Iterator[str]:
    """Chunks as the answer is written (an extractive answer comes whole and is sent in pieces);
    the last content chunk carries ``citations`` and ``recordqa``; with ``include_usage`` a final
    chunk with no choices carries ``usage``."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    if include_usage:
        base["usage"] = None  # as OpenAI: null on every chunk but the last

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    for item in stream:
        if not isinstance(item, Answer):
            streamed = True
            yield chunk({"content": item})
            continue
        if not streamed:
            for piece in pieces(item.answer):
                yield chunk({"content": piece})
        yield chunk({}, "stop", **_extras(item))
        if include_usage:
            body = {**base, "choices": [], "usage": usage.as_json(prompt_text, item.answer)}
            yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _include_usage(body: ChatRequest) -> bool:
    options = (body.model_extra or {}).get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


router = APIRouter()


@router.get("/v1/models", dependencies=[Depends(require_key)], tags=["openai"])
def models() -> dict:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "recordqa"}]}


@router.post("/v1/chat/completions", dependencies=[Depends(require_key)], tags=["openai"],
             summary="OpenAI-compatible chat completion; citations in the top-level `citations` and `recordqa` "
                     "fields (on the last chunk when streaming).")
def chat_completions(body: ChatRequest, request: Request, svc: ServiceDep):
    question, history = split_messages(body.messages)
    model = body.model or MODEL_ID
    usage = TokenUsage()
    prompt_text = "\n".join([*(turn["content"] for turn in history), question])
    if body.stream:
        # Bad input is refused here, before the stream opens, so it still gets a 4xx status.
        events = svc.ask_stream(question, history, None, client_id(request), usage=usage, records=body.record)
        return StreamingResponse(completion_chunks(events, model, usage=usage, prompt_text=prompt_text,
                                                   include_usage=_include_usage(body)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    answer = svc.ask(question, history, None, client_id(request), usage=usage, records=body.record)
    return completion(answer, model, usage.as_json(prompt_text, answer.answer))
