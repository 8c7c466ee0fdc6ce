"""A circuit breaker for the LLM endpoint. No I/O: the clock is handed in, so tests step time.

Closed: calls go through and consecutive failures are counted. After ``failures_to_open`` of them
it opens: no call is made for ``cooldown_s``, so a dead or hanging endpoint stops costing every
question a timeout. Then it is half-open: one trial call is let through; its success closes the
breaker, its failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    failures_to_open: int = 5
    cooldown_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _trial_out: bool = False
    # Request threads report outcomes concurrently; the counts must not lose updates.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def allow(self) -> bool:
        """Whether a call may be made now; in half-open state only one trial at a time is."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "open" or self._trial_out:
                return False
            self._trial_out = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial_out = 0, None, False

    def failed(self) -> None:
        with self._lock:
            if self._state() == "half_open" or self._opened_at is not None:
                # The trial failed (or a call let through before the breaker opened ended late).
                self._opened_at, self._trial_out = self.clock(), False
                return
            self._failures += 1
            if self._failures >= self.failures_to_open:
                self._opened_at = self.clock()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "open" if self.clock() - self._opened_at < self.cooldown_s else "half_open"
