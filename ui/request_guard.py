"""What a request may cost before the app sees it: a cap on requests in flight (503), on the body
size (413, refused from Content-Length before a byte of the body is read; chunked bodies are
counted while read) and on the time the body may take to arrive (408). Pure ASGI, so it covers
every route, the mounted chat included; the answers are JSON errors of the one shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.errors import error_body

_DISCONNECT: Message = {"type": "http.disconnect"}


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    type: str = "invalid_request_error"
    retry_after: int | None = None


def too_large(limit: int) -> Refusal:
    return Refusal(413, "body_too_large", f"the request body is larger than the limit of {limit} bytes")


def too_slow(seconds: float) -> Refusal:
    return Refusal(408, "body_timeout", f"the request body did not arrive within {seconds:g} s")


OVERLOADED = Refusal(503, "overloaded", "the server is handling as many requests as it can; retry shortly",
                     "server_error", retry_after=1)


async def send_refusal(send: Send, refusal: Refusal) -> None:
    body = json.dumps(error_body(refusal.message, refusal.code, refusal.type)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-content-type-options", b"nosniff"),
               # The rest of the body may still be on its way: this connection is done.
               (b"connection", b"close")]
    if refusal.retry_after is not None:
        headers.append((b"retry-after", str(refusal.retry_after).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float, max_in_flight: int,
                 exempt: frozenset[str] = frozenset({"/metrics"}),
                 on_refused: Callable[[str], None] | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_in_flight = max_in_flight
        self.exempt = exempt
        self.on_refused = on_refused or (lambda code: None)
        self.in_flight = 0  # this app's own count; one event loop updates it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = scope["path"] not in self.exempt
        if counted and self.in_flight >= self.max_in_flight:
            self.on_refused(OVERLOADED.code)
            await send_refusal(send, OVERLOADED)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            self.on_refused("body_too_large")
            await send_refusal(send, too_large(self.max_body_bytes))
            return
        if counted:
            self.in_flight += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            if counted:
                self.in_flight -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        state = {"received": 0, "complete": False, "started": False, "refused": False}

        async def refuse(refusal: Refusal) -> Message:
            state["refused"] = True
            self.on_refused(refusal.code)
            if not state["started"]:
                state["started"] = True
                await send_refusal(send, refusal)
            return _DISCONNECT

        async def guarded_receive() -> Message:
            if state["refused"]:
                return _DISCONNECT
            if state["complete"]:
                # Past the body, receive() only waits for the client to leave (streaming responses).
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return await refuse(too_slow(self.body_timeout_s))
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body_bytes:
                    return await refuse(too_large(self.max_body_bytes))
                state["complete"] = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # the app answering a body it never got; the client already has our answer
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            # The app failing over the body it was refused is expected; anything else is not.
            if not state["refused"]:
                raise
