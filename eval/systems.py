"""What an evaluation asks: RecordQA in this process, or a deployment over HTTP (RecordQA's own
/api/ask, or any OpenAI-compatible /v1/chat/completions).

Both return an ``Outcome`` per dataset item, so scoring never knows which it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from eval.retry import RETRY_STATUSES, RetryPolicy, retry_after_s
from qa.citation import cited_numbers
from qa.pipeline import Answerer


@dataclass
class Outcome:
    """One question's result. ``error``: no answer was obtained (the item is not scored);
    ``refusal``: the system declined the question as bad input (scored as a wrong answer)."""

    answer: str
    citations: list[str]
    abstained: bool
    retrieved: list[str] | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    refusal: str | None = None
    lang: str | None = None
    attempts: int = 1


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
        return Outcome(answer.answer, cited_ids(answer.citations, answer.retrieved), answer.abstained,
                       answer.retrieved, timings, lang=answer.lang)


def cited_ids(citations, retrieved: list[str] | None) -> list[str]:
    """Citations as the ids of the retrieved list, so the two compare: the paragraph number alone,
    or ``RECORD:number`` when the retrieved ids name records (several records indexed)."""
    keyed = any(":" in r for r in retrieved or [])
    return [f"{c.record}:{c.paragraph}" if keyed and getattr(c, "record", None) and ":" not in c.paragraph
            else c.paragraph for c in citations]


UNREACHABLE_QUESTIONS = 3
"""After this many questions in a row got no reply at all, the next ones are tried once."""


class _Retry(Exception):
    """An attempt that may succeed if made again (429/503, a dropped connection, a timeout)."""

    def __init__(self, message: str, retry_after: float | None = None, *, unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable  # no HTTP answer at all (refused, reset, timed out)


class _Failed(Exception):
    """An attempt that waiting will not fix (401, 404, a malformed reply)."""


class Endpoint:
    """A deployment over HTTP. A URL ending in ``/v1`` is spoken to as OpenAI-compatible
    (/v1/chat/completions; RecordQA's ``recordqa`` field, when present, gives retrieved
    paragraphs, citations and abstention; without it citations are read from the [¶N] markers,
    retrieval is not scored and no answer counts as an abstention). Any other URL is a RecordQA
    deployment: POST /api/ask, or /api/ask/stream (server-sent events) with ``stream``.

    Streaming measures time to first token: from sending the request to the first non-empty
    text piece. 429 and 503 (honouring ``Retry-After``), dropped connections and timeouts are
    retried under ``retry``; what still fails is an ``error``, a 400 refusing the question a
    ``refusal``."""

    def __init__(self, url: str, *, api_key: str | None = None, model: str = "recordqa", timeout_s: float = 120,
                 stream: bool = False, retry: RetryPolicy | None = None, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        base = url.rstrip("/")
        self.openai = base.endswith("/v1")
        self.base = base[:-3] if self.openai else base
        if self.openai:
            self.url = base + "/chat/completions"
        else:
            self.url = base + ("/api/ask/stream" if stream else "/api/ask")
        self.name = url
        self.model = model
        self.stream = stream
        self.retry = retry or RetryPolicy()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.Client(timeout=timeout_s)
        self.sleep = sleep
        self._paragraphs: dict[str, dict | None] = {}
        self._unreachable_in_a_row = 0

    def answer(self, item: dict) -> Outcome:
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = self._attempt(item, started)
            except _Failed as exc:
                self._unreachable_in_a_row = 0
                return Outcome("", [], False, None, {"total": _ms(started)}, error=str(exc), attempts=attempt)
            except _Retry as exc:
                # A deployment that has not answered several questions in a row is down: waiting
                # out every question's retries would only make the run end much later.
                down = exc.unreachable and self._unreachable_in_a_row >= UNREACHABLE_QUESTIONS
                wait = None if down else self.retry.wait(attempt - 1, exc.retry_after, waited)
                if wait is None:
                    gave_up = (f"; gave up after {attempt} attempt{'s' * (attempt > 1)}"
                               + (f", {waited:g} s waited" if waited else ""))
                    if down:
                        gave_up += f" (not retried: the {UNREACHABLE_QUESTIONS} questions before got no reply either)"
                    elif exc.retry_after is not None and attempt - 1 < self.retry.retries:
                        gave_up += (f" (Retry-After {exc.retry_after:g} s is beyond the "
                                    f"{self.retry.budget_s:g} s budget)")
                    self._unreachable_in_a_row = self._unreachable_in_a_row + 1 if exc.unreachable else 0
                    return Outcome("", [], False, None, {"total": _ms(started)}, error=f"{exc}{gave_up}",
                                   attempts=attempt)
                self.sleep(wait)
                waited += wait
                continue
            self._unreachable_in_a_row = 0
            outcome.attempts = attempt
            return outcome

    def paragraph_text(self, paragraph: str, lang: str) -> str | None:
        """The deployment's text of a paragraph in ``lang`` (GET /api/paragraphs/{id}), or None."""
        if paragraph not in self._paragraphs:
            try:
                response = self.client.get(f"{self.base}/api/paragraphs/{paragraph}", headers=self.headers)
                self._paragraphs[paragraph] = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                self._paragraphs[paragraph] = None
        view = self._paragraphs[paragraph]
        text = (view or {}).get("text")
        return text.get(lang) if isinstance(text, dict) else None

    # ------------------------------------------------------------------ one attempt

    def _body(self, item: dict) -> dict:
        history = [{"role": t["role"], "content": t["content"]} for t in item.get("history", [])]
        if self.openai:
            return {"model": self.model, "messages": [*history, {"role": "user", "content": item["question"]}],
                    "stream": self.stream}
        return {"question": item["question"], "history": history,
                **({"lang": item["lang"]} if item.get("lang") in ("zh", "en") else {})}

    def _attempt(self, item: dict, started: float) -> Outcome:
        try:
            with self.client.stream("POST", self.url, json=self._body(item), headers=self.headers) as response:
                if response.status_code >= 400:
                    response.read()
                    return self._refused_or_raise(response, started)
                if not self.stream:
                    response.read()
                    return self._whole(response, started)
                return self._streamed(response, started)
        except httpx.TransportError as exc:  # refused, reset, timed out: the next try may get through
            raise _Retry(f"{type(exc).__name__}: {exc}".rstrip(": "), unreachable=True) from exc
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise _Failed(f"malformed reply from {self.url}: {type(exc).__name__}: {exc}") from exc

    def _refused_or_raise(self, response: httpx.Response, started: float) -> Outcome:
        message = f"HTTP {response.status_code}: {_message(response)}"
        if response.status_code in RETRY_STATUSES:
            raise _Retry(message, retry_after_s(response.headers.get("retry-after")))
        if response.status_code == 400 and _code(response) in ("invalid_question", "invalid_messages"):
            # The in-process answerer refusing a question counts as a wrong answer; so does this.
            return Outcome("", [], False, None, {"total": _ms(started)}, refusal=message)
        raise _Failed(message)

    def _whole(self, response: httpx.Response, started: float) -> Outcome:
        total = _ms(started)
        payload = response.json()
        if self.openai:
            text = payload["choices"][0]["message"].get("content") or ""
            return self._from_answer(payload.get("recordqa"), text, {"total": total})
        return self._from_answer(payload, payload["answer"], {"total": total})

    def _streamed(self, response: httpx.Response, started: float) -> Outcome:
        first: float | None = None
        text, final = "", None
        for event, data in _events(response.iter_lines()):
            if self.openai:
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                pieces = [(c.get("delta") or {}).get("content") or "" for c in chunk.get("choices", [])]
                final = chunk.get("recordqa", final)
            elif event == "delta":
                pieces = [json.loads(data).get("text") or ""]
            elif event == "answer":
                final = json.loads(data)
                pieces = []
            elif event == "error":
                raise _Failed(f"the stream reported an error: {data[:200]}")
            else:
                continue
            for piece in pieces:
                if piece and first is None:
                    first = _ms(started)
                text += piece
        timings = {"total": _ms(started), **({"ttft": first} if first is not None else {})}
        if not self.openai and final is None:
            raise _Retry(f"the stream from {self.url} ended without an answer event")
        return self._from_answer(final, text, timings)

    @staticmethod
    def _from_answer(payload: dict | None, text: str, timings: dict[str, float]) -> Outcome:
        if payload:
            inner = payload.get("timings_ms") or {}
            timings.update({k: inner[k] for k in ("retrieval", "answer") if k in inner})
            return Outcome(payload.get("answer", text), [c["paragraph"] for c in payload.get("citations", [])],
                           bool(payload.get("abstained")), payload.get("retrieved"), timings, lang=payload.get("lang"))
        cited = list(dict.fromkeys(ref.rpartition(":")[2] for ref in cited_numbers(text)))
        return Outcome(text, cited, False, None, timings)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Server-sent events as (event, data); ``message`` when the event names no type."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200].replace("\n", " ") or response.reason_phrase


def _code(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
