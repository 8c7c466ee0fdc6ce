"""Prometheus metrics of one app: its own registry (never the process-wide default, so two apps in
one process count apart), fed by the request observer and by the answer path through the methods
below. Served at ``GET /metrics`` (not rate-limited, not in the OpenAPI document)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Answers take tens of milliseconds extractively and seconds with an LLM.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter("recordqa_http_requests", "HTTP requests by method, route template and status.",
                                 ["method", "route", "status"], registry=self.registry)
        self._latency = Histogram("recordqa_http_request_duration_seconds",
                                  "Time from request to the end of the response, by method and route template.",
                                  ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._in_flight = Gauge("recordqa_http_requests_in_flight", "Requests being handled now.",
                                registry=self.registry)
        self._refusals = Counter("recordqa_refusals", "Requests refused before an answer, by reason "
                                 "(rate_limited, body_too_large, body_timeout, overloaded).", ["reason"],
                                 registry=self.registry)
        self._answers = Counter("recordqa_answers", "Answers by mode (extractive, llm:<model>) and whether the "
                                "record answered or the system abstained.", ["mode", "outcome"],
                                registry=self.registry)
        self._llm_fallbacks = Counter("recordqa_llm_fallbacks", "LLM calls that failed and fell back to the "
                                      "extractive answer, by reason.", ["reason"], registry=self.registry)
        self._index_age = Gauge("recordqa_index_build_age_seconds", "Seconds since the live index was built.",
                                registry=self.registry)

    # ---- fed by the web layer

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def request_started(self) -> None:
        self._in_flight.inc()

    def request_ended(self) -> None:
        self._in_flight.dec()

    def refused(self, reason: str) -> None:
        self._refusals.labels(reason).inc()

    # ---- for the answer path

    def answered(self, mode: str, abstained: bool) -> None:
        """One answer given; ``mode`` as in the answer JSON."""
        self._answers.labels(mode, "abstained" if abstained else "answered").inc()

    def llm_fallback(self, reason: str) -> None:
        """The LLM failed (timeout, HTTP error, unusable reply) and the extractive answer was used."""
        self._llm_fallbacks.labels(reason).inc()

    def index_built_at(self, when: float | Callable[[], float | None]) -> None:
        """The live index's build time (Unix seconds), or a function returning it (None: unknown), read
        at every scrape so a build swapped in later is reported; the gauge shows its age."""
        source = when if callable(when) else (lambda: when)

        def age() -> float:
            built = source()
            return float("nan") if built is None else max(0.0, time.time() - built)

        self._index_age.set_function(age)

    def exposition(self) -> tuple[bytes, str]:
        """The text format body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
