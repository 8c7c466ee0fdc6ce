"""What an evaluation asks: RecordQA in this process, or any OpenAI-compatible endpoint over HTTP.

Both return an ``Outcome`` per dataset item, so scoring never knows which it was.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx

from qa.citation import cited_numbers
from qa.pipeline import Answerer


@dataclass
class Outcome:
    answer: str
    citations: list[str]
    abstained: bool
    retrieved: list[str] | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class InProcess:
    """The answer path itself (no HTTP): the figures of the code under test."""

    def __init__(self, answerer: Answerer, name: str = "in-process"):
        self.answerer = answerer
        self.name = name

    def answer(self, item: dict) -> Outcome:
        started = time.perf_counter()
        answer = self.answerer.ask(item["question"], history=item.get("history"), lang=item.get("lang"))
        timings = {k: v for k, v in answer.timings_ms.items() if k in ("retrieval", "answer", "total")}
        timings.setdefault("total", (time.perf_counter() - started) * 1000)
        return Outcome(answer.answer, [c.paragraph for c in answer.citations], answer.abstained, answer.retrieved,
                       timings)


class Endpoint:
    """A deployed RecordQA, or any OpenAI-compatible service, through /v1/chat/completions
    (streaming, so time to first token is measured). RecordQA's ``recordqa`` field on the last
    chunk gives retrieved paragraphs, citations and abstention; without it, citations are read
    from the [¶N] markers in the text, retrieval metrics are not computed, and no answer counts
    as an abstention."""

    def __init__(self, url: str, *, api_key: str | None = None, model: str = "recordqa", timeout_s: float = 120,
                 client: httpx.Client | None = None):
        base = url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.name = url
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout_s)

    def answer(self, item: dict) -> Outcome:
        messages = [*item.get("history", []), {"role": "user", "content": item["question"]}]
        body = {"model": self.model, "messages": messages, "stream": True}
        started = time.perf_counter()
        first: float | None = None
        text, extra = "", None
        try:
            with self.client.stream("POST", self.url, json=body, headers=self.headers) as response:
                if response.status_code >= 400:
                    response.read()
                    return Outcome("", [], False, None, {"total": _ms(started)},
                                   error=f"HTTP {response.status_code}: {_message(response)}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    for choice in chunk.get("choices", []):
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece and first is None:
                            first = _ms(started)
                        text += piece
                    extra = chunk.get("recordqa", extra)
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            return Outcome("", [], False, None, {"total": _ms(started)}, error=f"{type(exc).__name__}: {exc}")
        timings = {"total": _ms(started), **({"ttft": first} if first is not None else {})}
        if extra:
            inner = extra.get("timings_ms", {})
            timings.update({k: inner[k] for k in ("retrieval", "answer") if k in inner})
            return Outcome(extra.get("answer", text), [c["paragraph"] for c in extra.get("citations", [])],
                           bool(extra.get("abstained")), extra.get("retrieved"), timings)
        cited = list(dict.fromkeys(ref.rpartition(":")[2] for ref in cited_numbers(text)))
        return Outcome(text, cited, False, None, timings)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
