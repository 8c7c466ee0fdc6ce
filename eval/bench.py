"""`make bench`: index build time and per-question latency, lexical-only vs hybrid.

Prints figures; asserts nothing. Each configuration builds its own index in a temporary
folder, so the live index is untouched.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from eval.metrics import percentile
from eval.run import load_dataset
from recordqa.factories import configure_environment, ensure_index, make_answerer, make_embedders, make_tokenizer
from recordqa.settings import Settings

DATASET = Path(__file__).with_name("dev.jsonl")


def machine() -> str:
    cpus = os.cpu_count()
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {cpus} cores, Python {platform.python_version()}"


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
            "questions": len(latencies),
            "latency_ms_median": round(statistics.median(latencies), 1),
            "latency_ms_p95": percentile(latencies, 0.95),
        }


def main() -> None:
    settings = Settings()
    configure_environment(settings)
    questions = load_dataset(DATASET)
    print(f"machine: {machine()}")
    rows = [bench("lexical", settings, questions), bench("hybrid", settings, questions)]
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    ratio = rows[1]["latency_ms_median"] / max(rows[0]["latency_ms_median"], 1e-9)
    print(f"hybrid / lexical median latency: {ratio:.1f}x")


if __name__ == "__main__":
    main()
