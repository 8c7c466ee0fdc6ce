"""`recordqa eval fit`: fit the sentence selector and the answerability model, with cross-validation.

Data: the fit split of the benchmark (``FIT_FILES``, questions on the shipped record); with
``records`` (`recordqa eval fit --records ../shared/records`, as `make fit` runs it) also
``RECORDS_FIT`` (eval/benchmark/records_fit/: training questions on the shared real records,
written apart from the blind sets in eval/benchmark/records/, asked of an index of those records
beside the default one, ``<index_dir>-records``), so the models learn from more than one record's
kind of text. The test splits (``blind_test.jsonl`` and eval/benchmark/records/) are never read
here. Each question runs through the real answer path up to retrieval (analysis, hybrid or
lexical retrieval), then every candidate sentence gets its features (``qa/features.py``).

- Sentence selector: logistic regression; a sentence is positive when it holds an accepted answer
  (the benchmark's matching: casefold, NFKC, no spaces or punctuation) and its paragraph is gold.
- Answerability: logistic regression over features of the whole candidate set, the selector's
  scores taken out of fold (so the model learns from scores like those it will see); positive
  when the question is answerable.
- Cross-validation: 5 folds grouped by (question file, type), so no fold sees questions of the
  same file and style as the ones it is scored on. The figures printed are out of fold.
- Thresholds, chosen on the out-of-fold trade-off: the answer threshold minimises the summed
  shortfall from the targets in ``TARGETS`` (accuracy >= 0.80, unanswerable questions that abstain
  >= 0.75, answerable questions that abstain <= 0.08), one point of each weighing the same; the
  'indirect' band sits ``INDIRECT_BAND`` below it (both are abstentions
  for scoring, so the band changes wording only); the extra-sentence ratio maximises accuracy less
  a small cost per extra sentence quoted.

Two fits are written, "dense" (with the embedding features) and "lexical" (without, for indexes
with no dense model), to ``qa/answer_model.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.dataset import load_dataset
from eval.metrics import normalise
from qa.features import DENSE_FEATURES, QUESTION_FEATURES, SENTENCE_FEATURES

BENCHMARK = Path(__file__).with_name("benchmark")
FIT_FILES = ("dev.jsonl", "heldout.jsonl", "extra.jsonl", "blind_fit.jsonl")
TEST_FILES = ("blind_test.jsonl",)
RECORDS_FIT = "records_fit"
"""Folder of the benchmark: training questions on the shared real records, one file per record
folder; gold named by ``gold_evidence`` (resolved against the records index, eval/evidence.py)."""
FOLDS = 5
INDIRECT_BAND = 0.15
EXTRA_SENTENCE_COST = 0.05
# The operating point: the answer threshold minimises the summed shortfall from these targets (answer
# accuracy, unanswerable questions that abstain, answerable questions that abstain) out of fold.
TARGETS = {"accuracy": 0.80, "abstain_unanswerable": 0.75, "abstain_answerable": 0.08}
RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
# Inverse regularisation strengths tried; the one with the lowest out-of-fold Brier score of the
# answerability probability is kept.
C_GRID = (0.1, 0.3, 1.0)


def fit_split(benchmark: Path = BENCHMARK) -> list[dict]:
    items = []
    for name in FIT_FILES:
        for item in load_dataset(benchmark / name):
            items.append({**item, "file": name})
    return items


def records_split(benchmark: Path = BENCHMARK) -> list[dict]:
    items = []
    for path in sorted((benchmark / RECORDS_FIT).glob("*.jsonl")):
        items.extend({**item, "file": f"{RECORDS_FIT}/{path.name}"} for item in load_dataset(path))
    return items


def collect(answerer, items: list[dict]) -> list[dict]:
    """Per question: candidates with features and labels, and what answering needs later (the
    answerer that asked it among them: questions on other records are asked of another index)."""
    from qa.pipeline import clean_question

    rows = []
    for item in items:
        question = clean_question(item["question"], answerer.options.max_question_chars)
        analysis, retrieved, _ = answerer.prepare(question, item.get("history") or [], item.get("lang"))
        views, candidates = answerer.extractive.candidates(analysis, retrieved)
        gold = set(item.get("gold_paragraphs") or [])
        accepted = [normalise(a) for a in item.get("answers") or [] if normalise(a)]
        # Gold is a number on one record, a key (RECORD:number) where evidence was found in several.
        labels = [int(bool(item["answerable"]) and any(a in normalise(c.text) for a in accepted)
                      and (not gold or c.key in gold or c.key.rpartition(":")[2] in gold)) for c in candidates]
        rows.append({"item": item, "analysis": analysis, "retrieved": retrieved, "views": views,
                     "candidates": candidates, "labels": labels, "answerer": answerer})
    return rows


def _groups(rows: list[dict]) -> list[str]:
    return [f"{r['item']['file']}:{r['item'].get('type', '')}" for r in rows]


def _standardised_fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float) -> dict:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y)
    return {"features": list(names), "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "coef": model.coef_[0].round(6).tolist(), "intercept": round(float(model.intercept_[0]), 6)}


def _predict(params: dict, x: np.ndarray) -> np.ndarray:
    z = ((x - np.array(params["mean"])) / np.array(params["scale"])) @ np.array(params["coef"]) + params["intercept"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _sentence_matrix(rows: list[dict], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, owner = [], [], []
    for i, row in enumerate(rows):
        for c, label in zip(row["candidates"], row["labels"], strict=True):
            xs.append([c.features[n] for n in names])
            ys.append(label)
            owner.append(i)
    return np.array(xs, dtype=np.float64), np.array(ys), np.array(owner)


def _choose(row: dict, probs: np.ndarray, ratio: float, max_sentences: int) -> list[int]:
    from qa.extractive import choose_sentences

    analysis = row["analysis"]
    return choose_sentences(row["candidates"], [float(p) for p in probs], ratio=ratio, max_sentences=max_sentences,
                            terms=frozenset(analysis.terms.get(analysis.lang, {})))


def _correct(row: dict, chosen: list[int]) -> bool:
    accepted = [normalise(a) for a in row["item"].get("answers") or [] if normalise(a)]
    text = normalise(" ".join(row["candidates"][i].text for i in chosen))
    return bool(chosen) and any(a in text for a in accepted)


def fit_variant(answerer, rows: list[dict], *, dense: bool, max_sentences: int,
                log: Callable[[str], None]) -> tuple[dict, dict]:
    """The variant fitted at each strength in ``C_GRID``; the best by out-of-fold Brier score."""
    results = [_fit_variant(answerer, rows, dense=dense, max_sentences=max_sentences, c=c) for c in C_GRID]
    fit, figures = min(results, key=lambda r: r[1]["brier"])
    figures["brier_by_c"] = {str(r[1]["c"]): r[1]["brier"] for r in results}
    log(f"{'dense' if dense else 'lexical'}: " + ", ".join(f"{k} {v}" for k, v in figures.items()
                                                           if not isinstance(v, dict)))
    for lang, part in figures["by_language"].items():
        log(f"  {lang}: " + ", ".join(f"{k} {v}" for k, v in part.items()))
    log("  right by type: " + ", ".join(f"{k} {v}" for k, v in figures["right_by_type"].items()))
    log("  out-of-fold Brier by C: " + ", ".join(f"{k} {v}" for k, v in figures["brier_by_c"].items()))
    for t, part in figures["tradeoff"].items():
        log(f"  at threshold {t}: " + ", ".join(f"{k} {v}" for k, v in part.items()))
    return fit, figures


def _fit_variant(answerer, rows: list[dict], *, dense: bool, max_sentences: int, c: float) -> tuple[dict, dict]:
    from sklearn.model_selection import GroupKFold

    sentence_names = tuple(n for n in SENTENCE_FEATURES if dense or n not in DENSE_FEATURES)
    question_names = tuple(n for n in QUESTION_FEATURES if dense or n not in DENSE_FEATURES)
    rows = [r for r in rows if r["candidates"]]
    x, y, owner = _sentence_matrix(rows, sentence_names)
    groups = np.array(_groups(rows))
    folds = list(GroupKFold(n_splits=FOLDS).split(np.zeros(len(rows)), groups=groups))

    # Out-of-fold selector scores for every candidate.
    oof = np.zeros(len(y))
    for train_q, test_q in folds:
        train = np.isin(owner, train_q)
        test = np.isin(owner, test_q)
        if y[train].min() == y[train].max():
            continue
        oof[test] = _predict(_standardised_fit(x[train], y[train], sentence_names, c), x[test])
    selector = _standardised_fit(x, y, sentence_names, c)

    # The extra-sentence ratio, on out-of-fold selector scores.
    per_row_probs = [oof[owner == i] for i in range(len(rows))]

    def accuracy(ratio: float) -> float:
        score = 0.0
        for row, probs in zip(rows, per_row_probs, strict=True):
            if row["item"]["answerable"]:
                chosen = _choose(row, probs, ratio, max_sentences)
                score += _correct(row, chosen) - EXTRA_SENTENCE_COST * max(0, len(chosen) - 1)
        return score
    ratio = max(RATIOS, key=lambda r: (round(accuracy(r), 6), r))
    correct = [_correct(row, _choose(row, probs, ratio, max_sentences))
               for row, probs in zip(rows, per_row_probs, strict=True)]

    # Answerability from question features built on out-of-fold selector scores; positive when the
    # record answers the question.
    q_rows, q_labels = [], []
    for row, probs in zip(rows, per_row_probs, strict=True):
        qf = row.get("answerer", answerer).extractive.question_features(
            row["analysis"], row["retrieved"], row["views"], row["candidates"], [float(p) for p in probs])
        q_rows.append([qf[n] for n in question_names])
        q_labels.append(int(bool(row["item"]["answerable"])))
    qx, qy = np.array(q_rows, dtype=np.float64), np.array(q_labels)
    q_oof = np.zeros(len(qy))
    for train_q, test_q in folds:
        q_oof[test_q] = _predict(_standardised_fit(qx[train_q], qy[train_q], question_names, c), qx[test_q])
    answerability = _standardised_fit(qx, qy, question_names, c)

    def crag(threshold: float) -> float:
        total = 0
        for row, p, ok in zip(rows, q_oof, correct, strict=True):
            answered = p >= threshold
            if row["item"]["answerable"]:
                total += (1 if ok else -1) if answered else 0
            else:
                total += -1 if answered else 1
        return total / len(rows)

    def shortfall(threshold: float) -> float:
        part = _figures(rows, q_oof, correct, threshold)
        return (max(0.0, TARGETS["accuracy"] - part["accuracy"])
                + max(0.0, TARGETS["abstain_unanswerable"] - part["abstain_unanswerable"])
                + max(0.0, part["abstain_answerable"] - TARGETS["abstain_answerable"]))
    grid = [round(float(t), 2) for t in np.arange(0.05, 0.96, 0.01)]
    threshold = min(grid, key=lambda t: (round(shortfall(t), 6), t))
    figures = _figures(rows, q_oof, correct, threshold)
    answerable = [i for i, r in enumerate(rows) if r["item"]["answerable"]]
    # Where the answers are lost: no candidate holds an accepted answer (retrieval / reading depth),
    # or one does but the selector quoted another (selection), or the answerability model refused.
    figures["reachable"] = round(sum(1 for i in answerable if any(rows[i]["labels"])) / max(1, len(answerable)), 3)
    figures["selected_right"] = round(sum(1 for i in answerable if correct[i]) / max(1, len(answerable)), 3)
    figures["answerability_auc"] = _auc(q_oof, qy)
    figures["tradeoff"] = {str(t): {k: v for k, v in _figures(rows, q_oof, correct, t).items() if k != "by_language"}
                           for t in (0.3, 0.4, 0.5, 0.6, 0.7)}
    figures.update({"c": c, "crag": round(crag(threshold), 3), "extra_sentence_ratio": ratio,
                    "answer_threshold": threshold, "questions": len(rows),
                    "brier": round(float(np.mean((q_oof - qy) ** 2)), 4), "ece": _ece(q_oof, qy),
                    "selector_positive_candidates": int(y.sum()), "candidates": len(y)})
    by_type: dict[str, list[float]] = {}
    for row, p, ok in zip(rows, q_oof, correct, strict=True):
        kind = row["item"].get("type", "")
        right = (p >= threshold and ok) if row["item"]["answerable"] else p < threshold
        by_type.setdefault(kind, []).append(float(right))
    figures["right_by_type"] = {k: round(sum(v) / len(v), 2) for k, v in sorted(by_type.items())}
    fit = {"selector": selector, "answerability": answerability, "answer_threshold": threshold,
           "indirect_threshold": round(max(0.0, threshold - INDIRECT_BAND), 2), "extra_sentence_ratio": ratio}
    return fit, figures


def _figures(rows: list[dict], probs: np.ndarray, correct: list[bool], threshold: float) -> dict:
    def block(indices: list[int]) -> dict:
        answerable = [i for i in indices if rows[i]["item"]["answerable"]]
        unanswerable = [i for i in indices if not rows[i]["item"]["answerable"]]
        answered = {i for i in indices if probs[i] >= threshold}
        return {
            "accuracy": round(sum(1 for i in answerable if i in answered and correct[i]) / max(1, len(answerable)), 3),
            "abstain_unanswerable": round(sum(1 for i in unanswerable if i not in answered)
                                          / max(1, len(unanswerable)), 3),
            "abstain_answerable": round(sum(1 for i in answerable if i not in answered) / max(1, len(answerable)), 3),
        }
    everything = list(range(len(rows)))
    out = block(everything)
    out["by_language"] = {lang: block([i for i in everything if rows[i]["item"]["lang"] == lang])
                          for lang in sorted({r["item"]["lang"] for r in rows})}
    return out


def _auc(probs: np.ndarray, labels: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, probs)), 3) if 0 < labels.sum() < len(labels) else None


def _ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the answerability probability (10 equal-width bins)."""
    total = 0.0
    for b in range(bins):
        mask = (probs >= b / bins) & (probs < (b + 1) / bins if b < bins - 1 else probs <= 1)
        if mask.any():
            total += mask.mean() * abs(probs[mask].mean() - labels[mask].mean())
    return round(float(total), 4)


