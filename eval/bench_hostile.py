"""`make bench` (second part): the server under hostile clients. Prints figures; asserts nothing.

The server is `recordqa serve` as a subprocess on 127.0.0.1 with its own temporary lexical index
(dense retrieval off, so the figures are about the HTTP layer) and the rate limit off:

1. body limit: the server's RSS before and after a POST declaring 200 MB (the client then tries
   to send all of it);
2. idle sockets: N connections that send nothing or half a request line, then a fresh request's
   latency;
3. load: C concurrent clients asking on POST /api/ask for D seconds (errors, p50/p95/p99);
4. hand fuzz: F random hostile requests (bad JSON, wrong types, huge or nested bodies, control
   characters and lone surrogates, odd methods, paths and headers), then how many got 5xx, how
   many connections failed, and whether a traceback reached the log.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from eval.metrics import percentile
from eval.run import machine

QUESTIONS = ["Who was elected President of the Assembly?", "人居大会第一届会议选举谁为主席？",
             "Which countries were elected to the Executive Board?", "会议的会期是哪几天？"]


def server_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDQA_")}
    env.update(RECORDQA_INDEX_DIR=str(root / "index"), RECORDQA_CACHE_DIR=str(root / "cache"),
               RECORDQA_EMBEDDING_MODEL=str(root / "no-model"), RECORDQA_EMBEDDING_FALLBACK_MODEL="",
               RECORDQA_RATE_LIMIT_PER_MINUTE="0", RECORDQA_ACCESS_LOG="false", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONIOENCODING="utf-8")
    return env


def start_server(root: Path) -> tuple[subprocess.Popen, str, Path]:
    log = root / "stderr.txt"
    with log.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "recordqa.cli", "serve", "--host", "127.0.0.1", "--port",
                                 "0"], env=server_env(root), cwd=root, stdout=subprocess.PIPE, stderr=stderr,
                                text=True, encoding="utf-8")
    for line in proc.stdout:
        if line.startswith("RecordQA is serving at "):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
            return proc, line.split()[4].rstrip("/"), log
    raise RuntimeError(f"server did not start: {log.read_text(encoding='utf-8')[-2000:]}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def body_limit(url: str, pid: int) -> dict:
    before = rss_mb(pid)
    sent = 0
    status = None
    with socket.create_connection(host_port(url), timeout=30) as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200000000\r\n\r\n")
        chunk = b"x" * 65536
        try:
            while sent < 200_000_000:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server answered 413 and closed
        try:
            status = int(sock.recv(4096).split()[1])
        except (OSError, IndexError, ValueError):
            status = None
    time.sleep(0.5)
    return {"rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(pid), 1),
            "client_sent_mb": round(sent / 1e6, 1), "status": status}


def idle_sockets(url: str, n: int) -> dict:
    sockets = []
    for i in range(n):
        sock = socket.create_connection(host_port(url), timeout=30)
        if i % 2:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(5):
            start = time.perf_counter()
            response = client.post("/api/ask", json={"question": QUESTIONS[0]})
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
    for sock in sockets:
        sock.close()
    return {"idle": n, "fresh_request_ms_median": percentile(latencies, 0.5, 1), "fresh_request_ms_max":
            round(max(latencies), 1)}


def load(url: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    response = client.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                    outcome = None if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with lock:
                    if outcome is None:
                        latencies.append((time.perf_counter() - start) * 1000)
                    else:
                        errors[outcome] = errors.get(outcome, 0) + 1

    threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"clients": clients, "seconds": seconds, "answers": len(latencies),
            "per_s": round(len(latencies) / seconds, 1), "errors": errors,
            "p50_ms": percentile(latencies, 0.5, 1), "p95_ms": percentile(latencies, 0.95, 1),
            "p99_ms": percentile(latencies, 0.99, 1)}


def hostile_request(rng: random.Random) -> tuple[str, str, dict[str, str], bytes]:
    """One random request meant to break something."""
    path = rng.choice(["/api/ask", "/api/ask/stream", "/v1/chat/completions", "/v1/models", "/api/paragraphs/3",
                       "/api/paragraphs/" + "9" * rng.randint(1, 300), "/api/paragraphs/%00", "/healthz",
                       "/metrics", "/chat/gradio_api/upload", "/chat/gradio_api/queue/join", "/../../etc/passwd",
                       "/static/../../pyproject.toml", "/" + "a/" * rng.randint(1, 200), "/api/ask?" + "q=1&" * 500])
    method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    weird = ["\x00", "\ud800", "\u202e", "<script>", "\x1b[2J", "🙂" * 50, "A" * 5000, "é" * 3000, "\n\r", "%s%n"]
    text = "".join(rng.choice(weird + QUESTIONS) for _ in range(rng.randint(0, 4)))
    bodies = [
        lambda: json.dumps({"question": text}, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass"),
        lambda: json.dumps({"question": rng.choice([None, 1, 1e308, [], {}, True, "x" * 30_000])}).encode(),
        lambda: json.dumps({"question": QUESTIONS[0], "history": [{"role": "user", "content": text}] * rng.randint(
            0, 60)}).encode("utf-8", "surrogatepass"),
        lambda: json.dumps({"messages": [{"role": rng.choice(["user", "assistant", "system", "tool", "x"]),
                                          "content": rng.choice([text, [{"type": "text", "text": text}], None, 5])}
                                         for _ in range(rng.randint(0, 120))]}).encode("utf-8", "surrogatepass"),
        lambda: b"[" * rng.randint(1000, 100_000) + b"]" * 10,
        lambda: b'{"question": "' + os.urandom(rng.randint(1, 2000)) + b'"}',
        lambda: b'{"question": 1' + b"0" * rng.randint(1000, 50_000) + b"}",
        lambda: b"",
        lambda: os.urandom(rng.randint(1, 300_000)),
    ]
    body = rng.choice(bodies)()
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "multipart/form-data; boundary=x",
                                           "application/x-www-form-urlencoded", "application/json; charset=latin-1"])}
    if rng.random() < 0.2:
        headers["Authorization"] = "Bearer " + "k" * rng.randint(0, 5000)
    if rng.random() < 0.2:
        headers["X-Forwarded-For"] = ", ".join(f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}" for _ in range(5))
    if rng.random() < 0.1:
        headers["Accept-Language"] = "zh;q=" + "9" * 1000
    if rng.random() < 0.1:
        headers["Origin"] = rng.choice(["null", "http://evil.example", "http://localhost:1"])
    return method, path, headers, body


def fuzz(url: str, count: int, log: Path) -> dict:
    rng = random.Random(0)
    statuses: dict[str, int] = {}
    failed = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(count):
            method, path, headers, body = hostile_request(rng)
            try:
                status = client.request(method, path, headers=headers, content=body).status_code
                bucket = f"{status // 100}xx"
                statuses[bucket] = statuses.get(bucket, 0) + 1
                if status >= 500:
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
            except httpx.HTTPError:
                failed += 1
        alive = client.post("/api/ask", json={"question": QUESTIONS[0]}).status_code == 200
    text = log.read_text(encoding="utf-8")
    return {"requests": count, "statuses": dict(sorted(statuses.items())), "connection_failures": failed,
            "still_answering": alive, "tracebacks_in_log": text.count("Traceback")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1500, help="idle sockets (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20, help="load duration (default: %(default)s)")
    parser.add_argument("--fuzz", type=int, default=2000, help="hostile requests (default: %(default)s)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="recordqa-hostile-") as tmp:
        proc, url, log = start_server(Path(tmp))
        try:
            for name, run in (("body limit (200 MB declared)", lambda: body_limit(url, proc.pid)),
                              ("idle sockets", lambda: idle_sockets(url, args.idle)),
                              (f"{args.clients} concurrent clients on /api/ask", lambda: load(url, args.clients,
                                                                                           args.seconds)),
                              ("hand fuzz", lambda: fuzz(url, args.fuzz, log))):
                print(f"{name}: {json.dumps(run(), ensure_ascii=False)}", flush=True)
            print(f"server RSS at the end: {rss_mb(proc.pid):.1f} MB")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
