"""The configurations `recordqa eval --compare` can run, and which are available here."""

from __future__ import annotations

from dataclasses import dataclass

from recordqa.settings import Settings

CONFIGURATIONS: dict[str, dict] = {
    "lexical": {"retrieval_mode": "lexical", "reranker_model": None},
    "dense": {"retrieval_mode": "dense", "reranker_model": None},
    "hybrid": {"retrieval_mode": "hybrid", "reranker_model": None},
    "hybrid+rerank": {"retrieval_mode": "hybrid"},
}


class UnknownConfiguration(ValueError):
    pass


@dataclass
class Prepared:
    name: str
    settings: Settings
    answerer: object


def parse_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown or not names:
        raise UnknownConfiguration(f"unknown configuration {', '.join(unknown) or '(none)'}; "
                                   f"choose from {', '.join(CONFIGURATIONS)}")
    return list(dict.fromkeys(names))


def prepare(names: list[str], settings: Settings, *, index, tokenizer, embedders, reranker_loader) -> tuple[
        list[Prepared], dict[str, str]]:
    """Answerers for the available configurations, and the reason each other one is skipped.

    All share one index: the retrieval mode and reranker do not shape it."""
    from recordqa.factories import make_answerer

    prepared: list[Prepared] = []
    skipped: dict[str, str] = {}
    dense_model = index.manifest.dense.get("model")
    reranker = None
    for name in names:
        if name in ("dense", "hybrid", "hybrid+rerank") and not (dense_model and embedders):
            reason = index.manifest.dense.get("reason") or "no embedding model"
            if name == "dense":
                skipped[name] = f"dense retrieval is off: {reason}"
                continue
            if name == "hybrid":
                skipped[name] = f"hybrid needs dense retrieval, which is off: {reason}"
                continue
        if name == "hybrid+rerank":
            if not settings.reranker_model:
                skipped[name] = "no cross-encoder configured (set RECORDQA_RERANKER_MODEL)"
                continue
            reranker = reranker or reranker_loader(settings)
            if reranker is None:
                skipped[name] = f"cross-encoder '{settings.reranker_model}' cannot be loaded here"
                continue
        overrides = CONFIGURATIONS[name]
        config = settings.model_copy(update=overrides)
        answerer = make_answerer(config, index=index, tokenizer=tokenizer, embedders=embedders,
                                 reranker=reranker if name == "hybrid+rerank" else None)
        prepared.append(Prepared(name, config, answerer))
    return prepared, skipped