def run_fit(settings, *, out: Path | None = None, records: Path | None = None,
            log: Callable[[str], None] = print) -> dict:
    """Fit both variants and write the model file; returns the cross-validated figures. With
    ``records`` (the shared records folder) the questions of ``RECORDS_FIT`` join the fit split."""
    from eval.harness import gold_from_evidence
    from recordqa.factories import ensure_index, make_answerer, make_embedders

    started = time.perf_counter()
    embedders, dense = make_embedders(settings)
    ensure_index(settings, embedders=embedders, dense=dense, progress=False)
    items = fit_split()
    files = list(FIT_FILES)
    log(f"fit split: {len(items)} questions from {', '.join(FIT_FILES)} (test split {', '.join(TEST_FILES)} unread)")
    indexes = [(settings, items)]
    if records is not None:
        on_records = settings.model_copy(update={
            "records_dir": records, "index_dir": settings.index_dir.with_name(settings.index_dir.name + "-records")})
        ensure_index(on_records, embedders=embedders, dense=dense, progress=False)
        extra = records_split()
        from indexer.indexed_records import open_indexed_records

        extra, errors, _ = gold_from_evidence(extra, open_indexed_records(on_records.index_dir).corpus)
        if errors:
            raise ValueError(f"{RECORDS_FIT}: {len(errors)} dataset error(s), e.g. {errors[0]}")
        files += sorted({item["file"] for item in extra})
        indexes.append((on_records, extra))
        log(f"  and {len(extra)} questions from {RECORDS_FIT}/ on {records} (index {on_records.index_dir}; "
            f"the blind sets in records/ unread)")
    # A placeholder model lets the answerer be built before any fit exists; its scores are never used.
    placeholder = _placeholder_model()
    result = {"fits": {}, "cv": {}}
    variants = [("dense", True), ("lexical", False)] if dense.active else [("lexical", False)]
    for name, use_dense in variants:
        rows = []
        for index_settings, questions in indexes:
            mode = "hybrid" if use_dense else "lexical"
            variant_settings = index_settings.model_copy(update={"retrieval_mode": mode})
            answerer = make_answerer(variant_settings, embedders=embedders if use_dense else [],
                                     answer_model=placeholder)
            rows += collect(answerer, questions)
        fit, figures = fit_variant(answerer, rows, dense=use_dense, max_sentences=settings.answer_max_sentences,
                                   log=log)
        result["fits"][name] = fit
        result["cv"][name] = figures
    result["fitted_on"] = {"files": files, "questions": sum(len(q) for _, q in indexes), "folds": FOLDS,
                           "groups": "question file x type", "dense_model": dense.model}
    out = out or settings.answer_model
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return result


def _placeholder_model():
    """Zero weights: lets the answerer be built to collect candidates before any fit exists."""
    from qa.answer_model import AnswerModel, Fit, Logistic

    def zero(names):
        n = len(names)
        return Logistic(tuple(names), np.zeros(n), np.ones(n), np.zeros(n), 0.0)
    fit = Fit(zero(SENTENCE_FEATURES), zero(QUESTION_FEATURES), 0.5, 0.35, 0.8)
    return AnswerModel({"dense": fit, "lexical": fit}, "unfitted", {}, None)
