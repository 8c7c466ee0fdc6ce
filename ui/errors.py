"""Every error the server returns is JSON of one shape, with a message meant for a person:
``{"error": {"message", "type", "code"}}`` (the OpenAI error shape, so OpenAI clients show it)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.answer import QuestionError
from ui.service import RateLimited

log = logging.getLogger("recordqa.server")


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, type_: str = "invalid_request_error",
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.type, self.headers = status, message, code, type_, headers


def error_body(message: str, code: str, type_: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": type_, "code": code}}


def _response(status: int, message: str, code: str, type_: str = "invalid_request_error",
              headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, code, type_), status_code=status, headers=headers)


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person.")
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error or server_error.")
    code: str = Field(description="Stable machine-readable reason, e.g. invalid_question, rate_limited.")


class ErrorBody(BaseModel):
    """The one error shape (OpenAI's)."""

    error: ErrorDetail


TOO_LONG = frozenset({"string_too_long", "too_long"})


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", "invalid_json"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if first.get("type") == "missing":
        return f"missing field '{where}'", "missing_field"
    if first.get("type") in TOO_LONG and first.get("loc", ("",))[0] == "body":
        return f"field '{where}' is too long: {first.get('msg', 'too long')}", "too_long"
    return f"invalid field '{where}': {first.get('msg', 'invalid value')}", "invalid_field"


VALIDATION_STATUS = {"invalid_json": 400, "too_long": 413}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _response(exc.status, exc.message, exc.code, exc.type, exc.headers)

    @app.exception_handler(QuestionError)
    async def _question_error(request: Request, exc: QuestionError):
        # A record id that is not loaded is a field with a wrong value (422); any other refusal is the question's.
        code = getattr(exc, "code", "invalid_question")
        return _response(422 if code == "unknown_record" else 400, str(exc), code)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited):
        seconds = max(1, round(exc.retry_after_s))
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.refused("rate_limited")
        return _response(429, f"too many questions from this client; retry in {seconds} s", "rate_limited",
                         "rate_limit_error", {"Retry-After": str(seconds)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, code = _validation_message(exc)
        return _response(VALIDATION_STATUS.get(code, 422), message, code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return _response(exc.status_code, message, "http_error", headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The trace goes to the server log, never to the client.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(500, "internal error; it has been logged", "internal_error", "server_error")
