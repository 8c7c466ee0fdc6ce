"""Per-item scores and their summaries, overall and by language, crossing and type. Pure.

An item's score is None where a metric does not apply (retrieval metrics on a question
without gold paragraphs, answer metrics on an unanswerable one); summaries average the
items where it applies and say how many that was.
"""

from __future__ import annotations

from collections.abc import Sequence

from eval import metrics as m

KS = (1, 3, 5, 10)
RETRIEVAL = [f"hit@{k}" for k in KS] + [f"recall@{k}" for k in KS] + ["mrr@10", "ndcg@10"]
ANSWER = ["answer_accuracy", "accepted_match", "exact_match", "token_f1"]
CITATION = ["citation_precision", "citation_recall", "has_citation"]
STAGES = ("retrieval", "answer", "total", "ttft")
HEADLINE = ["hit@5", "recall@10", "mrr@10", "ndcg@10", "answer_accuracy", "token_f1", "citation_precision",
            "crag_score"]


def is_cross_lingual(item: dict) -> bool:
    """Marked by the dataset (``cross_lingual``), or typed ``cross_lingual``: the question names
    its key fact as the other language's version of the record does."""
    return bool(item.get("cross_lingual", item.get("type") == "cross_lingual"))


def score_item(item: dict, result: dict) -> dict:
    """Scores of one answered dataset item. ``result``: retrieved, answer, citations, abstained
    (retrieved may be None when an endpoint does not report it)."""
    answerable = bool(item["answerable"])
    gold = [str(g) for g in item.get("gold_paragraphs", [])]
    retrieved = result.get("retrieved")
    cited = result["citations"]
    abstained = bool(result["abstained"])
    answer = result["answer"]
    accepted = item.get("answers", [])
    lang = item.get("lang", "en")
    scores: dict[str, float | bool | None] = {}

    with_gold = answerable and bool(gold) and retrieved is not None
    for k in KS:
        scores[f"hit@{k}"] = m.hit_at(retrieved, gold, k) if with_gold else None
        scores[f"recall@{k}"] = m.recall_at(retrieved, gold, k) if with_gold else None
    scores["mrr@10"] = m.mrr_at(retrieved, gold, 10) if with_gold else None
    scores["ndcg@10"] = m.ndcg_at(retrieved, gold, 10) if with_gold else None

    contains = m.contains_accepted(answer, accepted) and not abstained
    scores["answer_accuracy"] = float(contains and bool(cited)) if answerable else None
    scores["accepted_match"] = float(contains) if answerable else None
    scores["exact_match"] = (0.0 if abstained else m.exact_match(answer, accepted)) if answerable else None
    scores["token_f1"] = (0.0 if abstained else m.token_f1(answer, accepted, lang)) if answerable else None

    answered = answerable and not abstained
    scores["citation_precision"] = m.citation_precision(cited, gold) if answered and gold else None
    scores["citation_recall"] = (m.citation_recall(cited, gold) if answered and gold else None)
    scores["has_citation"] = float(bool(cited)) if not abstained else None
    scores["citations_retrieved"] = all(c in retrieved for c in cited) if retrieved is not None else None
    # Legacy fields of the first results.json format.
    scores["correct"] = bool(scores["answer_accuracy"]) if answerable else None
    scores["abstained"] = abstained
    scores["crag"] = m.crag_score(answerable, abstained, bool(scores["answer_accuracy"]))
    return scores


