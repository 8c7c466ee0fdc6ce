"""The live index, opened for reading: corpus, lexical indexes, vector store, sentence vectors and manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.build import SENTENCE_ROWS, SENTENCE_VECTORS, current_build
from indexer.corpus import Corpus
from indexer.lexical import LexicalIndex
from indexer.manifest import Manifest, corpus_from_json
from indexer.sentences import split_sentences
from indexer.store import ChromaStore, VectorStore


class IndexMissing(RuntimeError):
    """No usable index; the message says how to build one."""


@dataclass(frozen=True)
class SentenceVectors:
    """The build's sentence matrix (memory-mapped) and where each paragraph's rows are."""

    matrix: np.ndarray
    rows: dict[tuple[str, str], tuple[int, tuple[str, ...]]]
    """(key, lang) -> (first row, the sentences stored for it)."""

    @classmethod
    def load(cls, build: Path) -> SentenceVectors | None:
        if not (build / SENTENCE_VECTORS).exists() or not (build / SENTENCE_ROWS).exists():
            return None
        matrix = np.load(build / SENTENCE_VECTORS, mmap_mode="r")
        listed = json.loads((build / SENTENCE_ROWS).read_text(encoding="utf-8"))
        if len(listed) != len(matrix):
            return None
        texts: dict[tuple[str, str], list[str]] = {}
        first: dict[tuple[str, str], int] = {}
        for i, row in enumerate(listed):
            first.setdefault((row["key"], row["lang"]), i)
            texts.setdefault((row["key"], row["lang"]), []).append(row["text"])
        return cls(matrix, {k: (first[k], tuple(v)) for k, v in texts.items()})


@dataclass
class LiveIndex:
    folder: Path
    manifest: Manifest
    corpus: Corpus
    lexical: dict[str, LexicalIndex]
    store: VectorStore | None
    sentences: SentenceVectors | None = field(default=None, repr=False)

    @classmethod
    def open(cls, index_dir: Path) -> LiveIndex:
        build = current_build(index_dir)
        if build is None:
            raise IndexMissing(f"no index in {index_dir}; run `recordqa index` first")
        manifest = Manifest.read(build / "manifest.json")
        corpus = corpus_from_json(json.loads((build / "records.json").read_text(encoding="utf-8")))
        lexical = {p.name: LexicalIndex.load(p) for p in sorted((build / "lexical").iterdir())}
        dense = bool(manifest.dense.get("model"))
        store = ChromaStore.on_disk(build / "chroma") if dense else None
        # Opened now (a memory map and a small JSON list): a later rebuild may prune this folder.
        sentences = SentenceVectors.load(build) if dense else None
        return cls(build, manifest, corpus, lexical, store, sentences)

    @property
    def dense_model(self) -> str | None:
        return self.manifest.dense.get("model")

    @property
    def dense_languages(self) -> frozenset[str] | None:
        languages = self.manifest.dense.get("languages")
        return frozenset(languages) if languages else None

    @property
    def has_sentence_vectors(self) -> bool:
        return self.sentences is not None

    def sentence_vectors(self, key: str, lang: str) -> tuple[list[str], np.ndarray | None]:
        """The paragraph's sentences (``split_sentences`` of its text) and their vectors, row i for
        sentence i; vectors are None without a dense index, for a language the model does not
        serve, or when the stored sentences are not the ones the splitter cuts now. The vectors are
        a read-only view of the memory-mapped matrix. ([], None) for a paragraph not in the index."""
        paragraph = self.corpus.get(key, lang)
        if paragraph is None:
            return [], None
        sentences = split_sentences(paragraph.text, lang)
        if self.sentences is None:
            return sentences, None
        if self.dense_languages is not None and lang not in self.dense_languages:
            return sentences, None
        start, stored = self.sentences.rows.get((key, lang), (0, ()))
        if list(stored) != sentences:
            return sentences, None
        return sentences, np.asarray(self.sentences.matrix[start : start + len(stored)])
