"""`make bench-scale`: what an index of 1k, 10k and 100k paragraphs costs to build, keep and query.

For each size it writes a collection of synthetic records (``eval/synthetic_records.py``, 100
paragraphs each, zh and en), builds its index through the project's own path (``ensure_index``)
and prints build time, throughput (paragraphs/s; embedding tokens/s), index size on disk and
the build's peak memory; then it opens the index the way the app does (``LiveIndex`` and
``make_answerer``) and prints retrieval and full-answer latency p50/p95 for lexical, dense and
hybrid, and the app's memory; finally the time to add one 100-paragraph record to the largest
collection, and to remove it again. With ``--server-sizes`` the same queries run against a
Chroma server (``chroma run`` on 127.0.0.1, ``RECORDQA_CHROMA_URL``).

Embedding is the slow part: multilingual-e5-small on 2 shared cores embeds a few paragraph windows
a second, so 100k paragraphs in two languages (200k windows) would take hours. Vectors therefore
go through a cache (``--cache``, default ``.recordqa/bench-cache/``; SQLite keyed by sha256 of
model and text): a text found there is not embedded again, so a second run redoes no embedding.
Every distinct sentence is embedded for real (the synthetic paragraphs recombine about 2,200 real
sentences). Paragraph windows are embedded for real in collections up to ``--real-up-to``
paragraphs (default 0: none, on a shared 2-core machine); elsewhere a window not in the cache gets
a *derived* vector: the normalised mean of its sentences' real vectors. Record i is the same in
every collection, so windows embedded for a smaller collection are reused by the larger ones.
The rate step embeds 200 paragraphs' windows (zh and en) and their sentences for real.
The output says how many vectors were embedded, read from the cache and derived, and what a
build embedding everything would take at the measured rate.

Each step runs in its own process (its peak RSS is the step's), and its result is kept in
``<work>/results.json``: a second run prints the kept results and redoes only missing steps
(``--redo`` redoes them all, ``--redo query,add`` only those kinds; the vector cache is kept
either way).

    python -m eval.bench_scale [--sizes 1000,10000,100000] [--server-sizes 1000,10000] [--questions 40]
                               [--real-up-to 0] [--redo [KINDS]] [--plot docs/scale.svg]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from eval.metrics import percentile
from eval.synthetic_records import load_pool, write_collection

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".recordqa" / "bench-scale"
CACHE = ROOT / ".recordqa" / "bench-cache"
DATASET = ROOT / "eval" / "benchmark" / "dev.jsonl"
PER_RECORD = 100
RATE_SAMPLE = 200
"""Paragraphs (each in zh and en) embedded for real to measure the embedding rate."""
MODES = ("hybrid", "lexical", "dense")
TARGETS = {"answer_p95_ms": 400, "app_rss_mb": 4096, "add_record_s": 60}


class CachedEmbedder:
    """An embedder that reads vectors from the cache and embeds (or derives) only the rest.

    It has the wrapped model's name, so the index it builds is answered with the real model."""

    def __init__(self, base, cache: Path, *, derive: bool) -> None:
        self.base = base
        self.name, self.label = base.name, base.label
        self.dimensions, self.languages, self.max_tokens = base.dimensions, base.languages, base.max_tokens
        self.derive = derive
        cache.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(cache / f"vectors-{hashlib.sha256(base.name.encode()).hexdigest()[:8]}.sqlite3")
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self.memo: dict[str, np.ndarray] = {}
        """Derived vectors of this process (never stored: the cache holds only real embeddings)."""
        self.stats = {"cached": 0, "embedded": 0, "embedded_tokens": 0, "embed_s": 0.0, "derived": 0,
                      "derived_tokens": 0}

    def token_count(self, text: str) -> int:
        return self.base.token_count(text)

    def windows(self, text: str) -> list[str]:
        return self.base.windows(text)

    def embed_query(self, text: str) -> np.ndarray:
        return self.base.embed_query(text)

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\n{text}".encode()).hexdigest()

    def lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        keys = {self._key(t): t for t in texts}
        listed = list(keys)
        for start in range(0, len(listed), 900):
            chunk = listed[start:start + 900]
            rows = self.db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                   chunk)
            for key, blob in rows:
                found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                            [(self._key(t), np.asarray(v, dtype=np.float32).tobytes())
                             for t, v in zip(texts, vectors, strict=True)])
        self.db.commit()

    def embed_real(self, texts: list[str], batch: int = 256) -> dict[str, np.ndarray]:
        """Embed with the model, storing every batch at once (an interrupted run keeps its work)."""
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(texts), batch):
            chunk = texts[start:start + batch]
            began = time.perf_counter()
            vectors = self.base.embed_documents(chunk)
            self.stats["embed_s"] += time.perf_counter() - began
            self.stats["embedded"] += len(chunk)
            self.stats["embedded_tokens"] += sum(self.base.token_count(t) for t in chunk)
            self.store(chunk, vectors)
            out.update(zip(chunk, vectors, strict=True))
        return out

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        distinct = list(dict.fromkeys(texts))
        vectors = {t: self.memo[t] for t in distinct if t in self.memo}
        vectors.update(self.lookup([t for t in distinct if t not in vectors]))
        self.stats["cached"] += len(vectors)
        missing = [t for t in distinct if t not in vectors]
        if missing and self.derive:
            derived = self._derived(missing)
            self.memo.update(derived)
            vectors.update(derived)
        elif missing:
            vectors.update(self.embed_real(missing))
        return np.stack([vectors[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, self.dimensions))

    def _derived(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The normalised mean of the real vectors of each text's sentences (not stored: a later
        run with more time embeds them for real)."""
        from indexer.record import detect_language
        from indexer.sentences import split_sentences

        parts = {t: split_sentences(t, detect_language(t)) or [t] for t in texts}
        pieces = list(dict.fromkeys(s for sentences in parts.values() for s in sentences))
        known = self.lookup(pieces)
        known.update(self.embed_real([s for s in pieces if s not in known]))
        out = {}
        for text, sentences in parts.items():
            mean = np.mean([known[s] for s in sentences], axis=0)
            out[text] = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
            self.stats["derived"] += 1
            self.stats["derived_tokens"] += self.base.token_count(text)
        return out


# ---- one step per process -------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def tree_mb(*folders: Path) -> float:
    return round(sum(f.stat().st_size for folder in folders if folder.exists()
                     for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


def size_settings(work: Path, size: int, server_url: str | None = None):
    from recordqa.settings import Settings

    suffix = "-server" if server_url else ""
    update = {"index_dir": work / f"index-{size}{suffix}", "records_dir": work / f"records-{size}",
              "retrieval_mode": "hybrid"}
    if server_url:
        update["chroma_url"] = server_url
    return Settings().model_copy(update=update)


def ensure_records(work: Path, size: int) -> Path:
    folder = work / f"records-{size}"
    stamp = folder / ".complete"
    if not stamp.exists():
        write_collection(folder, records=size // PER_RECORD, paragraphs=PER_RECORD, pool=load_pool())
        stamp.write_text("ok")
    return folder


def step_rate(args) -> dict:
    """Embed RATE_SAMPLE paragraphs (zh and en windows) and their sentences for real."""
    from indexer.build import lexical_text
    from indexer.corpus import load_corpus
    from indexer.sentences import split_sentences
    from recordqa.factories import configure_environment, make_embedders

    settings = size_settings(args.work, args.sizes[0])
    configure_environment(settings)
    ensure_records(args.work, args.sizes[0])
    corpus = load_corpus([settings.records_dir])
    embedders, _ = make_embedders(settings)
    base = embedders[0]
    cache = CachedEmbedder(base, args.cache, derive=False)
    keys = corpus.keys()[:RATE_SAMPLE]
    paragraphs = [corpus.get(k, lang) for k in keys for lang in ("zh", "en")]
    windows = [w for p in paragraphs for w in base.windows(lexical_text(p))]
    sentences = list(dict.fromkeys(s for p in paragraphs for s in split_sentences(p.text, p.lang)))
    out = {"model": base.label, "threads": os.cpu_count()}
    for name, texts in (("windows", windows), ("sentences", sentences)):
        tokens = sum(base.token_count(t) for t in texts)
        began = time.perf_counter()
        vectors = base.embed_documents(texts)
        seconds = time.perf_counter() - began
        cache.store(texts, vectors)
        out[name] = {"texts": len(texts), "tokens": tokens, "seconds": round(seconds, 1),
                     "texts_per_s": round(len(texts) / seconds, 1), "tokens_per_s": round(tokens / seconds)}
    out["paragraphs_per_s"] = round(len(paragraphs) / (out["windows"]["seconds"] or 1e-9) / 2, 2)
    return out


def step_build(args, size: int, server_url: str | None = None) -> dict:
    from indexer.corpus import load_corpus
    from recordqa.factories import configure_environment, ensure_index, make_embedders, make_tokenizer

    settings = size_settings(args.work, size, server_url)
    configure_environment(settings)
    began = time.perf_counter()
    ensure_records(args.work, size)
    generate_s = time.perf_counter() - began
    tokenizer = make_tokenizer(settings)
    embedders, dense = make_embedders(settings)
    cached = CachedEmbedder(embedders[0], args.cache, derive=size > args.real_up_to)
    began = time.perf_counter()
    corpus = load_corpus([settings.records_dir])
    parse_s = time.perf_counter() - began
    began = time.perf_counter()
    # force: a kept index from an interrupted run would make this a no-op and measure nothing.
    summary = ensure_index(settings, corpus=corpus, tokenizer=tokenizer, embedders=[cached], dense=dense,
                           force=True, progress=False)
    build_s = time.perf_counter() - began
    paragraphs = len(corpus.keys())
    stats = cached.stats
    windows = summary.vector_entries
    # What the build would take with every vector embedded: the derived ones at the measured rate.
    rate = args.results.get("rate", {}).get("windows", {}).get("tokens_per_s")
    projected = build_s + stats["derived_tokens"] / rate if rate and stats["derived"] else None
    return {
        "size": size, "store": "server" if server_url else "embedded", "records": len(corpus.record_ids),
        "paragraphs": paragraphs, "paragraph_versions": paragraphs * len(corpus.languages),
        "generate_s": round(generate_s, 1), "parse_s": round(parse_s, 1), "build_s": round(build_s, 1),
        "paragraphs_per_s": round(paragraphs / build_s, 1),
        "window_vectors": windows, "sentence_vectors": summary.sentence_vectors,
        "vectors_embedded": stats["embedded"], "embedded_tokens": stats["embedded_tokens"],
        "embed_s": round(stats["embed_s"], 1),
        "embed_tokens_per_s": round(stats["embedded_tokens"] / stats["embed_s"]) if stats["embed_s"] else None,
        "vectors_from_cache": stats["cached"], "vectors_derived": stats["derived"],
        "projected_real_build_s": round(projected) if projected else None,
        "index_mb": tree_mb(settings.index_dir) + (tree_mb(args.work / "chroma-server") if server_url else 0),
        "peak_rss_mb": peak_rss_mb(),
    }


def load_questions(n: int) -> list[dict]:
    lines = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[:n]


def step_query(args, size: int, server_url: str | None = None) -> dict:
    from indexer.live import LiveIndex
    from recordqa.factories import configure_environment, make_answerer, make_embedders, make_tokenizer

    settings = size_settings(args.work, size, server_url)
    configure_environment(settings)
    began = time.perf_counter()
    # With a server, the URL of this run's server (the manifest keeps the one the build was made with).
    index = LiveIndex.open(settings.index_dir, **({"chroma_url": server_url} if server_url else {}))
    tokenizer = make_tokenizer(settings)
    embedders, _ = make_embedders(settings)
    answerers = {}
    knowledge = None
    out: dict = {"size": size, "store": "server" if server_url else "embedded"}
    for mode in MODES:
        answerer = make_answerer(settings.model_copy(update={"retrieval_mode": mode}), index=index,
                                 tokenizer=tokenizer, embedders=embedders, knowledge=knowledge, llm=None)
        knowledge = (answerer.extractive.packs, answerer.extractive.gazetteer, answerer.analyser.translate)
        answerers[mode] = answerer
        if mode == "hybrid":
            out["load_s"] = round(time.perf_counter() - began, 1)
    questions = load_questions(args.questions)
    for mode in MODES:  # hybrid first: the app's memory is read after its questions
        answerer = answerers[mode]
        answerer.ask("warm-up question about the Executive Board")
        retrieval, answer, cpu = [], [], []
        for item in questions:
            began = time.process_time()
            result = answerer.ask(item["question"], lang=item.get("lang"))
            # CPU time (all threads) next to wall time: on a machine shared with other jobs, wall
            # time measures the queue for the cores as much as the work.
            cpu.append((time.process_time() - began) * 1000)
            t = result.timings_ms
            retrieval.append(t.get("analysis", 0) + t.get("retrieval", 0))
            answer.append(t["total"])
        out[mode] = {"retrieval_p50_ms": percentile(retrieval, 0.5, 1),
                     "retrieval_p95_ms": percentile(retrieval, 0.95, 1),
                     "answer_p50_ms": percentile(answer, 0.5, 1), "answer_p95_ms": percentile(answer, 0.95, 1),
                     "answer_cpu_p50_ms": percentile(cpu, 0.5, 1), "answer_cpu_p95_ms": percentile(cpu, 0.95, 1)}
        if mode == "hybrid":
            out["app_rss_mb"] = current_rss_mb()
    out["questions"] = len(questions)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def step_add(args, size: int) -> dict:
    """Add record number size/100 + 1 to the collection and re-index, then remove it and re-index.
    Its own vectors are embedded (into the cache) before the clock starts."""
    from indexer.build import lexical_text
    from indexer.corpus import load_corpus
    from indexer.sentences import split_sentences
    from recordqa.factories import configure_environment, ensure_index, make_embedders, make_tokenizer

    settings = size_settings(args.work, size)
    configure_environment(settings)
    tokenizer = make_tokenizer(settings)
    embedders, dense = make_embedders(settings)
    cached = CachedEmbedder(embedders[0], args.cache, derive=size > args.real_up_to)
    records = ensure_records(args.work, size)
    extra = args.work / "extra-record"
    shutil.rmtree(extra, ignore_errors=True)
    [folder] = write_collection(extra, records=1, paragraphs=PER_RECORD, start=size // PER_RECORD, pool=load_pool())
    new = load_corpus([folder])
    texts = [w for p in new.paragraphs() for w in cached.windows(lexical_text(p))]
    texts += [s for p in new.paragraphs() for s in split_sentences(p.text, p.lang)]
    cached.embed_documents(texts)  # its own embedding (or derivation), not timed
    embedded_before = cached.stats["embedded"] + cached.stats["derived"]
    target = records / folder.name
    shutil.rmtree(target, ignore_errors=True)
    # Untimed: the collection as the last build left it (current, and every record file's parse
    # kept in the parse cache, as any earlier index or question leaves them).
    ensure_index(settings, tokenizer=tokenizer, embedders=[cached], dense=dense, progress=False)
    out: dict = {"size": size, "record_paragraphs": PER_RECORD}
    try:
        shutil.copytree(folder, target)
        began = time.perf_counter()
        summary = ensure_index(settings, tokenizer=tokenizer, embedders=[cached], dense=dense, progress=False)
        out["add_s"] = round(time.perf_counter() - began, 1)
        out["add_embedded"] = cached.stats["embedded"] + cached.stats["derived"] - embedded_before
        out["add_vectors_reused"] = summary.reused
    finally:
        shutil.rmtree(target, ignore_errors=True)
    began = time.perf_counter()
    ensure_index(settings, tokenizer=tokenizer, embedders=[cached], dense=dense, progress=False)
    out["remove_s"] = round(time.perf_counter() - began, 1)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ---- the driver --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chroma_server(work: Path):
    """`chroma run` on 127.0.0.1 with its data in <work>/chroma-server; yields its URL."""
    import httpx

    port = free_port()
    path = work / "chroma-server"
    log = (work / "chroma-server.log").open("w")
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: see {work / 'chroma-server.log'}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def read_results(work: Path) -> dict:
    path = work / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_step(args, key: str, results: dict, server_url: str | None = None) -> dict | None:
    """The step's kept result, else run it. A lock per step lets two runs share the work (one can
    build 100k while the other does 1k and 10k): the second waits, then reads the first's result."""
    with (args.work / f".{key.replace(':', '-')}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results.update(read_results(args.work))
        redo = args.redo is not None and (args.redo == "all" or key.split(":")[0] in args.redo.split(","))
        if key in results and (not redo or key in args.done):
            return results[key]
        out = _run_step(args, key, server_url)
        if out is not None:
            merged = read_results(args.work)
            merged[key] = results[key] = out
            args.done.add(key)
            (args.work / "results.json").write_text(json.dumps(merged, indent=1, ensure_ascii=False))
        return out


def _run_step(args, key: str, server_url: str | None) -> dict | None:
    command = [sys.executable, "-m", "eval.bench_scale", "--step", key, "--work", str(args.work),
               "--cache", str(args.cache), "--real-up-to", str(args.real_up_to), "--questions", str(args.questions),
               "--sizes", ",".join(map(str, args.sizes))]
    if server_url:
        command += ["--server-url", server_url]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{key}: failed after {time.perf_counter() - began:.0f} s: {done.stderr.strip()[-1500:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


STEP_KINDS = ("rate", "build", "query", "add")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="collection sizes in paragraphs")
    parser.add_argument("--server-sizes", default="1000,10000",
                        help="sizes also queried through a Chroma server (RECORDQA_CHROMA_URL); '' for none")
    parser.add_argument("--real-up-to", type=int, default=0,
                        help="embed windows for real up to this size; larger collections derive uncached ones")
    parser.add_argument("--questions", type=int, default=40, help="questions from eval/benchmark/dev.jsonl per mode")
    parser.add_argument("--work", type=Path, default=WORK, help="records, indexes and results.json")
    parser.add_argument("--cache", type=Path, default=CACHE, help="the vector cache folder")
    parser.add_argument("--redo", nargs="?", const="all", metavar="KINDS",
                        help="redo steps whose results are kept: all of them, or only these kinds "
                             "(comma-separated: rate, build, query, add), e.g. --redo query,add after a change "
                             "to the answer path")
    parser.add_argument("--plot", type=Path, help="also draw query time against size as an SVG here")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--server-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.redo.split(",")) - {"all", *STEP_KINDS} if args.redo else set()
    if unknown:
        parser.error(f"--redo: unknown step kind(s) {', '.join(sorted(unknown))} (known: {', '.join(STEP_KINDS)})")
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    server_sizes = [int(s) for s in args.server_sizes.split(",") if s]
    args.work.mkdir(parents=True, exist_ok=True)
    results = read_results(args.work)
    args.results, args.done = results, set()
    if args.step:
        kind, _, rest = args.step.partition(":")
        size = int(rest.split(":")[0]) if rest else 0
        out = {"rate": lambda: step_rate(args), "build": lambda: step_build(args, size, args.server_url),
               "query": lambda: step_query(args, size, args.server_url), "add": lambda: step_add(args, size)}[kind]()
        print(json.dumps(out, ensure_ascii=False))
        return

    from eval.run import machine

    print(f"machine: {machine()}", flush=True)
    rate = run_step(args, "rate", results)
    print("rate " + json.dumps(rate, ensure_ascii=False), flush=True)
    for size in args.sizes:
        for key in (f"build:{size}", f"query:{size}"):
            print(f"{key} " + json.dumps(run_step(args, key, results), ensure_ascii=False), flush=True)
    largest = args.sizes[-1]
    print(f"add:{largest} " + json.dumps(run_step(args, f"add:{largest}", results), ensure_ascii=False), flush=True)
    if server_sizes:
        from recordqa.settings import Settings

        if "chroma_url" not in Settings.model_fields:
            print("server: not measured (this version has no RECORDQA_CHROMA_URL)")
        else:
            with chroma_server(args.work) as url:
                for size in server_sizes:
                    for key in (f"build:{size}:server", f"query:{size}:server"):
                        # A kept result is only valid with its server's data, which the server folder keeps.
                        print(f"{key} " + json.dumps(run_step(args, key, results, url), ensure_ascii=False),
                              flush=True)
    print_summary(results, args.sizes)
    if args.plot:
        plot_svg(results, args.sizes, args.plot)
        print(f"plot: {args.plot}")


SERIES = (("lexical", "retrieval", "#1f77b4"), ("dense", "retrieval", "#ff7f0e"), ("hybrid", "retrieval", "#2ca02c"),
          ("hybrid", "answer", "#d62728"), ("hybrid", "answer_cpu", "#9467bd"))
LABELS = {"retrieval": "retrieval", "answer": "answer", "answer_cpu": "answer, CPU time"}


def plot_svg(results: dict, sizes: list[int], path: Path) -> None:
    """Query time p50 (solid) and p95 (dashed) against collection size, log-log, as an SVG drawn
    without a plotting library (none is installed in the app's environment)."""
    import math

    points = {(mode, kind): [(size, results[f"query:{size}"][mode][f"{kind}_p50_ms"],
                              results[f"query:{size}"][mode][f"{kind}_p95_ms"])
                             for size in sizes if f"{kind}_p50_ms" in results.get(f"query:{size}", {}).get(mode, {})]
              for mode, kind, _ in SERIES}
    values = [v for series in points.values() for _, p50, p95 in series for v in (p50, p95)]
    if not values:
        return
    width, height, left, right, top, bottom = 720, 420, 70, 200, 40, 50
    x_lo, x_hi = math.log10(min(sizes)), math.log10(max(sizes))
    y_lo, y_hi = math.floor(math.log10(max(min(values), 1))), math.ceil(math.log10(max(values)))

    def x(size: float) -> float:
        return left + (math.log10(size) - x_lo) / max(x_hi - x_lo, 1e-9) * (width - left - right)

    def y(ms: float) -> float:
        return height - bottom - (math.log10(max(ms, 1)) - y_lo) / max(y_hi - y_lo, 1e-9) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">Query time against collection size (p50 solid, p95 dashed; '
           f'log-log)</text>']
    for decade in range(y_lo, y_hi + 1):
        ms = 10 ** decade
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(ms):.1f}" y2="{y(ms):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g} ms</text>')
    for size in sizes:
        out.append(f'<line x1="{x(size):.1f}" x2="{x(size):.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x(size):.1f}" y="{height - bottom + 18}" text-anchor="middle">{size:,}</text>')
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
               f'paragraphs (each in zh and en)</text>')
    target = TARGETS["answer_p95_ms"]
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
               f'stroke="#d62728" stroke-width="0.8" stroke-dasharray="2,3"/>')
    out.append(f'<text x="{left + 6}" y="{y(target) - 5:.1f}" fill="#d62728">answer p95 target ({target} ms)</text>')
    for n, (mode, kind, colour) in enumerate(SERIES):
        series = points[(mode, kind)]
        for column, dash in ((1, ""), (2, ' stroke-dasharray="6,4"')):
            line = " ".join(f"{x(p[0]):.1f},{y(p[column]):.1f}" for p in series)
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        out += [f'<circle cx="{x(p[0]):.1f}" cy="{y(p[c]):.1f}" r="3" fill="{colour}"/>'
                for p in series for c in (1, 2)]
        label = f"{mode} {LABELS[kind]}"
        out.append(f'<line x1="{width - right + 6}" x2="{width - right + 26}" y1="{top + 20 + 18 * n}" '
                   f'y2="{top + 20 + 18 * n}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 30}" y="{top + 24 + 18 * n}">{label}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def latency(query: dict, mode: str, kind: str = "retrieval") -> str:
    if f"{kind}_p50_ms" not in query[mode]:
        return "-"
    return f"{query[mode][f'{kind}_p50_ms']:.0f} / {query[mode][f'{kind}_p95_ms']:.0f}"


def print_summary(results: dict, sizes: list[int]) -> None:
    rate = results.get("rate") or {}
    windows = rate.get("windows", {})
    print(f"\nembedding rate ({rate.get('model')}): {windows.get('texts_per_s')} windows/s, "
          f"{windows.get('tokens_per_s')} tokens/s; sentences {rate.get('sentences', {}).get('texts_per_s')}/s")
    header = ("| paragraphs | build s (of it embedding) | paragraphs/s | index MB | build peak MB | app MB | "
              "lexical p50/p95 ms | dense p50/p95 ms | hybrid p50/p95 ms | hybrid answer p50/p95 ms | "
              "hybrid answer CPU p50/p95 ms | vectors |")
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for size in sizes:
        for store in ("", ":server"):
            build, query = results.get(f"build:{size}{store}"), results.get(f"query:{size}{store}")
            if not build or not query:
                continue
            vectors = (f"{build['vectors_embedded']} embedded, {build['vectors_from_cache']} cached, "
                       f"{build['vectors_derived']} derived")
            print(f"| {size:,}{' (server)' if store else ''} | {build['build_s']:.0f} ({build['embed_s']:.0f}) "
                  f"| {build['paragraphs_per_s']:.0f} | {build['index_mb']:.0f} | {build['peak_rss_mb']:.0f} "
                  f"| {query['app_rss_mb']:.0f} | {latency(query, 'lexical')} | {latency(query, 'dense')} "
                  f"| {latency(query, 'hybrid')} | {latency(query, 'hybrid', 'answer')} "
                  f"| {latency(query, 'hybrid', 'answer_cpu')} | {vectors} |")
    largest = sizes[-1]
    query, add = results.get(f"query:{largest}"), results.get(f"add:{largest}")
    if query:
        print(f"targets at {largest:,}: hybrid answer p95 {query['hybrid']['answer_p95_ms']} ms "
              f"(target <= {TARGETS['answer_p95_ms']}), app memory {query['app_rss_mb']} MB "
              f"(target < {TARGETS['app_rss_mb']})")
    if add:
        print(f"add one {add['record_paragraphs']}-paragraph record to {largest:,}: {add['add_s']} s "
              f"(target <= {TARGETS['add_record_s']}; its own embedding excluded), remove it: {add['remove_s']} s")


if __name__ == "__main__":
    main()
