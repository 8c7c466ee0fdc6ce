"""Every call to the LLM goes through the gate: its own bounded pool of threads, a timeout and
a circuit breaker.

The calls run on the gate's ``concurrency`` threads, never on the web server's, so a hanging
endpoint cannot take the threads that serve health checks, paragraphs and extractive answers.
When every slot is taken the gate refuses at once ("busy") instead of queueing; when the breaker
is open it refuses without calling ("paused"). Errors and timeouts are logged with their details
here; callers get an ``LLMUnavailable`` whose reason is one word, fit for a fixed notice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from qa.circuit import CircuitBreaker, State

log = logging.getLogger("recordqa.llm")

Reason = Literal["busy", "paused", "failed"]


class LLMUnavailable(RuntimeError):
    """No usable LLM call: ``reason`` is busy (all slots taken), paused (breaker open) or failed."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason: Reason = reason


class LLMGate:
    """Runs ``llm.invoke`` / ``llm.stream`` with a bounded pool, a timeout and a breaker."""

    def __init__(self, llm: Any, *, concurrency: int = 4, timeout_s: float = 30.0,
                 breaker: CircuitBreaker | None = None):
        self.llm = llm
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="recordqa-llm")

    @property
    def circuit(self) -> State:
        return self.breaker.state

    def invoke(self, messages: list) -> Any:
        """The model's reply message. Raises LLMUnavailable."""
        self._enter()
        future = self._pool.submit(self._run, messages)
        try:
            reply = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            log.warning("LLM call timed out after %.1f s", self.timeout_s)
            self.breaker.failed()
            raise LLMUnavailable("failed") from None
        except Exception as exc:
            log.warning("LLM call failed: %s: %s", type(exc).__name__, exc)
            self.breaker.failed()
            raise LLMUnavailable("failed") from exc
        self.breaker.succeeded()
        return reply

    def stream(self, messages: list) -> Iterator[Any]:
        """The model's reply chunks as they arrive; each must come within the timeout. Closing
        the iterator early stops reading the reply. Raises LLMUnavailable."""
        self._enter()
        chunks: queue.Queue = queue.Queue()
        stop = threading.Event()
        self._pool.submit(self._pump, messages, chunks, stop)
        outcome = "stopped"
        try:
            while True:
                try:
                    kind, item = chunks.get(timeout=self.timeout_s)
                except queue.Empty:
                    log.warning("LLM stream sent nothing for %.1f s", self.timeout_s)
                    outcome = "failed"
                    raise LLMUnavailable("failed") from None
                if kind == "chunk":
                    yield item
                elif kind == "end":
                    outcome = "done"
                    return
                else:
                    log.warning("LLM stream failed: %s: %s", type(item).__name__, item)
                    outcome = "failed"
                    raise LLMUnavailable("failed") from item
        finally:
            stop.set()
            # A reader that stopped early (length cap, client gone) got what it read: the endpoint worked.
            if outcome == "failed":
                self.breaker.failed()
            else:
                self.breaker.succeeded()

    def _enter(self) -> None:
        if not self._slots.acquire(blocking=False):
            log.info("LLM busy: all slots taken; answering extractively")
            raise LLMUnavailable("busy")
        if not self.breaker.allow():
            self._slots.release()
            raise LLMUnavailable("paused")

    def _run(self, messages: list) -> Any:
        try:
            return self.llm.invoke(messages)
        finally:
            # The slot is freed when the call really ends, not when its caller gave up waiting.
            self._slots.release()

    def _pump(self, messages: list, chunks: queue.Queue, stop: threading.Event) -> None:
        try:
            reply = self.llm.stream(messages)
            try:
                for chunk in reply:
                    if stop.is_set():
                        return
                    chunks.put(("chunk", chunk))
            finally:
                # Closing the generator closes the HTTP response: the server stops generating.
                close = getattr(reply, "close", None)
                if close is not None:
                    close()
            chunks.put(("end", None))
        except Exception as exc:
            chunks.put(("error", exc))
        finally:
            self._slots.release()
