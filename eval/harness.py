"""`recordqa eval`: build the systems to compare, run them, add the trade-off sweep and the
judge, and write every output. The only eval module that turns settings into services."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from eval.compare import parse_names, prepare
from eval.dataset import load_dataset
from eval.run import assemble, configuration_result, provenance, run_items, write_outputs
from eval.systems import Endpoint, InProcess
from recordqa.settings import Settings

THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def abstention_tradeoff(answerer, dataset: list[dict], thresholds=THRESHOLDS) -> list[dict]:
    """Re-answer the dataset at several answerability thresholds (the probability below which the
    extractive answerer does not answer): what abstaining more buys and costs."""
    from eval.metrics import abstention_scores, mean

    original = answerer.extractive.answer_threshold
    points = []
    try:
        for threshold in thresholds:
            answerer.extractive.answer_threshold = threshold
            items, _ = run_items(InProcess(answerer), dataset, progress=False)
            scores = abstention_scores([i["answerable"] for i in items], [i["abstained"] for i in items])
            points.append({"answer_threshold": threshold, "false_abstention_rate": scores["false_abstention_rate"],
                           "abstention_recall": scores["recall"],
                           "answer_accuracy": mean([i["scores"]["answer_accuracy"] for i in items
                                                    if i["scores"]["answer_accuracy"] is not None])})
    finally:
        answerer.extractive.answer_threshold = original
    return points


def _judge_hook(settings: Settings, corpus, log: Callable[[str], None]):
    from recordqa.factories import make_judge

    judge = make_judge(settings)
    if judge is None:
        return None, "not computed: no judge LLM configured (set RECORDQA_JUDGE_BASE_URL and RECORDQA_JUDGE_MODEL)"

    def text(paragraph: str) -> str:
        key = corpus.resolve(paragraph) if corpus is not None else None
        return "\n".join(p.text for lang in corpus.languages if (p := corpus.get(key, lang))) if key else ""

    def hook(item: dict, result: dict) -> dict:
        return judge.item_scores(result, text)

    log(f"judge: {judge.name}")
    return hook, f"computed by {judge.name}"


def _add_judge_summary(config: dict) -> None:
    from eval.metrics import mean

    judged = [i["judge"] for i in config["items"] if i.get("judge")]
    if judged and config["summary"]:
        config["summary"]["overall"]["judge"] = {
            metric: mean([j[metric] for j in judged if j.get(metric) is not None])
            for metric in ("citation_support", "faithfulness")
        }


def evaluate(settings: Settings, dataset_path: Path, out_dir: Path, *, compare: str | None = None,
             endpoint: str | None = None, api_key: str | None = None, progress: bool = True, resamples: int = 1000,
             sweep: bool = True, log: Callable[[str], None] = lambda _: None, answerer_factory=None) -> dict:
    dataset = load_dataset(dataset_path)
    configs, skipped = [], {}
    corpus = None
    interrupted = False
    if endpoint:
        system = Endpoint(endpoint, api_key=api_key)
        start = time.perf_counter()
        items, interrupted = run_items(system, dataset, progress=progress, label=endpoint)
        configs.append(configuration_result(f"endpoint {endpoint}", items, interrupted,
                                            elapsed_s=time.perf_counter() - start, resamples=resamples))
        run = provenance(dataset_path=dataset_path, settings_hash=None, models={"endpoint": endpoint},
                         manifest=None)
        judge_note = "not computed: endpoint runs are not judged"
    else:
        base = answerer_factory()  # opens (or builds) the index once; configurations share it
        corpus = base.index.corpus
        names = parse_names(compare) if compare else [settings.retrieval_mode]
        from recordqa.factories import make_reranker

        embedder = base.analyser.embedder
        prepared, skipped = prepare(names, settings, index=base.index, tokenizer=base.analyser.tokenizer,
                                    embedders=[embedder] if embedder else _embedders_for(settings, base),
                                    reranker_loader=make_reranker)
        for name, reason in skipped.items():
            log(f"skipping {name}: {reason}")
        judge, judge_note = _judge_hook(settings, corpus, log)
        for p in prepared:
            if interrupted:
                break
            p.answerer.notices[:] = base.notices
            start = time.perf_counter()
            items, interrupted = run_items(InProcess(p.answerer, p.name), dataset, progress=progress, judge=judge,
                                           label=p.name)
            config = configuration_result(p.name, items, interrupted, elapsed_s=time.perf_counter() - start,
                                          resamples=resamples, extra={"mode": p.answerer.mode,
                                                                      "settings_hash": p.settings.settings_hash()})
            _add_judge_summary(config)
            configs.append(config)
        manifest = base.index.manifest
        run = provenance(
            dataset_path=dataset_path, settings_hash=settings.settings_hash(),
            models={"embedding": manifest.dense.get("model"), "embedding_languages": manifest.dense.get("languages"),
                    "dense_off_reason": manifest.dense.get("reason"), "reranker": settings.reranker_model,
                    "answers": base.mode},
            manifest=dataclasses.asdict(manifest),
        )
        tradeoff = []
        if sweep and prepared and not interrupted:
            # Sweep the configured retrieval mode when it was run, else the first one.
            swept = next((p for p in prepared if p.name == settings.retrieval_mode), prepared[0])
            log(f"abstention trade-off: re-answering with {swept.name} at several answerability thresholds")
            points = abstention_tradeoff(swept.answerer, dataset)
            tradeoff = [{**point, "configuration": swept.name} for point in points]
    run["judge"] = judge_note
    results = assemble(configs, skipped, run, len(dataset))
    results["tradeoff"] = [] if endpoint else tradeoff
    results["written"] = [str(p) for p in write_outputs(results, out_dir, corpus=corpus)]
    return results


def _embedders_for(settings: Settings, base) -> list:
    if base.index.manifest.dense.get("model") is None:
        return []
    from recordqa.factories import make_embedders

    embedders, _ = make_embedders(settings)
    return embedders
