"""Per-client question budget: a sliding one-minute window, in memory, thread-safe, bounded.

Memory is bounded twice: a client keeps at most ``per_minute`` timestamps, and at most
``max_clients`` clients are remembered (least recently seen forgotten first). Client names are
whatever ``ui.clients.client_id`` makes of the request (a key's position or an address, never a
raw token)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

MAX_CLIENTS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, window_s: float = 60.0,
                 max_clients: int = MAX_CLIENTS):
        self.per_minute = per_minute
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> float | None:
        """Count one question for ``client``; None when allowed, else seconds until the next one is."""
        if self.per_minute <= 0:
            return None
        now = self._clock()
        with self._lock:
            self._forget_idle(now)
            seen = self._seen.get(client)
            if seen is None:
                seen = self._seen[client] = deque()
                if len(self._seen) > self.max_clients:
                    # Full of clients active this minute: the least recently seen loses its count.
                    self._seen.popitem(last=False)
            self._seen.move_to_end(client)
            while seen and now - seen[0] >= self.window_s:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return max(0.0, self.window_s - (now - seen[0]))
            seen.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        # Least recently seen first: stop at the first client still inside the window.
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest and now - oldest[-1] < self.window_s:
                return
            self._seen.popitem(last=False)


OVER_LIMIT_HEADER = "x-recordqa-over-limit"


def over_limit_at_proxy(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait when the reverse proxy holding the rate limit for several replicas found this chat
    question over its client's budget, else None. The proxy (deploy/nginx.conf.template) lets such a
    chat question through with this header, so that the chat says so in its own words instead of
    Gradio's bare "Error". The header can only turn a question away, so it needs no trust: a client
    sending it refuses itself, and the proxy replaces whatever a client sent."""
    value = (headers or {}).get(OVER_LIMIT_HEADER, "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
