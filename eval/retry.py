"""When to ask a deployment again: which failures are worth a retry, how long to wait
(the server's ``Retry-After`` first, else exponential backoff) and when to give up. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})
"""Rate limited, or unavailable for now: the same request may well succeed later. Other
statuses say something about the request or the deployment that waiting will not change."""


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` further attempts after the first, and at most ``budget_s`` seconds of waiting
    for one question, so a deployment that stays down cannot hold the run for long."""

    retries: int = 4
    budget_s: float = 60.0
    backoff_s: float = 0.5
    backoff_cap_s: float = 8.0

    def backoff(self, retry: int) -> float:
        """Wait before retry number ``retry`` (0-based) when the server named no time."""
        return min(self.backoff_cap_s, self.backoff_s * 2 ** retry)

    def wait(self, retry: int, retry_after: float | None, waited: float) -> float | None:
        """Seconds to wait before retry ``retry``, or None to give up: no retries left, or the
        wait would overrun the budget (a server asking for more than that is not waited for)."""
        if retry >= self.retries:
            return None
        seconds = retry_after if retry_after is not None else self.backoff(retry)
        return seconds if waited + seconds <= self.budget_s else None


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP date (RFC 9110 10.2.3); None when
    absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
