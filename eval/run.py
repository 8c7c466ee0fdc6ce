"""Run a QA dataset through an answerer and write ``results.json``.

Dataset lines: {"id", "question", "lang", "gold_paragraphs", "answers", "answerable"}.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.metrics import contains_accepted, hit_at, mean, percentile
from qa.pipeline import Answerer

REQUIRED = ("id", "question", "lang", "gold_paragraphs", "answers", "answerable")


class DatasetError(ValueError):
    pass


def load_dataset(path: Path) -> list[dict]:
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
        missing = [f for f in REQUIRED if f not in item]
        if missing:
            raise DatasetError(f"{path}:{lineno}: missing fields {missing}")
        item["gold_paragraphs"] = [str(g) for g in item["gold_paragraphs"]]
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: no questions")
    return items


def score_item(item: dict, result: dict) -> dict:
    answerable = bool(item["answerable"])
    scored = {
        "hit@5": hit_at(result["retrieved"], item["gold_paragraphs"], 5) if answerable and item["gold_paragraphs"]
        else None,
        "correct": (not result["abstained"] and bool(result["citations"])
                    and contains_accepted(result["answer"], item["answers"])) if answerable else None,
        "abstained": result["abstained"],
        "citations_retrieved": all(c in result["retrieved"] for c in result["citations"]),
    }
    return scored


def summarise(items: list[dict], dataset: list[dict]) -> dict:
    by_id = {d["id"]: d for d in dataset}

    def block(selected: list[dict]) -> dict:
        answerable = [i for i in selected if by_id[i["id"]]["answerable"]]
        unanswerable = [i for i in selected if not by_id[i["id"]]["answerable"]]
        latencies = [i["latency_ms"] for i in selected]
        return {
            "questions": len(selected),
            "hit@5": mean([i["scores"]["hit@5"] for i in answerable if i["scores"]["hit@5"] is not None]),
            "answer_accuracy": mean([1.0 if i["scores"]["correct"] else 0.0 for i in answerable]),
            "abstain_rate_unanswerable": mean([1.0 if i["abstained"] else 0.0 for i in unanswerable]),
            "false_abstain_rate_answerable": mean([1.0 if i["abstained"] else 0.0 for i in answerable]),
            "citations_retrieved": mean([1.0 if i["scores"]["citations_retrieved"] else 0.0 for i in selected]),
            "latency_ms_median": percentile(latencies, 0.5),
            "latency_ms_p95": percentile(latencies, 0.95),
        }

    summary = {"overall": block(items)}
    for lang in sorted({d["lang"] for d in dataset}):
        summary[lang] = block([i for i in items if by_id[i["id"]]["lang"] == lang])
    return summary


def run_eval(answerer: Answerer, dataset: list[dict], *, out_dir: Path | None = None) -> dict:
    items = []
    for item in dataset:
        answer = answerer.ask(item["question"], history=item.get("history"), lang=item.get("lang"))
        result = {
            "id": item["id"],
            "question": item["question"],
            "retrieved": answer.retrieved,
            "answer": answer.answer,
            "citations": [c.paragraph for c in answer.citations],
            "abstained": answer.abstained,
            "latency_ms": answer.timings_ms.get("total", 0.0),
        }
        result["scores"] = score_item(item, result)
        items.append(result)
    results = {
        "summary": {**summarise(items, dataset), "mode": answerer.mode,
                    "settings_hash": answerer.options.settings_hash,
                    "index_build": answerer.index.manifest.build_id, "dense": answerer.index.manifest.dense},
        "items": items,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return results
