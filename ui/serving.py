"""How uvicorn serves the app: the one ``uvicorn.Config`` that ``recordqa serve`` runs (and the tests
start), and the HTTP protocol that keeps slow or idle clients from holding the server.

uvicorn alone never times out a connection that has not finished its request headers, and its
``limit_concurrency`` counts idle connections, so a few hundred silent sockets would turn every
new client away with 503. Here, instead:

- a connection must complete its request headers within ``header_timeout_s`` (from connecting,
  or from the end of its previous response), else it is closed;
- request line plus headers larger than ``max_header_bytes`` get 431;
- past ``max_connections`` open connections, the longest-idle connection with no request in
  progress is closed to make room: idle sockets cannot lock a new client out;
- the body timeout, the body size limit and the cap on requests in flight are in
  ``ui.request_guard`` (they answer with JSON errors).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from recordqa.settings import Settings


def _raw_error(status: str, message: str, code: str, type_: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"error": {"message": message, "type": type_, "code": code}}).encode()
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\n%scontent-length: %d\r\n\r\n%s"
            % (status.encode(), extra, len(body), body))


_FULL = _raw_error("503 Service Unavailable", "too many open connections; retry", "overloaded", "server_error",
                   b"retry-after: 1\r\n")


def _too_large(limit: int) -> bytes:
    return _raw_error("431 Request Header Fields Too Large", f"the request headers are larger than {limit} bytes",
                      "headers_too_large", "invalid_request_error")


def guarded_protocol(header_timeout_s: float, max_connections: int, max_header_bytes: int) -> type[H11Protocol]:
    """An h11 protocol class with a header timeout, a header size cap and idle-connection eviction
    (settings baked in, since uvicorn instantiates the class itself)."""

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _idle_since: float = 0.0
        _header_bytes: int = 0
        _tail: bytes = b""

        def data_received(self, data: bytes) -> None:
            # Only while a request's headers are awaited: the rest of a body the app did not read
            # may still be arriving after the response, and is not header bytes.
            if self.conn.their_state is h11.IDLE:
                # h11 caps only headers that arrive in pieces; whole ones in one read pass uncounted.
                seen = self._tail + data
                end = seen.find(b"\r\n\r\n")
                self._header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._tail = seen[-3:]
                if self._header_bytes > max_header_bytes:
                    self.transport.write(_too_large(max_header_bytes))
                    self.transport.close()
                    return
            super().data_received(data)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._idle_since = time.monotonic()
            self._arm_header_timer()
            if len(self.connections) > max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # headers complete: a request is now in progress
                self._disarm_header_timer()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            # The connection now belongs to the WebSocket protocol: this one's timer must not close it.
            self._disarm_header_timer()
            super().handle_websocket_upgrade(event)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._idle_since = time.monotonic()
                self._header_bytes, self._tail = 0, b""
                self._arm_header_timer()

        def _busy(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _make_room(self) -> None:
            idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol)
                    and not c._busy() and not c.transport.is_closing()]
            if idle:
                min(idle, key=lambda c: c._idle_since).transport.close()
            else:
                # Every other connection is in the middle of a request: this one cannot be served now.
                self.transport.write(_FULL)
                self.transport.close()

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if not self._busy() and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def server_config(settings: Settings, app: FastAPI) -> uvicorn.Config:
    """The uvicorn configuration of ``recordqa serve``."""
    access = logging.getLogger("recordqa.access")
    if settings.access_log and not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
    trusted = [str(network) for network in settings.trusted_proxies]
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # ours (ui.access_log) names the route template and never the query string
        timeout_graceful_shutdown=3,
        # h11, not httptools: only h11 caps the size of request line plus headers.
        http=guarded_protocol(settings.header_timeout_s, settings.max_connections, settings.max_header_bytes),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_s,
        # uvicorn's own cap counts idle connections too (see the module docstring): ours replace it.
        limit_concurrency=None,
        backlog=2048,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; only configured proxies here.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        server_header=False,
    )
