"""One log line and one metrics sample per request: method, route template, status, milliseconds,
client; the question only when ``log_questions`` is on. Routes are logged and counted by their
template (``/api/paragraphs/{paragraph_id}``), never by the raw path, so a scanner trying a
million paths adds one label value (``unmatched``), not a million, and identifiers and query
strings stay out of the log."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.metrics import Metrics

QUESTION_PATHS = frozenset({"/api/ask", "/api/ask/stream", "/v1/chat/completions"})
LOGGED_QUESTION_CHARS = 300


def route_template(scope: Scope) -> str:
    """The matched route's template (with its mount prefix), or the mount, or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    root = scope.get("root_path", "") or ""
    if path:
        return root + path
    return f"{root}/*" if root else "unmatched"


def question_of(body: bytes) -> str | None:
    """The question in an /api/ask or chat-completions body, else None."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("question"), str):
        return data["question"]
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return None


class RequestObserver:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, log: logging.Logger | None, log_questions: bool):
        self.app = app
        self.metrics = metrics
        self.log = log
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering
        body = bytearray()
        keep_body = self.log_questions and scope["path"] in QUESTION_PATHS

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def observed_receive() -> Message:
            message = await receive()
            if keep_body and message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        self.metrics.request_started()
        try:
            await self.app(scope, observed_receive if keep_body else receive, observed_send)
        finally:
            self.metrics.request_ended()
            seconds = time.perf_counter() - start
            route = route_template(scope)
            self.metrics.request(scope["method"], route, status, seconds)
            if self.log is not None:
                self._write(scope, route, status, seconds, bytes(body) if keep_body else None)

    def _write(self, scope: Scope, route: str, status: int, seconds: float, body: bytes | None) -> None:
        client = scope.get("client")
        line = f"{scope['method']} {route} {status} {seconds * 1000:.1f}ms {client[0] if client else '-'}"
        if body is not None:
            question = question_of(body)
            if question is not None:
                # JSON-quoted: a newline in a question must not forge a second log line.
                quoted = json.dumps(question[:LOGGED_QUESTION_CHARS], ensure_ascii=False)
                line += " question=" + quoted.encode("utf-8", "backslashreplace").decode("utf-8")
        self.log.info(line)
