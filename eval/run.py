"""Run a QA dataset through one or more systems and write the results.

``results.json`` keeps the first format ({"summary", "items"} with per-item id, retrieved,
answer, citations, abstained, latency_ms) and adds: summaries split by language, crossing and
type with 95% bootstrap intervals, ``run`` (git revision, settings hash, models, index
manifest, dataset hash, machine), and, for ``--compare``, every configuration side by side.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from eval.dataset import DatasetError, abstention_reference, dataset_hash, load_dataset, ragas_row
from eval.score import is_cross_lingual, score_item, summarise
from eval.systems import Outcome
from recordqa.settings import PROJECT_ROOT

__all__ = ["DatasetError", "load_dataset", "provenance", "run_eval", "run_items", "write_outputs"]


def result_item(item: dict, outcome: Outcome) -> dict:
    """One item's line of results.json. An item whose system gave no answer (``error``) keeps
    empty scores: it is counted apart, never as a wrong answer."""
    result = {
        "id": item["id"],
        "question": item["question"],
        "lang": item["lang"],
        "type": item.get("type", "unspecified"),
        "record": item.get("record"),
        "cross_lingual": is_cross_lingual(item),
        "answerable": bool(item["answerable"]),
        "gold_paragraphs": item["gold_paragraphs"],
        "answers": item["answers"],
        "retrieved": outcome.retrieved,
        "answer": outcome.answer,
        "answer_lang": outcome.lang or item["lang"],
        "citations": outcome.citations,
        "abstained": outcome.abstained,
        "latency_ms": outcome.timings_ms.get("total", 0.0),
        "total_ms": outcome.timings_ms.get("total"),
        "ttft_ms": outcome.timings_ms.get("ttft"),
        "timings_ms": outcome.timings_ms,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "refusal": outcome.refusal,
    }
    result["scores"] = {} if outcome.error else score_item(item, result)
    return result


def run_items(system, dataset: Sequence[dict], *, progress: bool = True,
              judge: Callable[[dict, dict], dict] | None = None, label: str = "") -> tuple[list[dict], bool]:
    """Ask every item; returns (results, interrupted). Ctrl-C stops the run and keeps what finished."""
    results: list[dict] = []
    bar = tqdm(dataset, desc=label or system.name, unit="q", disable=not progress, file=sys.stderr, leave=False)
    try:
        for item in bar:
            try:
                outcome = system.answer(item)
            except ValueError as exc:  # a question the system refuses (QuestionError) is a wrong answer
                outcome = Outcome("", [], False, None, {}, refusal=str(exc))
            result = result_item(item, outcome)
            if judge is not None and not result["error"]:
                result["judge"] = judge(item, result)
            results.append(result)
    except KeyboardInterrupt:
        return results, True
    finally:
        bar.close()
    return results, False


def _git_revision() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def provenance(*, dataset_path: Path, settings_hash: str | None, models: dict, manifest: dict | None) -> dict:
    from indexer.manifest import library_versions

    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_revision": _git_revision(),
        "settings_hash": settings_hash,
        "models": models,
        "index_manifest": manifest,
        "dataset": {"path": str(dataset_path), "sha256": dataset_hash(dataset_path)},
        "machine": machine(),
        "libraries": library_versions(),
    }


FIRST_ERRORS = 5


def error_summary(results: list[dict]) -> dict:
    """How many items got no answer, and the first messages (which usually say why)."""
    failed = [r for r in results if r.get("error")]
    first = [{"id": r["id"], "error": r["error"]} for r in failed[:FIRST_ERRORS]]
    return {"errors": len(failed), "first_errors": first}


def configuration_result(name: str, results: list[dict], interrupted: bool, *, elapsed_s: float,
                         resamples: int = 1000, extra: dict | None = None) -> dict:
    """Scores summarise the answered items only: an item without an answer says nothing about
    the system's accuracy, so it is counted under ``errors`` instead."""
    scored = [r for r in results if not r.get("error")]
    summary = {**summarise(scored, resamples=resamples), **error_summary(results)} if results else {}
    return {"name": name, "summary": summary, "items": results, "interrupted": interrupted,
            "questions": len(results), "scored": len(scored), **error_summary(results),
            "elapsed_s": round(elapsed_s, 2), **(extra or {})}


