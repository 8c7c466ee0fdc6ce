"""`recordqa eval --endpoint` against deployments that misbehave: rate limits (429 with
Retry-After), an unavailable service, streaming for time to first token. The deployment is a
loopback HTTP server speaking RecordQA's wire format: the answer JSON of /api/ask
(``Answer.public_json``), the server-sent events of /api/ask/stream (``delta`` pieces, then
``answer``), OpenAI chat completions and chunks on /v1 (``recordqa`` on the last chunk), and
the ``{"error": {...}}`` body of every error."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa.answer import Answer, Citation
from ui.errors import error_body

PARAGRAPHS = {
    "3": {"en": "Martha Delgado Peralta (Mexico) was elected President by acclamation.",
          "zh": "Martha Delgado Peralta 女士（墨西哥）以鼓掌方式当选为主席。"},
    "1": {"en": "The Assembly met in Nairobi.", "zh": "大会在内罗毕举行。"},
    "26": {"en": "[To be completed.]", "zh": "[待补]"},
}

DATASET = [
    {"id": "e1", "question": "Who was elected President?", "lang": "en", "type": "fact",
     "gold_paragraphs": ["3"], "answers": ["Martha Delgado Peralta"], "answerable": True},
    {"id": "e2", "question": "Which agencies were represented?", "lang": "en", "type": "unanswerable_pending",
     "gold_paragraphs": ["26"], "answers": [], "answerable": False},
    {"id": "e3", "question": "谁当选为主席？", "lang": "zh", "type": "fact",
     "gold_paragraphs": ["3"], "answers": ["Martha Delgado Peralta"], "answerable": True},
]


def _answer(question: str) -> Answer:
    if question.startswith("Which agencies"):
        return Answer(question=question, answer="The record has not yet filled in ¶26.", abstained=True,
                      outcome="abstain", retrieved=["26", "1"], mode="extractive", lang="en")
    lang = "zh" if question.startswith("谁") else "en"
    return Answer(question=question, answer=f"{PARAGRAPHS['3'][lang]} [¶3]", abstained=False,
                  citations=[Citation(paragraph="3", record="HSP-HA-1", quote=PARAGRAPHS["3"][lang])],
                  retrieved=["3", "1"], mode="extractive", lang=lang,
                  timings_ms={"retrieval": 1.0, "answer": 2.0, "total": 3.0})


def _sse(event: str | None, data: dict | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _pieces(text: str) -> list[str]:
    return [text[i:i + 8] for i in range(0, len(text), 8)]


def _native_stream(answer: Answer) -> str:
    # An empty piece first: time to first token counts from the first text.
    return "".join([_sse("delta", {"text": ""}), *(_sse("delta", {"text": p}) for p in _pieces(answer.answer)),
                    _sse("answer", answer.public_json())])


def _openai_stream(answer: Answer) -> str:
    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return _sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                           "model": "recordqa", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                           **extra})

    payload = answer.public_json()
    pieces = [chunk({"content": p}) for p in _pieces(answer.answer)]
    return "".join([chunk({"role": "assistant", "content": ""}), *pieces,
                    chunk({}, "stop", citations=payload["citations"], recordqa=payload), _sse(None, "[DONE]")])


def _openai_completion(answer: Answer) -> dict:
    payload = answer.public_json()
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "recordqa",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                         "finish_reason": "stop"}], "citations": payload["citations"], "recordqa": payload}


class FakeDeployment:
    """A RecordQA deployment on 127.0.0.1. ``rate_limited``: the first so many questions get 429
    with ``Retry-After: retry_after``; like a real limiter, a question sent before the announced
    time is refused again. ``failing``: question -> (status, Retry-After) answered every time."""

    def __init__(self, *, rate_limited: int = 0, retry_after: int = 1, failing: dict | None = None):
        self.rate_limited = rate_limited
        self.retry_after = retry_after
        self.failing = failing or {}
        self.requests: list[tuple[str, dict]] = []
        self.limited_until = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.errors: list[BaseException] = []
        self.server.handle_error = lambda request, address: self.errors.append(sys.exc_info()[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def _refusal(self, question: str) -> tuple[int, dict[str, str]] | None:
        with self.lock:
            now = time.monotonic()
            if question in self.failing:
                status, after = self.failing[question]
                return status, ({"Retry-After": str(after)} if after is not None else {})
            if self.rate_limited > 0 or now < self.limited_until:
                self.rate_limited -= 1
                self.limited_until = now + self.retry_after
                return 429, {"Retry-After": str(self.retry_after)}
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                number = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/api/paragraphs/") and number in PARAGRAPHS:
                    return self._send(200, json.dumps({"id": number, "text": PARAGRAPHS[number]}))
                return self._send(404, json.dumps(error_body("no such paragraph", "unknown_paragraph")))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                fake.requests.append((self.path, body))
                question = body["question"] if "question" in body else body["messages"][-1]["content"]
                refused = fake._refusal(question)
                if refused is not None:
                    status, headers = refused
                    code = "rate_limited" if status == 429 else "unavailable"
                    return self._send(status, json.dumps(error_body(f"refused with {status}", code)), headers)
                answer = _answer(question)
                if self.path == "/api/ask":
                    return self._send(200, json.dumps(answer.public_json(), ensure_ascii=False))
                if self.path == "/api/ask/stream":
                    return self._send(200, _native_stream(answer), content_type="text/event-stream")
                if self.path == "/v1/chat/completions" and body.get("stream"):
                    return self._send(200, _openai_stream(answer), content_type="text/event-stream")
                if self.path == "/v1/chat/completions":
                    return self._send(200, json.dumps(_openai_completion(answer), ensure_ascii=False))
                return self._send(404, json.dumps(error_body("no such endpoint", "http_error")))

            def _send(self, status: int, text: str, headers: dict | None = None,
                      content_type: str = "application/json") -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):  # quiet
                pass

        return Handler


@pytest.fixture
def deployment():
    started = []

    def start(**behaviour) -> FakeDeployment:
        fake = FakeDeployment(**behaviour)
        fake.thread.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.server.shutdown()
        fake.server.server_close()
        assert not fake.errors, f"the fake deployment failed: {fake.errors!r}"


@pytest.fixture
def workspace(tmp_path, jieba_cache, cli):
    dataset = tmp_path / "endpoint.jsonl"
    dataset.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in DATASET), encoding="utf-8")
    return tmp_path, dataset, cli.env(tmp_path, jieba_cache)


def _outputs(out):
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (out / "per_item.jsonl").read_text(encoding="utf-8").splitlines()]
    return results, rows, (out / "summary.md").read_text(encoding="utf-8"), (out / "report.html").read_text(
        encoding="utf-8")


def test_rate_limited_endpoint_is_asked_again_after_retry_after(deployment, workspace, cli):
    root, dataset, env = workspace
    fake = deployment(rate_limited=2, retry_after=1)

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--endpoint", fake.url,
                   "--resamples", "20", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    assert re.search(rf"^endpoint {re.escape(fake.url)}: 3 questions, 0 errors; hit@5 1\.000, answer accuracy "
                     r"1\.000, abstention recall 1\.000, false abstention 0\.000, CRAG 1\.000, "
                     r"citations not retrieved 0\.000$", run.stdout, re.M), run.stdout
    # Two refusals, then every question once: each retry waited as long as it was told to.
    assert fake.paths() == ["/api/ask"] * 5
    results, _, summary_md, report = _outputs(root / "out")
    assert [i["attempts"] for i in results["items"]] == [3, 1, 1]
    assert results["errors"] == 0 and results["summary"]["errors"] == 0
    assert all(i["error"] is None and i["ttft_ms"] is None for i in results["items"])
    assert f"Errors: endpoint {fake.url}: 0 errors (no answer; not scored)" in summary_md
    assert f"Errors: endpoint {fake.url}: 0 errors (no answer; not scored)" in report


def test_per_item_rows_carry_ragas_contexts_in_the_answer_language(deployment, workspace, cli):
    root, dataset, env = workspace
    fake = deployment()

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--endpoint", fake.url,
                   "--resamples", "20", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    _, rows, _, _ = _outputs(root / "out")
    e1, e2, e3 = rows
    assert e1["user_input"] == DATASET[0]["question"] and e1["response"].endswith("[¶3]")
    assert e1["reference"] == "Martha Delgado Peralta"
    assert e1["retrieved_contexts"] == [PARAGRAPHS["3"]["en"], PARAGRAPHS["1"]["en"]]
    assert e1["reference_contexts"] == [PARAGRAPHS["3"]["en"]]
    assert e3["retrieved_contexts"] == [PARAGRAPHS["3"]["zh"], PARAGRAPHS["1"]["zh"]]
    assert e3["reference_contexts"] == [PARAGRAPHS["3"]["zh"]]
    # Unanswerable: no reference contexts, the abstention as reference.
    assert e2["reference_contexts"] == [] and e2["retrieved_contexts"][0] == PARAGRAPHS["26"]["en"]
    assert e2["reference"] == "The record does not address this question: nothing relevant was found."


def test_questions_that_still_fail_are_errors_not_wrong_answers(deployment, workspace, cli):
    root, dataset, env = workspace
    fake = deployment(failing={DATASET[0]["question"]: (503, 0), DATASET[1]["question"]: (429, 3600)})

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--endpoint", fake.url,
                   "--resamples", "20", "--quiet", "--retries", "2"], env)

    assert run.returncode == 1
    # Only e3 was answered: the accuracy is over it alone.
    assert re.search(rf"^endpoint {re.escape(fake.url)}: 3 questions, 2 errors \(not scored\); hit@5 1\.000, "
                     r"answer accuracy 1\.000, ", run.stdout, re.M), run.stdout
    assert (f"error: endpoint {fake.url}: 2 of 3 questions got no answer (not scored); first: e1: HTTP 503: "
            "refused with 503; gave up after 3 attempts") in run.stderr.splitlines()
    # e1: three tries (2 retries); e2: a Retry-After beyond the budget is not waited for.
    assert [path for path, body in fake.requests if body.get("question") == DATASET[0]["question"]] == ["/api/ask"] * 3
    assert [path for path, body in fake.requests if body.get("question") == DATASET[1]["question"]] == ["/api/ask"]
    results, rows, summary_md, report = _outputs(root / "out")
    assert results["errors"] == 2 and results["summary"]["errors"] == 2
    assert results["summary"]["overall"]["questions"] == 1 and results["summary"]["overall"]["answer_accuracy"] == 1.0
    assert [e["id"] for e in results["summary"]["first_errors"]] == ["e1", "e2"]
    assert results["items"][1]["error"] == ("HTTP 429: refused with 429; gave up after 1 attempt "
                                            "(Retry-After 3600 s is beyond the 60 s budget)")
    assert results["items"][0]["scores"] == {} and rows[0]["error"].startswith("HTTP 503")
    assert "| errors (not scored) | 2 |" in summary_md
    assert f"endpoint {fake.url}: 2 errors (no answer; not scored); first: e1: HTTP 503" in summary_md
    assert "<td>errors (not scored)</td><td>2</td>" in report
    assert f"endpoint {fake.url}: 2 errors (no answer; not scored); first: e1: HTTP 503" in report


@pytest.mark.parametrize("suffix, path", [("", "/api/ask/stream"), ("/v1", "/v1/chat/completions")])
def test_streaming_records_time_to_first_token(deployment, workspace, cli, suffix, path):
    root, dataset, env = workspace
    fake = deployment()

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--endpoint", fake.url + suffix,
                   "--stream", "--resamples", "20", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    assert fake.paths() == [path] * 3
    assert all(body.get("stream", True) is True for _, body in fake.requests)
    results, _, summary_md, _ = _outputs(root / "out")
    for item in results["items"]:
        assert 0 < item["ttft_ms"] <= item["total_ms"], item
    assert results["items"][0]["citations"] == ["3"] and results["items"][1]["abstained"] is True
    overall = results["summary"]["overall"]
    assert overall["ttft_ms_median"] > 0 and overall["ttft_ms_p95"] >= overall["ttft_ms_median"]
    assert re.search(r", time to first token median \d+ ms, p95 \d+ ms$", run.stdout.splitlines()[0])
    assert re.search(r"^\| latency ttft ms p50/p95/p99 \| \d", summary_md, re.M)


def test_stream_without_an_endpoint_is_a_usage_error(workspace, cli):
    root, dataset, env = workspace

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--stream"], env)

    assert run.returncode == 2
    assert run.stderr.strip() == "error: --stream, --retries and --retry-budget need --endpoint"


def test_an_openai_compatible_url_is_asked_through_chat_completions(deployment, workspace, cli):
    root, dataset, env = workspace
    fake = deployment()

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "out"), "--endpoint", fake.url + "/v1",
                   "--resamples", "20", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    assert fake.paths() == ["/v1/chat/completions"] * 3
    assert all(body["stream"] is False and body["messages"][-1]["role"] == "user" for _, body in fake.requests)
    results, _, _, _ = _outputs(root / "out")
    assert [i["citations"] for i in results["items"]] == [["3"], [], ["3"]]
    assert [i["abstained"] for i in results["items"]] == [False, True, False]
    assert all(i["ttft_ms"] is None and i["total_ms"] > 0 for i in results["items"])


def test_eval_diff_shows_questions_that_errored():
    from eval.diff import diff_results, format_diff

    item = {"id": "e1", "question": "Who?", "answer": "Martha [¶3]", "scores": {"crag": 1}, "error": None}
    failed = {**item, "answer": "", "scores": {}, "error": "HTTP 503: busy; gave up after 5 attempts"}
    a = {"summary": {}, "items": [item], "run": {}, "configuration": "hybrid"}
    b = {"summary": {}, "items": [failed], "run": {}}

    text = format_diff(diff_results(a, b))

    assert "  e1: right -> error  Who?" in text.splitlines()
    assert "errors (no answer, not scored): A 0, B 1" in text.splitlines()
    assert text.splitlines()[0].endswith(", configuration hybrid")
