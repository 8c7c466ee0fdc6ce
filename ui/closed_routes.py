"""What reaches the mounted Gradio chat.

Gradio's upload route takes anonymous files of any size and answers with their path on the
server; its progress route reports on them. The chat has no file input, so both are closed under
every mount (and any path segment named like them), with the same 404 JSON as an unknown endpoint.

A body that is not UTF-8, or whose JSON escapes an unpaired surrogate, is refused with 400
before Gradio sees it: Gradio's own validation error handler fails on either with a 500 and a
traceback. Bodies are already capped in size
and time by ``ui.request_guard``, so reading one whole here is bounded.
"""

from __future__ import annotations

import json

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.errors import error_body

CLOSED_SEGMENTS = frozenset({"upload", "upload_progress"})


def closed(path: str, mounts: frozenset[str]) -> bool:
    segments = [s for s in path.split("/") if s]
    return bool(segments) and f"/{segments[0]}" in mounts and any(
        s.lower() in CLOSED_SEGMENTS for s in segments[1:])


class ClosedRoutes:
    def __init__(self, app: ASGIApp, *, mounts: frozenset[str]):
        self.app = app
        self.mounts = mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and closed(scope["path"], self.mounts):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            message = f"no such endpoint: {scope['method']} {scope['path']}"
            await JSONResponse(error_body(message, "http_error"), status_code=404)(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] != "GET" and under(scope["path"], self.mounts):
            messages, body = [], b""
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            problem = body_problem(body)
            if problem is not None:
                await JSONResponse(error_body(problem, "invalid_body"), status_code=400)(scope, receive, send)
                return
            await self.app(scope, replay(messages, receive), send)
            return
        await self.app(scope, receive, send)


def body_problem(body: bytes) -> str | None:
    """Why Gradio would fail on this body with a 500, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the request body is not valid UTF-8"
    if "\\u" in text:  # only JSON escapes can smuggle in an unpaired surrogate
        try:
            json.dumps(json.loads(text), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "the request body holds an unpaired surrogate escape"
        except (ValueError, RecursionError):
            pass  # not JSON: Gradio refuses it itself
    return None


def under(path: str, mounts: frozenset[str]) -> bool:
    return any(path == mount or path.startswith(mount + "/") for mount in mounts)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive() that hands out ``messages`` first, then whatever comes next (a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
