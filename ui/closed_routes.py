"""Routes of the mounted Gradio chat that the chat never uses and that must not be reachable.

Gradio's upload route takes anonymous files of any size and answers with their path on the
server; its progress route reports on them. The chat has no file input, so both are closed under
every mount (and any path segment named like them), with the same 404 JSON as an unknown endpoint.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

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
        await self.app(scope, receive, send)
