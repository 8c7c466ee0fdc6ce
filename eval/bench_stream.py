"""`python -m eval.bench_stream`: what RecordQA adds to an LLM's time to first token.

A loopback OpenAI-compatible LLM (eval/llm_peer.py) streams every answer slowly: its first
token after ``--first-token-ms``, then one token every ``--gap-ms``. A real `recordqa serve`
answers through it. For each question the client times its first streamed text through
``/api/ask/stream`` (the first ``delta`` event) and ``/v1/chat/completions`` with stream=true
(the first chunk with content); the LLM peer notes when it received RecordQA's request and
when it sent its first token, on the same clock. RecordQA's overhead is the client's time to
first token minus the LLM's own (first token sent - request received): the question's checks,
analysis and retrieval before the call, and the relay of the first token after it.

Prints figures (median and p95 over the questions; target <= 50 ms); asserts nothing. The
server's index is lexical-only unless --hybrid, so the figures are about streaming, not about
embedding the question (which --hybrid adds to the overhead).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from eval.bench import server_env, stop_server
from eval.llm_peer import ScriptedLLM, Stream
from eval.metrics import percentile
from eval.run import load_dataset, machine

DATASET = Path(__file__).parent / "benchmark" / "dev.jsonl"
TARGET_MS = 50.0
ANSWERS = {
    "en": "Ms. Martha Delgado Peralta (Mexico) was elected President of the Assembly by acclamation at its first "
          "plenary meeting. [¶3]",
    "zh": "在第 1 次全体会议上，人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）为主席。[¶3]",
}


def tokens(text: str) -> tuple[str, ...]:
    """Word-like pieces, each starting with its space (as BPE tokens do); CJK two characters at a time."""
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        word = word if i == 0 else f" {word}"
        if any("\u4e00" <= ch <= "\u9fff" for ch in word):
            out.extend(word[j:j + 2] for j in range(0, len(word), 2))
        else:
            out.append(word)
    return tuple(out)


def start_server(root: Path, llm_url: str, *, hybrid: bool) -> tuple[subprocess.Popen, str]:
    env = server_env(root)
    env.update(RECORDQA_LLM_BASE_URL=llm_url, RECORDQA_LLM_MODEL="peer", RECORDQA_LLM_TIMEOUT_S="30")
    if not hybrid:
        env.update(RECORDQA_EMBEDDING_MODEL=str(root / "no-model"), RECORDQA_EMBEDDING_FALLBACK_MODEL="")
    stderr = (root / "stderr.txt").open("w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "recordqa.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                            env=env, cwd=root, stdout=subprocess.PIPE, stderr=stderr, text=True, encoding="utf-8")
    stderr.close()
    found: list[str] = []

    def read() -> None:
        for line in proc.stdout:  # drained until the server exits, so it never blocks on a full pipe
            if line.startswith("RecordQA is serving at ") and not found:
                found.append(line.split()[4].rstrip("/"))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 600
    while not found and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not found:
        stop_server(proc)
        raise RuntimeError(f"the server did not start: {(root / 'stderr.txt').read_text(encoding='utf-8')[-2000:]}")
    return proc, found[0]


def first_text_api(client: httpx.Client, question: str) -> float:
    """perf_counter() when the first ``delta`` event arrived; the stream is read to its end."""
    first = None
    with client.stream("POST", "/api/ask/stream", json={"question": question}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("event: delta"):
                first = time.perf_counter()
    return first


def first_text_openai(client: httpx.Client, question: str) -> float:
    """perf_counter() when the first chunk with content arrived; the stream is read to its end."""
    first = None
    body = {"model": "recordqa", "stream": True, "messages": [{"role": "user", "content": question}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    first = time.perf_counter()
    return first


def measure(url: str, peer: ScriptedLLM, questions: list[dict], endpoint: str, step) -> dict:
    first_text = first_text_api if endpoint == "/api/ask/stream" else first_text_openai
    rows = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for item in questions:
            peer.play(step(item["lang"]))
            calls = peer.calls
            sent = time.perf_counter()
            first = first_text(client, item["question"])
            served = peer.served[calls]
            if first is None or served.first_token is None:
                continue  # no LLM text streamed (the gate refused): not a time to first token
            rows.append({
                "ttft_ms": (first - sent) * 1000,
                "llm_ttft_ms": (served.first_token - served.received) * 1000,
                "before_llm_ms": (served.received - sent) * 1000,
                "relay_ms": (first - served.first_token) * 1000,
            })
    summary = {"endpoint": endpoint, "questions": len(rows)}
    for key in ("ttft_ms", "llm_ttft_ms", "before_llm_ms", "relay_ms"):
        values = [r[key] for r in rows]
        summary[key] = {"median": round(statistics.median(values), 1), "p95": percentile(values, 0.95, 1)}
    overhead = [r["ttft_ms"] - r["llm_ttft_ms"] for r in rows]
    summary["overhead_ms"] = {"median": round(statistics.median(overhead), 1), "p95": percentile(overhead, 0.95, 1)}
    return summary


def _pair(result: dict, key: str) -> str:
    return f"{result[key]['median']:.0f}/{result[key]['p95']:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20, help="questions per endpoint (from the dev set)")
    parser.add_argument("--first-token-ms", type=float, default=300, help="the LLM's delay before its first token")
    parser.add_argument("--gap-ms", type=float, default=20, help="the LLM's delay between tokens")
    parser.add_argument("--hybrid", action="store_true", help="dense retrieval on (the default model settings)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    dataset = load_dataset(DATASET)
    questions = [{"question": q["question"], "lang": q["lang"]} for q in dataset][: args.questions]

    def step(lang: str) -> Stream:
        return Stream(tokens(ANSWERS.get(lang, ANSWERS["en"])), first_token_s=args.first_token_ms / 1000,
                      gap_s=args.gap_ms / 1000)

    peer = ScriptedLLM(default=step("en")).start()
    with tempfile.TemporaryDirectory(prefix="recordqa-bench-stream-") as tmp:
        proc, url = start_server(Path(tmp), peer.base_url, hybrid=args.hybrid)
        try:
            # One untimed question per endpoint: connections and first-use caches are warm.
            measure(url, peer, questions[:1], "/api/ask/stream", step)
            measure(url, peer, questions[:1], "/v1/chat/completions", step)
            results = [measure(url, peer, questions, endpoint, step)
                       for endpoint in ("/api/ask/stream", "/v1/chat/completions")]
        finally:
            stop_server(proc)
            peer.stop()

    print(f"Time to first token through RecordQA vs the LLM's own ({machine()}; LLM: first token after "
          f"{args.first_token_ms:.0f} ms, then every {args.gap_ms:.0f} ms; index: "
          f"{'hybrid' if args.hybrid else 'lexical'})")
    print(f"{'endpoint':<24}{'n':>4}  {'TTFT med/p95':>16}  {'LLM TTFT':>16}  {'before LLM':>14}  {'relay':>12}"
          f"  {'overhead med/p95':>18}")
    for r in results:
        print(f"{r['endpoint']:<24}{r['questions']:>4}  {_pair(r, 'ttft_ms'):>16}  {_pair(r, 'llm_ttft_ms'):>16}  "
              f"{_pair(r, 'before_llm_ms'):>14}  {_pair(r, 'relay_ms'):>12}  {_pair(r, 'overhead_ms'):>18}")
    worst = max(r["overhead_ms"]["p95"] for r in results)
    print(f"target: overhead <= {TARGET_MS:.0f} ms; worst p95 {worst:.0f} ms: "
          f"{'met' if worst <= TARGET_MS else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
