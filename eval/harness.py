"""`recordqa eval`: build the systems to compare, run them, add the trade-off sweep and the
judge, and write every output. The only eval module that turns settings into services."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from eval.compare import parse_names, prepare
from eval.dataset import load_dataset
from eval.retry import RetryPolicy
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


JUDGE_UNREACHABLE = "not computed: judge unreachable"


class JudgeRun:
    """The judge for one run. An external service that fails once (closed port, timeout, bad
    reply) is not asked again: the run finishes with the judge metrics not computed, rather
    than waiting out every other item's timeout or losing the answers already scored."""

    def __init__(self, judge, corpus, log: Callable[[str], None]):
        self.judge = judge
        self.corpus = corpus
        self.log = log
        self.failure: str | None = None

    def _text(self, paragraph: str) -> str:
        corpus = self.corpus
        key = corpus.resolve(paragraph) if corpus is not None else None
        return "\n".join(p.text for lang in corpus.languages if (p := corpus.get(key, lang))) if key else ""

    def __call__(self, item: dict, result: dict) -> dict | None:
        from eval.judge import JudgeUnavailable

        if self.failure is not None:
            return None
        try:
            return self.judge.item_scores(result, self._text)
        except JudgeUnavailable as exc:
            self.failure = " ".join(str(exc).split())
            self.log(f"judge unreachable, judge metrics not computed ({self.failure[:300]})")
            return None

    @property
    def note(self) -> str:
        return JUDGE_UNREACHABLE if self.failure is not None else f"computed by {self.judge.name}"


def _judge_hook(settings: Settings, corpus, log: Callable[[str], None]) -> JudgeRun | None:
    from recordqa.factories import make_judge

    judge = make_judge(settings)
    if judge is None:
        return None
    log(f"judge: {judge.name}")
    return JudgeRun(judge, corpus, log)


NO_JUDGE = "not computed: no judge LLM configured (set RECORDQA_JUDGE_BASE_URL and RECORDQA_JUDGE_MODEL)"


def shipped_configuration(settings: Settings) -> str:
    """The --compare name of what the settings ship: the retrieval mode, with the reranker when
    hybrid has one."""
    if settings.retrieval_mode == "hybrid" and settings.reranker_model:
        return "hybrid+rerank"
    return settings.retrieval_mode


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
             sweep: bool = True, log: Callable[[str], None] = lambda _: None, answerer_factory=None,
             stream: bool = False, retry: RetryPolicy | None = None) -> dict:
    dataset = load_dataset(dataset_path)
    dataset_errors: list[str] = []
    dataset_warnings: list[str] = []
    configs, skipped = [], {}
    corpus = None
    context_text = None
    interrupted = False
    primary = None
    tradeoff: list[dict] = []
    if endpoint:
        system = Endpoint(endpoint, api_key=api_key, stream=stream, retry=retry)
        start = time.perf_counter()
        items, interrupted = run_items(system, dataset, progress=progress, label=endpoint)
        configs.append(configuration_result(f"endpoint {endpoint}", items, interrupted,
                                            elapsed_s=time.perf_counter() - start, resamples=resamples,
                                            extra={"stream": stream}))
        run = provenance(dataset_path=dataset_path, settings_hash=None, models={"endpoint": endpoint},
                         manifest=None)
        judge_note = "not computed: endpoint runs are not judged"
        unresolved = [i["id"] for i in dataset if i.get("gold_evidence")]
        if unresolved:  # the passages are looked up in the local index, which an endpoint run does not open
            dataset_warnings.append(f"{len(unresolved)} questions give gold_evidence, which --endpoint runs do not "
                                    f"resolve: no retrieval metrics for them (first: {unresolved[0]})")
        context_text = system.paragraph_text
    else:
        base = answerer_factory()  # opens (or builds) the index once; configurations share it
        corpus = base.index.corpus
        dataset, dataset_errors, dataset_warnings = gold_from_evidence(dataset, corpus)
        names = parse_names(compare) if compare else [settings.retrieval_mode]
        from recordqa.factories import make_reranker

        embedder = base.analyser.embedder
        prepared, skipped = prepare(names, settings, index=base.index, tokenizer=base.analyser.tokenizer,
                                    embedders=[embedder] if embedder else _embedders_for(settings, base),
                                    reranker_loader=make_reranker)
        for name, reason in skipped.items():
            log(f"skipping {name}: {reason}")
        shipped = shipped_configuration(settings)
        ran = [p.name for p in prepared]
        # The top level (items, failures, `eval diff`) speaks for what users get: the shipped
        # configuration, whatever order --compare lists it in.
        primary = shipped if shipped in ran else settings.retrieval_mode if settings.retrieval_mode in ran else None
        primary = primary or (ran[0] if ran else None)
        if primary is not None and primary != shipped:
            log(f"the shipped configuration ({shipped}) did not run; the top-level results are {primary}'s")
        judge = _judge_hook(settings, corpus, log)
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
            if judge is not None and judge.failure is None:
                _add_judge_summary(config)
            configs.append(config)
        judge_note = judge.note if judge is not None else NO_JUDGE
        if judge is not None and judge.failure is not None:
            for config in configs:  # partial judging would read as a figure for the whole run
                config["summary"].get("overall", {}).pop("judge", None)
                for item in config["items"]:
                    item.pop("judge", None)
        manifest = base.index.manifest
        run = provenance(
            dataset_path=dataset_path, settings_hash=settings.settings_hash(),
            models={"embedding": manifest.dense.get("model"), "embedding_languages": manifest.dense.get("languages"),
                    "dense_off_reason": manifest.dense.get("reason"), "reranker": settings.reranker_model,
                    "answers": base.mode},
            manifest=dataclasses.asdict(manifest),
        )
        if sweep and prepared and not interrupted:
            swept = next(p for p in prepared if p.name == primary)
            log(f"abstention trade-off: re-answering with {swept.name} at several answerability thresholds")
            points = abstention_tradeoff(swept.answerer, dataset)
            tradeoff = [{**point, "configuration": swept.name} for point in points]
    run["judge"] = judge_note
    results = assemble(configs, skipped, run, len(dataset), primary=primary)
    results["tradeoff"] = tradeoff
    results["dataset_errors"], results["dataset_warnings"] = dataset_errors, dataset_warnings
    results["written"] = [str(p) for p in write_outputs(results, out_dir, corpus=corpus, context_text=context_text)]
    return results


def gold_from_evidence(dataset: list[dict], corpus) -> tuple[list[dict], list[str], list[str]]:
    """The dataset with gold paragraphs found from its ``gold_evidence`` in the index's corpus,
    and the dataset errors and warnings that lookup raised (one line each)."""
    from eval.evidence import resolve_evidence

    if not any(item.get("gold_evidence") for item in dataset):
        return dataset, [], []
    names = {r.source.parent.name: r.id for r in corpus.records if r.source is not None}
    resolved, errors, warnings = resolve_evidence(dataset, corpus.paragraphs(), record_names=names)
    return resolved, [e.describe() for e in errors], [w.describe() for w in warnings]


def _embedders_for(settings: Settings, base) -> list:
    if base.index.manifest.dense.get("model") is None:
        return []
    from recordqa.factories import make_embedders

    embedders, _ = make_embedders(settings)
    return embedders
