"""QA datasets: load (RecordQA or ragas field names), hash, and export for other tools.

A line: {"id", "question", "lang", "gold_paragraphs", "answers", "answerable"} plus optional
"type", "cross_lingual", "history" (earlier turns, for follow-ups) and "followup_of". A line may
give "gold_evidence" (passages copied from the record, see eval/evidence.py) and "record" instead
of "gold_paragraphs"; the harness turns the passages into paragraph ids once the index is open.
ragas-style lines load too: user_input -> question, reference -> answers,
reference_context_ids -> gold_paragraphs (answerable when a reference is given).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from indexer.corpus import Corpus
from qa.language import question_language

REQUIRED = ("id", "question", "lang", "gold_paragraphs", "answers", "answerable")


class DatasetError(ValueError):
    pass


def _from_ragas(row: dict, lineno: int) -> dict:
    reference = row.get("reference")
    answers = reference if isinstance(reference, list) else [reference] if reference else []
    return {
        "id": str(row.get("id") or f"q{lineno:04d}"),
        "question": row["user_input"],
        "lang": row.get("lang") or question_language(row["user_input"]),
        "gold_paragraphs": row.get("reference_context_ids") or [],
        "answers": answers,
        "answerable": row.get("answerable", bool(answers)),
        "type": row.get("type", "ragas"),
    }


def dataset_files(path: Path) -> list[Path]:
    """A dataset is one JSON-lines file or a folder of them (read in name order)."""
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DatasetError(f"{path}: no .jsonl files in the folder")
        return files
    return [path]


def load_dataset(path: Path) -> list[dict]:
    items: list[dict] = []
    for file in dataset_files(path):
        items.extend(_load_file(file))
    if not items:
        raise DatasetError(f"{path}: no questions")
    ids = [i["id"] for i in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DatasetError(f"{path}: duplicate ids {duplicates[:5]}")
    return items


def _load_file(path: Path) -> list[dict]:
    items: list[dict] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict):
            raise DatasetError(f"{path}:{lineno}: expected a JSON object")
        if "user_input" in item and "question" not in item:
            item = _from_ragas(item, lineno)
        if "gold_evidence" in item:
            item.setdefault("gold_paragraphs", [])
        missing = [f for f in REQUIRED if f not in item]
        if missing:
            raise DatasetError(f"{path}:{lineno}: missing fields {missing}")
        item["gold_paragraphs"] = [str(g) for g in item["gold_paragraphs"]]
        item.setdefault("type", "unspecified")
        items.append(item)
    return items


def dataset_hash(path: Path) -> str:
    """Hash of the dataset's bytes (file names included for a folder), so two runs can tell
    whether they asked the same questions."""
    digest = hashlib.sha256()
    for file in dataset_files(path):
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def abstention_reference(lang: str) -> str:
    """What an unanswerable question's reference answer is: the answerer's own words for
    "nothing relevant in the record", in the language asked."""
    from qa.language_pack import PackError, load_pack

    try:
        return load_pack(lang).message("nothing")
    except (PackError, KeyError, OSError):
        return load_pack("en").message("nothing")


def ragas_row(item: dict, result: dict | None = None, *, abstention: str = "") -> dict:
    """The item (and, given, its result) under ragas' field names. An unanswerable item's
    reference is ``abstention`` (see ``abstention_reference``)."""
    answerable = item.get("answerable", bool(item["answers"]))
    reference = (item["answers"][0] if item["answers"] else "") if answerable else abstention
    row = {"user_input": item["question"], "reference": reference, "reference_context_ids": item["gold_paragraphs"]}
    if result is not None:
        row.update(response=result["answer"], retrieved_context_ids=result["retrieved"])
    return row


def export_beir(dataset: list[dict], corpus: Corpus, out_dir: Path) -> dict[str, int]:
    """BEIR layout: corpus.jsonl (one document per paragraph, every language), queries.jsonl,
    qrels/test.tsv (answerable questions with gold paragraphs, relevance 1). Document ids are
    the paragraph ids of ``retrieved`` lists (``45``), or ``RECORD:45`` when several records."""
    single = len(corpus.record_ids) == 1
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "qrels").mkdir(exist_ok=True)
    docs = 0
    with (out_dir / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for key in corpus.keys():  # noqa: SIM118 - Corpus.keys() is ours
            versions = {lang: corpus.get(key, lang) for lang in corpus.languages}
            versions = {lang: p for lang, p in versions.items() if p is not None}
            first = next(iter(versions.values()))
            doc = {"_id": key.rpartition(":")[2] if single else key, "title": first.section or first.chapter or "",
                   "text": "\n".join(p.text for p in versions.values()),
                   "metadata": {"record": first.record, "agenda_item": first.agenda_item, "pending": first.pending,
                                **{f"text_{lang}": p.text for lang, p in versions.items()}}}
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
            docs += 1
    with (out_dir / "queries.jsonl").open("w", encoding="utf-8") as f:
        for item in dataset:
            f.write(json.dumps({"_id": item["id"], "text": item["question"],
                                "metadata": {"lang": item["lang"], "type": item["type"],
                                             "answerable": item["answerable"]}}, ensure_ascii=False) + "\n")
    qrels = 0
    with (out_dir / "qrels" / "test.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for item in dataset:
            if not item["answerable"]:
                continue
            for gold in item["gold_paragraphs"]:
                f.write(f"{item['id']}\t{gold}\t1\n")
                qrels += 1
    return {"documents": docs, "queries": len(dataset), "qrels": qrels}
