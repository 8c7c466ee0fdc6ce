"""`make bench-cluster`: throughput of the multi-replica arrangement (deploy/cluster.py). Prints
figures; asserts nothing.

The cluster runs as `make cluster` runs it (nginx, replicas sharing one index folder, a Chroma
server), on an index of the shipped record with the default settings (hybrid retrieval, the
default embedder, extractive answers) and the rate limit off. C clients (threads, each with its
own keep-alive connection) ask on POST /api/ask for D seconds through the proxy, once with 1
replica and once with 2, and once straight at the single replica (the proxy's own cost). The load
generator runs on the same machine and takes CPU from the replicas: its share is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from eval.bench_hostile import load, rss_mb
from eval.run import machine
from recordqa.settings import PROJECT_ROOT

CLUSTER = PROJECT_ROOT / "deploy" / "cluster.py"


def cluster_env(root: Path, retrieval_mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDQA_")}
    env.update(RECORDQA_INDEX_DIR=str(root / "index"), RECORDQA_CACHE_DIR=str(root / "cache"),
               RECORDQA_FEEDBACK_PATH=str(root / "feedback.sqlite3"), RECORDQA_RATE_LIMIT_PER_MINUTE="0",
               RECORDQA_RETRIEVAL_MODE=retrieval_mode,
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               PYTHONIOENCODING="utf-8")
    return env


def start_cluster(root: Path, replicas: int, retrieval_mode: str) -> tuple[subprocess.Popen, dict]:
    run_dir = root / "run"
    state_file = run_dir / "cluster.json"
    state_file.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, str(CLUSTER), "--port", "0", "--replicas", str(replicas),
                                "--run-dir", str(run_dir)], env=cluster_env(root, retrieval_mode),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 900
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the cluster did not start: {process.communicate()[1][-2000:]}")
        time.sleep(0.5)
    return process, json.loads(state_file.read_text(encoding="utf-8"))


class PeakMemory:
    """Highest RSS of each process, sampled every half second while the load runs."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_mb(pid))
            self._stop.wait(0.5)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (nginx's workers are the master's children)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            continue
    return total


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its children, now."""
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        parent = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("PPid:")), None)
        if int(status.parent.name) == pid or parent == pid:
            total += next((int(line.split()[1]) / 1024 for line in text.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def measure(url: str, replicas: list[dict], others: dict[str, int], clients: int, seconds: float) -> dict:
    """``others``: name -> pid of the parts besides the replicas (nginx, the Chroma server) whose CPU is shown."""
    load(url, min(clients, 8), 3)  # warm-up: connections, caches, the first answers
    cpu_before = {r["pid"]: cpu_seconds(r["pid"]) for r in replicas}
    others_before = {name: tree_cpu_seconds(pid) for name, pid in others.items()}
    mine_before = resource.getrusage(resource.RUSAGE_SELF)
    with PeakMemory([r["pid"] for r in replicas]) as memory:
        result = load(url, clients, seconds)
    mine = resource.getrusage(resource.RUSAGE_SELF)
    result["replica_peak_rss_mb"] = [round(memory.peak[r["pid"]]) for r in replicas]
    result["replica_cpu_s"] = [round(cpu_seconds(r["pid"]) - cpu_before[r["pid"]], 1) for r in replicas]
    result["other_rss_mb"] = {name: round(tree_rss_mb(pid)) for name, pid in others.items()}
    result["other_cpu_s"] = {name: round(tree_cpu_seconds(pid) - others_before[name], 1)
                             for name, pid in others.items()}
    # Other work on the machine shows here (the load average counts runnable processes; 2 cores).
    result["load_average_1min_after"] = float(Path("/proc/loadavg").read_text().split()[0])
    result["load_generator_cpu_s"] = round(mine.ru_utime + mine.ru_stime - mine_before.ru_utime
                                           - mine_before.ru_stime, 1)
    return result


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)


def row(name: str, r: dict) -> str:
    errors = sum(r["errors"].values())
    return (f"| {name} | {r['answers']} | {r['per_s']} | {errors}{' ' + json.dumps(r['errors']) if errors else ''} "
            f"| {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {' / '.join(map(str, r['replica_peak_rss_mb']))} "
            f"| {' / '.join(map(str, r['replica_cpu_s']))} "
            f"| {', '.join(f'{name} {cpu}' for name, cpu in r['other_cpu_s'].items())} "
            f"| {', '.join(f'{name} {mb}' for name, mb in r['other_rss_mb'].items())} | {r['load_generator_cpu_s']} "
            f"| {r['load_average_1min_after']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--retrieval-mode", choices=["hybrid", "lexical", "dense"], default="hybrid",
                        help="RECORDQA_RETRIEVAL_MODE of the replicas (default hybrid, the shipped default)")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT / "out" / "bench-cluster",
                        help="index, Chroma data and logs (kept between runs: the index is built once)")
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    results = {}
    for replicas in (1, 2):
        process, state = start_cluster(args.root, replicas, args.retrieval_mode)
        try:
            if replicas == 1:
                results["1 replica, direct (no proxy)"] = measure(state["replicas"][0]["url"], state["replicas"],
                                                                  {"chroma": state["chroma"]["pid"]}, args.clients,
                                                                  args.seconds)
            results[f"{replicas} replica{'s' if replicas > 1 else ''} behind nginx"] = measure(
                state["url"].rstrip("/"), state["replicas"],
                {"nginx": state["nginx"]["pid"], "chroma": state["chroma"]["pid"]}, args.clients, args.seconds)
        finally:
            stop(process)
    print(f"bench-cluster on {machine()}: POST /api/ask, {args.clients} concurrent clients, {args.seconds:.0f} s "
          f"each, {args.retrieval_mode} retrieval (default embedder), extractive answers, rate limit off")
    print("| setup | answers | answers/s | errors | p50 ms | p95 ms | p99 ms | peak RSS per replica MB "
          "| replica CPU s | proxy, Chroma CPU s | proxy, Chroma RSS MB | load generator CPU s "
          "| load average |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        print(row(name, result))
    out = args.root / "bench-cluster.json"
    out.write_text(json.dumps({"machine": machine(), "clients": args.clients, "seconds": args.seconds,
                               "results": results}, indent=2), encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
