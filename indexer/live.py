"""The live index, opened for reading: corpus, lexical indexes, vector store, sentence vectors and manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.build import (
    SENTENCE_ROWS,
    SENTENCE_VECTORS,
    BuildLease,
    BuildState,
    IndexDamaged,
    inspect_index,
)
from indexer.corpus import Corpus
from indexer.lexical import LexicalIndex
from indexer.manifest import Manifest, corpus_from_json, dense_only
from indexer.sentences import split_sentences
from indexer.store import ChromaServerStore, ChromaStore, VectorStore


class IndexMissing(RuntimeError):
    """No usable index; the message says how to build one."""


class IndexBroken(IndexMissing):
    """The live build is damaged and no other build is intact; the message names the file and the fix."""


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

    notices: list[str] = field(default_factory=list)
    """Why this is not simply the current build: a fallback to the previous build, dense retrieval off."""
    dense_problem: str | None = None
    """Why the build's vector store cannot be used (dense retrieval is then off), or None."""
    lease: BuildLease | None = field(default=None, repr=False)
    chroma_url: str | None = None
    """The Chroma server this index was opened with (None: the one its manifest names, if any)."""

    @classmethod
    def open(cls, index_dir: Path, *, chroma_url: str | None = None) -> LiveIndex:
        """The build current.json names; when it is damaged, the newest intact earlier build (with a
        notice), else the damaged build without dense retrieval when only its vector files are broken.
        A build whose vectors are on a Chroma server reaches it at ``chroma_url`` (the app's setting:
        replicas may reach the server by another address than the indexer did), else at the URL the
        build was made with; the server is not contacted here.
        Raises IndexMissing without an index, IndexBroken when nothing can answer."""
        index = cls._open(index_dir, chroma_url)
        index.chroma_url = chroma_url
        return index

    @classmethod
    def _open(cls, index_dir: Path, chroma_url: str | None) -> LiveIndex:
        inspection = inspect_index(index_dir)
        if not inspection.exists:
            raise IndexMissing(f"no index in {index_dir}; run `recordqa index` first")
        failures: list[str] = []
        current = inspection.current
        if current is not None and current.intact:
            index = cls._try_open(current, failures, chroma_url=chroma_url)
            if index is not None:
                return index
        problems = inspection.problems or failures
        damage = IndexDamaged(f"the index in {index_dir} is broken: {'; '.join(problems[:3])}")
        if inspection.previous is not None:
            index = cls._try_open(inspection.previous, failures, chroma_url=chroma_url)
            if index is not None:
                index.notices.append(f"{damage}; answering from the newest intact build {index.folder.name} "
                                     f"until `recordqa index --force` repairs it")
                return index
        if current is not None and current.manifest is not None and dense_only(current.problems, current.folder):
            index = cls._try_open(current, failures, dense=False)
            if index is not None:
                index.dense_problem = "; ".join(current.problems[:3])
                index.notices.append(f"dense retrieval is off: {index.dense_problem}; run `recordqa index "
                                     f"--force` to repair")
                return index
        raise IndexBroken(f"{damage}; run `recordqa index --force`")

    @classmethod
    def _try_open(cls, state: BuildState, failures: list[str], *, dense: bool = True,
                  chroma_url: str | None = None) -> LiveIndex | None:
        """Open ``state``'s build; None (and why, in ``failures``) when a file that looked intact
        still cannot be loaded."""
        build, manifest = state.folder, state.manifest
        try:
            lease = BuildLease(build)
        except OSError as exc:
            failures.append(f"{build.name}/manifest.json cannot be opened: {exc.strerror}")
            return None
        try:
            corpus = corpus_from_json(json.loads((build / "records.json").read_text(encoding="utf-8")))
            lexical = {p.name: LexicalIndex.load(p) for p in sorted((build / "lexical").iterdir())}
        except Exception as exc:  # bm25s and json fail in many ways on a damaged file
            lease.release()
            failures.append(f"{build.name} cannot be loaded ({type(exc).__name__}: {exc})")
            return None
        store, sentences, dense_problem = None, None, None
        if dense and manifest.dense.get("model"):
            store, dense_problem = open_vector_store(build, manifest, chroma_url=chroma_url, connect=False)
            # Opened now (a memory map and a small JSON list): a later rebuild may prune this folder.
            try:
                sentences = SentenceVectors.load(build) if store is not None else None
            except (OSError, ValueError) as exc:
                store, dense_problem = None, f"the sentence vectors of {build.name} cannot be loaded ({exc})"
        index = cls(build, manifest, corpus, lexical, store, sentences, lease=lease, dense_problem=dense_problem)
        if dense_problem:
            index.notices.append(f"dense retrieval is off: {dense_problem}; run `recordqa index --force` to repair")
        return index

    def close(self) -> None:
        """Let a later build prune this build's folder."""
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    @property
    def dense_on(self) -> bool:
        return self.store is not None

    def vector_store_problem(self) -> str | None:
        """Why dense search cannot run now (its files vanished or the store fails), or None; cheap."""
        if self.store is None:
            return self.dense_problem
        if isinstance(self.store, ChromaServerStore):
            return self.store.problem()
        if not (self.folder / "chroma" / "chroma.sqlite3").exists():
            return f"{self.folder.name}/chroma/chroma.sqlite3 is missing"
        try:
            self.store.count()
        except Exception as exc:  # chroma raises its own error types
            return f"the vector store of {self.folder.name} fails: {exc}"
        return None

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


def open_vector_store(build: Path, manifest: Manifest, *, chroma_url: str | None = None, connect: bool = True
                      ) -> tuple[VectorStore | None, str | None]:
    """(the build's vector store, None) or (None, why it cannot be used): dense search on a store
    that lost its vectors would quietly find nothing. A store on a Chroma server is checked (its
    vectors counted) only with ``connect``; unreachable, it is (None, the one-line reason)."""
    vectors = manifest.vectors
    if vectors.get("store") == "server":
        store = ChromaServerStore(chroma_url or vectors["url"], vectors["collection"],
                                  revisions=list(vectors.get("revisions", {}).values()))
        if not connect:
            return store, None
        try:
            count = store.count()
        except Exception as exc:  # VectorStoreUnavailable, or chroma's own error types
            return None, str(exc)
        expected = manifest.counts.get("vector_entries")
        if expected is not None and count != expected:
            return None, (f"the Chroma server at {store.url} holds {count} of build {build.name}'s {expected} "
                          f"vectors; run `recordqa index --force`")
        return store, None
    try:
        store = ChromaStore.for_reading(build / "chroma")
        count = store.count()
    except Exception as exc:  # chroma raises its own error types
        return None, f"the vector store {build.name}/chroma cannot be opened ({type(exc).__name__}: {exc})"
    expected = manifest.counts.get("vector_entries")
    if expected is not None and count != expected:
        return None, f"the vector store {build.name}/chroma holds {count} vectors, the manifest says {expected}"
    return store, None