def assemble(configs: list[dict], skipped: dict[str, str], run: dict, dataset_size: int,
             primary: str | None = None) -> dict:
    """results.json: the ``primary`` configuration's summary and items at the top level (the
    first format; the shipped configuration when it ran, else the first), every configuration
    under ``configurations``, the others' items under ``all_items``."""
    first = next((c for c in configs if c["name"] == primary), configs[0] if configs else None)
    first = first or {"name": None, "summary": {}, "items": [], "errors": 0, "first_errors": []}
    summary = dict(first["summary"])
    if first.get("mode"):
        summary["mode"] = first["mode"]
    summary["settings_hash"] = run.get("settings_hash")
    summary.setdefault("errors", first.get("errors", 0))
    summary.setdefault("first_errors", first.get("first_errors", []))
    ordered = [first, *(c for c in configs if c is not first)] if configs else []
    return {
        "summary": summary,
        "configuration": first["name"],
        "items": first["items"],
        "errors": sum(c.get("errors", 0) for c in configs),
        "run": {**run, "finished": datetime.now(UTC).isoformat(timespec="seconds"), "questions": dataset_size,
                "interrupted": any(c["interrupted"] for c in configs)},
        "configurations": {c["name"]: {k: v for k, v in c.items() if k not in ("items", "name")} for c in ordered},
        "skipped": skipped,
        "all_items": {c["name"]: c["items"] for c in ordered[1:]},
    }


ContextText = Callable[[str, str], str | None]
"""(paragraph id, language) -> the paragraph's text, or None when it cannot be had."""


def per_item_row(name: str, item: dict, text: ContextText | None, abstentions: dict[str, str]) -> dict:
    """A line of per_item.jsonl: the result, plus ragas' SingleTurnSample fields (contexts in
    the answer's language, in rank order; an unanswerable item has no reference contexts and
    the abstention as reference). ``abstentions`` caches the abstention per language."""
    lang = item.get("answer_lang") or item["lang"]
    if not item["answerable"] and lang not in abstentions:
        abstentions[lang] = abstention_reference(lang)

    def contexts(ids: list[str] | None) -> list[str]:
        if text is None:
            return []
        return [t for t in (text(p, lang) for p in dict.fromkeys(ids or [])) if t]

    row = {"configuration": name, **item,
           **ragas_row({"question": item["question"], "answers": item["answers"], "lang": lang,
                        "gold_paragraphs": item["gold_paragraphs"], "answerable": item["answerable"]}, item,
                       abstention=abstentions.get(lang, ""))}
    row["retrieved_contexts"] = contexts(item["retrieved"])
    row["reference_contexts"] = contexts(item["gold_paragraphs"]) if item["answerable"] else []
    return row


def corpus_text(corpus) -> ContextText | None:
    """Paragraph texts from the local index's corpus."""
    if corpus is None:
        return None

    def text(paragraph: str, lang: str) -> str | None:
        key = corpus.resolve(paragraph)
        found = corpus.get(key, lang) if key else None
        return found.text if found is not None else None

    return text


def write_outputs(results: dict, out_dir: Path, *, corpus=None, context_text: ContextText | None = None) -> list[Path]:
    from eval.report import html_report, markdown_summary

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    written.append(path)
    path = out_dir / "per_item.jsonl"
    text = context_text or corpus_text(corpus)
    abstentions: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as f:
        lists = [(results.get("configuration") or "default", results["items"]), *results.get("all_items", {}).items()]
        for name, items in lists:
            for item in items:
                f.write(json.dumps(per_item_row(name, item, text, abstentions), ensure_ascii=False) + "\n")
    written.append(path)
    path = out_dir / "summary.md"
    path.write_text(markdown_summary(results), encoding="utf-8")
    written.append(path)
    path = out_dir / "report.html"
    path.write_text(html_report(results, corpus=corpus), encoding="utf-8")
    written.append(path)
    return written


def run_eval(answerer, dataset: list[dict], *, out_dir: Path | None = None, dataset_path: Path | None = None,
             progress: bool = False) -> dict:
    """One in-process configuration (the first format's entry point, kept for callers)."""
    from eval.systems import InProcess

    started = time.perf_counter()
    results, interrupted = run_items(InProcess(answerer), dataset, progress=progress)
    config = configuration_result(answerer.retriever.mode, results, interrupted,
                                  elapsed_s=time.perf_counter() - started, extra={"mode": answerer.mode})
    run = {"settings_hash": answerer.options.settings_hash, "index_build": answerer.index.manifest.build_id,
           "dense": answerer.index.manifest.dense}
    if dataset_path is not None:
        run.update(provenance(dataset_path=dataset_path, settings_hash=answerer.options.settings_hash,
                              models={}, manifest=None))
    out = assemble([config], {}, run, len(dataset))
    if out_dir is not None:
        write_outputs(out, out_dir, corpus=answerer.index.corpus)
    return out
