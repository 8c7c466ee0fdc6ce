"""The live index, opened for reading: corpus, lexical indexes, vector store and manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from indexer.build import current_build
from indexer.corpus import Corpus
from indexer.lexical import LexicalIndex
from indexer.manifest import Manifest, corpus_from_json
from indexer.store import ChromaStore, VectorStore


class IndexMissing(RuntimeError):
    """No usable index; the message says how to build one."""


@dataclass
class LiveIndex:
    folder: Path
    manifest: Manifest
    corpus: Corpus
    lexical: dict[str, LexicalIndex]
    store: VectorStore | None

    @classmethod
    def open(cls, index_dir: Path) -> LiveIndex:
        build = current_build(index_dir)
        if build is None:
            raise IndexMissing(f"no index in {index_dir}; run `recordqa index` first")
        manifest = Manifest.read(build / "manifest.json")
        corpus = corpus_from_json(json.loads((build / "records.json").read_text(encoding="utf-8")))
        lexical = {p.name: LexicalIndex.load(p) for p in sorted((build / "lexical").iterdir())}
        store = ChromaStore.on_disk(build / "chroma") if manifest.dense.get("model") else None
        return cls(build, manifest, corpus, lexical, store)

    @property
    def dense_model(self) -> str | None:
        return self.manifest.dense.get("model")

    @property
    def dense_languages(self) -> frozenset[str] | None:
        languages = self.manifest.dense.get("languages")
        return frozenset(languages) if languages else None
