"""A scripted OpenAI-compatible LLM on 127.0.0.1, for the streaming benchmark and the tests of
the LLM path: ``POST /v1/chat/completions`` plays the queued steps in order (then the default
step), plain or as real server-sent-event chunks when the request asks to stream.

Steps: ``Reply`` (content, streamed in pieces when asked), ``Stream`` (tokens with a first-token
delay and a gap between tokens), ``Fail`` (an HTTP status with a raw body) and ``Hang`` (no
answer until ``seconds`` pass or the peer stops). Every request body is kept, with the time its
first token was sent, so a client in the same process can compare clocks.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    content: str | dict
    """Text, or a dict sent as JSON text (the answer prompt's format)."""
    usage: tuple[int, int] = (10, 5)


@dataclass(frozen=True)
class Stream:
    tokens: tuple[str, ...]
    first_token_s: float = 0.0
    gap_s: float = 0.0
    usage: tuple[int, int] = (10, 5)
    hold_after: int = 0
    """With ``resume``: after this many tokens, wait for ``resume`` before sending the rest (a
    client can then prove it saw the first tokens before the reply was complete)."""
    resume: threading.Event | None = None


@dataclass(frozen=True)
class Fail:
    status: int = 500
    body: str = '{"error": {"message": "the model crashed", "type": "server_error"}}'


@dataclass(frozen=True)
class Hang:
    seconds: float = 60.0


@dataclass
class Served:
    body: dict
    received: float
    first_token: float | None = None


@dataclass
class ScriptedLLM:
    default: Reply | Stream | Fail | Hang = field(default_factory=lambda: Fail(500, '{"error": "no step left"}'))

    def __post_init__(self) -> None:
        self._initial_default = self.default
        self.steps: collections.deque = collections.deque()
        self.served: list[Served] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = self._handle_error
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.served)

    def play(self, *steps: Reply | Stream | Fail | Hang | str | dict) -> None:
        """Queue steps; a bare string or dict is a Reply."""
        with self._lock:
            self.steps.extend(s if isinstance(s, Reply | Stream | Fail | Hang) else Reply(s) for s in steps)

    def reset(self) -> None:
        """Nothing queued, the default step given at the start, hanging requests released first."""
        self.stopping.set()
        with self._lock:
            self.steps.clear()
            self.default = self._initial_default
        self.stopping.clear()

    def start(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handle_error(self, request, address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a client that hung up is not a failure of the peer
            self.errors.append(error)

    def _next(self, body: dict) -> tuple[Served, Reply | Stream | Fail | Hang]:
        with self._lock:
            served = Served(body, time.perf_counter())
            self.served.append(served)
            return served, self.steps.popleft() if self.steps else self.default


def _chunks(text: str, size: int = 4) -> tuple[str, ...]:
    return tuple(text[i:i + size] for i in range(0, len(text), size)) or ("",)


def _handler(peer: ScriptedLLM):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
            served, step = peer._next(body)
            try:
                if isinstance(step, Hang):
                    peer.stopping.wait(step.seconds)
                    return self._send(503, '{"error": {"message": "hung up"}}')
                if isinstance(step, Fail):
                    return self._send(step.status, step.body)
                if isinstance(step, Reply):
                    content = step.content if isinstance(step.content, str) else json.dumps(step.content,
                                                                                           ensure_ascii=False)
                    step = Stream(_chunks(content), usage=step.usage)
                if body.get("stream"):
                    return self._stream(step, served, body)
                if step.first_token_s:
                    peer.stopping.wait(step.first_token_s)
                served.first_token = time.perf_counter()
                self._send(200, json.dumps(self._completion(body, "".join(step.tokens), step.usage),
                                           ensure_ascii=False))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout, length cap): not a failure of the peer

        def _completion(self, body: dict, content: str, usage: tuple[int, int]) -> dict:
            return {"id": "chatcmpl-peer", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "peer"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": _usage(usage)}

        def _stream(self, step: Stream, served: Served, body: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {"id": "chatcmpl-peer", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": body.get("model", "peer")}

            def event(payload: dict | str) -> None:
                data = payload if isinstance(payload, str) else json.dumps({**base, **payload}, ensure_ascii=False)
                raw = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()

            event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
            if step.first_token_s:
                peer.stopping.wait(step.first_token_s)
            for i, token in enumerate(step.tokens):
                if i and step.gap_s:
                    peer.stopping.wait(step.gap_s)
                if step.resume is not None and i == step.hold_after:
                    step.resume.wait(60)
                if i == 0:
                    served.first_token = time.perf_counter()
                event({"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]})
            event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                event({"choices": [], "usage": _usage(step.usage)})
            event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _send(self, status: int, text: str) -> None:
            data = text.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format, *args):  # quiet
            pass

    return Handler


def _usage(usage: tuple[int, int]) -> dict:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