def block(items: Sequence[dict]) -> dict:
    """Summary of scored items (each with ``scores``, ``answerable``, ``timings_ms``, ``citations``,
    ``retrieved``)."""
    out: dict = {"questions": len(items),
                 "answerable": sum(1 for i in items if i["answerable"]),
                 "unanswerable": sum(1 for i in items if not i["answerable"])}
    for name in [*RETRIEVAL, *ANSWER, *CITATION]:
        values = [float(i["scores"][name]) for i in items if i["scores"].get(name) is not None]
        out[name] = m.mean(values)
    cited = [(c, i["retrieved"]) for i in items if i["retrieved"] is not None for c in i["citations"]]
    out["citations"] = len(cited)
    out["citations_not_retrieved"] = (round(sum(1 for c, r in cited if c not in r) / len(cited), 4)
                                      if cited else (0.0 if any(i["retrieved"] is not None for i in items) else None))
    abstention = m.abstention_scores([i["answerable"] for i in items], [i["abstained"] for i in items])
    out.update({f"abstention_{k}" if k != "false_abstention_rate" else k: (round(v, 4) if v is not None else None)
                for k, v in abstention.items()})
    out["crag_score"] = m.mean([i["scores"]["crag"] for i in items])
    for stage in STAGES:
        values = [i["timings_ms"][stage] for i in items if i.get("timings_ms", {}).get(stage) is not None]
        out[f"latency_ms_{stage}"] = ({"p50": m.percentile(values, 0.5), "p95": m.percentile(values, 0.95),
                                       "p99": m.percentile(values, 0.99)} if values else None)
    # Legacy names of the first results.json format.
    out["abstain_rate_unanswerable"] = out["abstention_recall"]
    out["false_abstain_rate_answerable"] = out["false_abstention_rate"]
    legacy = [float(i["scores"]["citations_retrieved"]) for i in items
              if i["scores"].get("citations_retrieved") is not None]
    out["citations_retrieved"] = m.mean(legacy)
    total = out["latency_ms_total"] or {}
    out["latency_ms_median"], out["latency_ms_p95"] = total.get("p50"), total.get("p95")
    ttft = out["latency_ms_ttft"] or {}
    out["ttft_ms_median"], out["ttft_ms_p95"] = ttft.get("p50"), ttft.get("p95")
    return out


def _statistic(name: str):
    if name == "crag_score":
        return lambda items: m.mean([i["scores"]["crag"] for i in items])

    def stat(items):
        values = [float(i["scores"][name]) for i in items if i["scores"].get(name) is not None]
        return sum(values) / len(values) if values else None

    return stat


def confidence_intervals(items: Sequence[dict], *, resamples: int = 1000, seed: int = 0) -> dict:
    """95% percentile-bootstrap intervals of the headline metrics, and of abstention F1."""
    out = {name: m.bootstrap_ci(items, _statistic(name), resamples=resamples, seed=seed) for name in HEADLINE}

    def abstention_f1(sample):
        return m.abstention_scores([i["answerable"] for i in sample], [i["abstained"] for i in sample])["f1"]

    out["abstention_f1"] = m.bootstrap_ci(items, abstention_f1, resamples=resamples, seed=seed)
    out["false_abstention_rate"] = m.bootstrap_ci(
        items, lambda s: m.abstention_scores([i["answerable"] for i in s], [i["abstained"] for i in s])
        ["false_abstention_rate"], resamples=resamples, seed=seed)
    return {k: list(v) if v else None for k, v in out.items()}


def summarise(items: Sequence[dict], *, resamples: int = 1000) -> dict:
    """Overall (with confidence intervals) and split by language, crossing, type and (when the
    questions name it) record. The per-language blocks also sit at the top level, as in the first
    results.json format."""
    summary: dict = {"overall": block(items)}
    summary["overall"]["ci95"] = confidence_intervals(items, resamples=resamples)
    summary["by_lang"] = {lang: block([i for i in items if i["lang"] == lang])
                          for lang in sorted({i["lang"] for i in items})}
    summary["by_crossing"] = {
        name: block(selected) for name, selected in (
            ("cross_lingual", [i for i in items if i["cross_lingual"]]),
            ("same_language", [i for i in items if not i["cross_lingual"]]),
        ) if selected
    }
    summary["by_type"] = {t: block([i for i in items if i["type"] == t]) for t in sorted({i["type"] for i in items})}
    records = sorted({i["record"] for i in items if i.get("record")})
    if records:  # datasets whose questions name the record they were written on
        summary["by_record"] = {r: block([i for i in items if i.get("record") == r]) for r in records}
    summary.update(summary["by_lang"])
    return summary
