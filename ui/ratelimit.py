"""Per-client question budget: a sliding one-minute window, in memory, thread-safe."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, window_s: float = 60.0):
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float | None:
        """Count one question for ``client``; None when allowed, else seconds until the next one is."""
        if self.per_minute <= 0:
            return None
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(client, deque())
            while seen and now - seen[0] >= self.window_s:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return max(0.0, self.window_s - (now - seen[0]))
            seen.append(now)
            # Forget idle clients so the table does not grow without bound.
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < self.window_s}
            return None
