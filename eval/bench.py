"""`make bench`: how long `recordqa show 3` takes next to `python -c pass`, index build time and
per-question latency, lexical-only vs hybrid, then the latency of the web API (`POST /api/ask`)
with 1 user and with 20 concurrent users.

Prints figures; asserts nothing. Each configuration builds its own index in a temporary
folder, so the live index is untouched; the API server is `recordqa serve` as a subprocess
on 127.0.0.1 with its own temporary index and the rate limit off.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from eval.metrics import percentile
from eval.run import load_dataset, machine
from recordqa.factories import configure_environment, ensure_index, make_answerer, make_embedders, make_tokenizer
from recordqa.settings import Settings

DATASET = Path(__file__).parent / "benchmark" / "dev.jsonl"


def bench(mode: str, settings: Settings, questions: list[dict]) -> dict:
    with tempfile.TemporaryDirectory(prefix="recordqa-bench-") as tmp:
        settings = settings.model_copy(update={"index_dir": Path(tmp) / "index", "retrieval_mode": mode})
        tokenizer = make_tokenizer(settings)
        embedders, dense = make_embedders(settings) if mode == "hybrid" else ([], None)
        start = time.perf_counter()
        ensure_index(settings, tokenizer=tokenizer, embedders=embedders, dense=dense, progress=False)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        ensure_index(settings, tokenizer=tokenizer, embedders=embedders, dense=dense, progress=False)
        noop_s = time.perf_counter() - start
        size_mb = sum(f.stat().st_size for f in Path(settings.index_dir).rglob("*") if f.is_file()) / 1e6
        answerer = make_answerer(settings, tokenizer=tokenizer, embedders=embedders, dense=dense)
        answerer.ask("warm-up question about the Executive Board")
        latencies = []
        for item in questions:
            started = time.perf_counter()
            answerer.ask(item["question"], lang=item.get("lang"))
            latencies.append((time.perf_counter() - started) * 1000)
        return {
            "mode": mode,
            "dense": dense.describe() if dense else "off (lexical mode)",
            "index_build_s": round(build_s, 2),
            "reindex_noop_s": round(noop_s, 3),
            "index_size_mb": round(size_mb, 2),
            "questions": len(latencies),
            "latency_ms_median": round(statistics.median(latencies), 1),
            "latency_ms_p95": percentile(latencies, 0.95),
        }


CLI_RUNS = 5


def bench_cli_start(settings: Settings) -> dict:
    """Wall time of `recordqa show 3` and `recordqa --version` (commands that load no model) next to
    `python -c pass`: what starting the CLI costs beyond the interpreter. Median of CLI_RUNS runs."""
    with tempfile.TemporaryDirectory(prefix="recordqa-bench-cli-") as tmp:
        settings = settings.model_copy(update={"index_dir": Path(tmp) / "index", "retrieval_mode": "lexical"})
        ensure_index(settings, embedders=[], progress=False)
        env = {**server_env(Path(tmp)), "RECORDQA_INDEX_DIR": str(settings.index_dir)}

        def wall_s(*args: str) -> float:
            times = []
            for _ in range(CLI_RUNS):
                started = time.perf_counter()
                subprocess.run([sys.executable, *args], env=env, cwd=tmp, capture_output=True, check=True)
                times.append(time.perf_counter() - started)
            return round(statistics.median(times), 2)

        return {"mode": "cli start", "python_c_pass_s": wall_s("-c", "pass"),
                "recordqa_version_s": wall_s("-m", "recordqa.cli", "--version"),
                "recordqa_show_3_s": wall_s("-m", "recordqa.cli", "show", "3")}


API_USERS = (1, 20)
SERVER_START_TIMEOUT_S = 180


def server_env(root: Path) -> dict[str, str]:
    """The calling shell's environment and settings, with the index in ``root``, the rate limit
    off, everything offline and no telemetry (like the tests' CLI environment)."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("RECORDQA_INDEX_DIR",
                                                                    "RECORDQA_RATE_LIMIT_PER_MINUTE")}
    env.update(RECORDQA_INDEX_DIR=str(root / "index"), RECORDQA_RATE_LIMIT_PER_MINUTE="0",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false", PYTHONIOENCODING="utf-8")
    return env


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    """`recordqa serve --port 0`; returns the process and its URL once it prints that it serves."""
    stderr = (root / "stderr.txt").open("w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "recordqa.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                            env=server_env(root), cwd=root, stdout=subprocess.PIPE, stderr=stderr,
                            text=True, encoding="utf-8")
    stderr.close()
    found: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("RecordQA is serving at ") and not found:
                found.append(line.split()[4].rstrip("/"))
        # keep draining stdout until the server exits, so it never blocks on a full pipe

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not found and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not found:
        stop_server(proc)
        raise RuntimeError(f"the server did not start: {(root / 'stderr.txt').read_text(encoding='utf-8')[-2000:]}")
    return proc, found[0]


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def api_load(url: str, questions: list[dict], users: int) -> dict:
    """Each of ``users`` threads (own connection) asks every question once, starting at a different
    question; latency is per request, as the client sees it."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def user(n: int) -> None:
        nonlocal errors
        order = questions[n % len(questions):] + questions[:n % len(questions)]
        with httpx.Client(base_url=url, timeout=60) as client:
            for item in order:
                body = {"question": item["question"], **({"lang": item["lang"]} if item.get("lang") else {})}
                started = time.perf_counter()
                try:
                    ok = client.post("/api/ask", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(user, range(users)))
    wall_s = time.perf_counter() - started
    return {
        "users": users,
        "requests": len(latencies) + errors,
        "errors": errors,
        "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": percentile(latencies, 0.95),
        "requests_per_s": round((len(latencies) + errors) / wall_s, 1),
    }


def bench_api(questions: list[dict]) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="recordqa-bench-api-") as tmp:
        started = time.perf_counter()
        proc, url = start_server(Path(tmp))
        start_s = time.perf_counter() - started
        try:
            health = httpx.get(f"{url}/healthz", timeout=30).json()
            dense = health["dense"]
            described = f"{dense['model']} ({'/'.join(dense['languages'])})" if dense["on"] else "off"
            api_load(url, questions[:10], 1)  # warm-up: connections, caches
            rows = []
            for users in API_USERS:
                rows.append({"mode": f"api {health['retrieval']}", "dense": described,
                             "server_start_s": round(start_s, 1), **api_load(url, questions, users)})
            return rows
        finally:
            stop_server(proc)


def main() -> None:
    settings = Settings()
    configure_environment(settings)
    questions = load_dataset(DATASET)
    print(f"machine: {machine()}")
    print(json.dumps(bench_cli_start(settings), ensure_ascii=False))
    rows = [bench("lexical", settings, questions), bench("hybrid", settings, questions)]
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    ratio = rows[1]["latency_ms_median"] / max(rows[0]["latency_ms_median"], 1e-9)
    print(f"hybrid / lexical median latency: {ratio:.1f}x")
    api_rows = bench_api(questions)
    for row in api_rows:
        print(json.dumps(row, ensure_ascii=False))
    single, crowd = api_rows[0], api_rows[-1]
    print(f"api: {crowd['users']} users / 1 user median latency: "
          f"{crowd['latency_ms_median'] / max(single['latency_ms_median'], 1e-9):.1f}x, "
          f"throughput {crowd['requests_per_s'] / max(single['requests_per_s'], 1e-9):.1f}x "
          f"({os.cpu_count()} cores, server and clients on the same machine)")


if __name__ == "__main__":
    main()
