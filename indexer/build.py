"""Build an index atomically and incrementally.

Layout of the index folder::

    current.json          -> {"build": "<build id>"}; replaced atomically, the only switch
    builds/<build id>/    records.json, lexical/<lang>/, chroma/, sentences.npy + sentences.json,
                          manifest.json (written last)
    .lock                 one build at a time

A build writes a new folder beside the live one and flips ``current.json`` only when the
manifest is on disk, so an interrupted build leaves the previous index answering; the next
build removes the debris. Embeddings of unchanged windows (same text hash, same model) and of
unchanged sentences (same text, same model) are copied from the live build instead of being
recomputed.

With a dense model, every sentence of every paragraph (``split_sentences`` of its text, in each
language version the model serves) is embedded too: ``sentences.npy`` is the float32 matrix and
``sentences.json`` lists its rows in order as ``{key, lang, index, text}``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from indexer.corpus import Corpus
from indexer.embedder import Embedder
from indexer.lexical import LexicalIndex
from indexer.manifest import Manifest, corpus_to_json, library_versions, source_entries, stale_reasons
from indexer.paragraph import Paragraph
from indexer.sentences import split_sentences, splitter_digest
from indexer.store import ChromaStore, VectorEntry
from indexer.tokenize import TOKENIZER_VERSION, Tokenizer

SENTENCE_VECTORS = "sentences.npy"
SENTENCE_ROWS = "sentences.json"


@dataclass(frozen=True)
class BuildSummary:
    build_id: str
    up_to_date: bool
    paragraphs: int
    languages: list[str]
    vector_entries: int
    embedded: int
    reused: int
    seconds: float
    sentence_vectors: int = 0
    sentences_embedded: int = 0
    sentences_reused: int = 0

    def describe(self) -> str:
        if self.up_to_date:
            return f"index is up to date ({self.paragraphs} paragraphs, {', '.join(self.languages)})"
        return (
            f"indexed {self.paragraphs} paragraphs in {', '.join(self.languages)}: "
            f"{self.vector_entries} vectors ({self.embedded} embedded, {self.reused} reused) "
            f"in {self.seconds:.1f} s"
        )


def lexical_text(paragraph: Paragraph) -> str:
    """Headings go with the text, so a placeholder paragraph is still found by its subject."""
    return f"{paragraph.heading}\n{paragraph.text}"


def tokenizer_signature(tokenizer: Tokenizer) -> dict:
    return {"version": TOKENIZER_VERSION, "glossary": tokenizer.glossary.digest}


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / "current.json"
    if not pointer.exists():
        return None
    build = index_dir / "builds" / json.loads(pointer.read_text())["build"]
    return build if (build / "manifest.json").exists() else None


def index_stale_reasons(index_dir: Path, corpus: Corpus, *, index_key: str, tokenizer: Tokenizer,
                        dense_model: str | None) -> list[str]:
    """Empty when the live index matches; otherwise why it does not (or that there is none)."""
    build = current_build(index_dir)
    if build is None:
        return [f"no index in {index_dir}"]
    return stale_reasons(
        Manifest.read(build / "manifest.json"), sources=source_entries(corpus), index_key=index_key,
        tokenizer=tokenizer_signature(tokenizer), dense_model=dense_model,
        splitter=splitter_digest() if dense_model else None,
    )


def build_index(
    corpus: Corpus,
    *,
    index_dir: Path,
    tokenizer: Tokenizer,
    embedders: list[Embedder],
    index_key: str,
    settings_snapshot: dict,
    dense_reason: str | None = None,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
) -> BuildSummary:
    start = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    dense_model = embedders[0].name if embedders else None
    with _build_lock(index_dir):
        _remove_debris(index_dir)
        live = current_build(index_dir)
        if live and not force:
            reasons = index_stale_reasons(index_dir, corpus, index_key=index_key, tokenizer=tokenizer,
                                          dense_model=dense_model)
            if not reasons:
                manifest = Manifest.read(live / "manifest.json")
                return BuildSummary(manifest.build_id, True, manifest.counts.get("paragraphs", 0),
                                    corpus.languages, manifest.counts.get("vector_entries", 0), 0, 0,
                                    time.perf_counter() - start)
            for reason in reasons:
                log(f"rebuilding: {reason}")

        build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = index_dir / "builds" / build_id
        folder.mkdir(parents=True)
        (folder / "records.json").write_text(json.dumps(corpus_to_json(corpus), ensure_ascii=False),
                                             encoding="utf-8")
        for lang in corpus.languages:
            paragraphs = [p for p in corpus.paragraphs() if p.lang == lang]
            LexicalIndex.build(
                lang, [p.key for p in paragraphs], [tokenizer.tokens(lexical_text(p), lang) for p in paragraphs],
                k1=bm25_k1, b=bm25_b,
            ).save(folder / "lexical" / lang)

        embedded = reused = entries_total = 0
        n_sentences = sentences_embedded = sentences_reused = 0
        dense_info: dict = {"model": None, "languages": None, "dimensions": None, "reason": dense_reason}
        if embedders:
            embedder = embedders[0]
            previous = _previous_vectors(live, embedder.name)
            entries = _vector_entries(corpus, embedder)
            todo = [i for i, e in enumerate(entries) if e.id not in previous
                    or previous[e.id][0] != e.metadata["content_hash"]]
            todo_set = set(todo)
            vectors: list[np.ndarray | None] = [None if i in todo_set else previous[e.id][1]
                                                for i, e in enumerate(entries)]
            if todo:
                log(f"embedding {len(todo)} windows with {embedder.name}")
                fresh = embedder.embed_documents([entries[i].text for i in todo], progress=progress)
                for i, vector in zip(todo, fresh, strict=True):
                    vectors[i] = vector
            store = ChromaStore.on_disk(folder / "chroma")
            store.upsert([VectorEntry(e.id, e.text, e.metadata, v) for e, v in zip(entries, vectors, strict=True)])
            embedded, reused, entries_total = len(todo), len(entries) - len(todo), len(entries)
            n_sentences, sentences_embedded, sentences_reused = _write_sentence_vectors(
                folder, corpus, embedder, _previous_sentences(live, embedder.name), progress=progress, log=log)
            dense_info = {"model": embedder.name, "label": embedder.label,
                          "languages": sorted(embedder.languages) if embedder.languages else None,
                          "dimensions": embedder.dimensions, "reason": dense_reason,
                          "sentences": {"vectors": n_sentences, "splitter": splitter_digest()}}

        seconds = time.perf_counter() - start
        n_paragraphs = len(corpus.keys())
        manifest = Manifest(
            build_id=build_id, created=datetime.now(UTC).isoformat(timespec="seconds"), index_key=index_key,
            settings=settings_snapshot, sources=source_entries(corpus), dense=dense_info,
            tokenizer=tokenizer_signature(tokenizer), versions=library_versions(),
            counts={"paragraphs": n_paragraphs, "languages": corpus.languages, "vector_entries": entries_total,
                    "sentence_vectors": n_sentences},
            seconds=round(seconds, 2),
        )
        manifest.write(folder / "manifest.json")
        _fsync_tree(folder)
        _switch(index_dir, build_id)
        _prune(index_dir, keep={build_id, live.name if live else ""})
        return BuildSummary(build_id, False, n_paragraphs, corpus.languages, entries_total, embedded, reused,
                            seconds, n_sentences, sentences_embedded, sentences_reused)


def sentence_rows(corpus: Corpus, embedder: Embedder) -> list[dict]:
    """Every sentence of every paragraph in each language version the model serves, in corpus order."""
    return [
        {"key": paragraph.key, "lang": paragraph.lang, "index": i, "text": sentence}
        for paragraph in corpus.paragraphs()
        if embedder.languages is None or paragraph.lang in embedder.languages
        for i, sentence in enumerate(split_sentences(paragraph.text, paragraph.lang))
    ]


def _write_sentence_vectors(folder: Path, corpus: Corpus, embedder: Embedder, previous: dict[str, np.ndarray],
                            *, progress: bool, log: Callable[[str], None]) -> tuple[int, int, int]:
    """Embed the sentences not in ``previous`` (text -> vector), write both files.
    Returns (rows, texts embedded, rows reused); a sentence repeated in the record is embedded once."""
    rows = sentence_rows(corpus, embedder)
    todo = list(dict.fromkeys(row["text"] for row in rows if row["text"] not in previous))
    vectors = dict(previous)
    if todo:
        log(f"embedding {len(todo)} sentences with {embedder.name}")
        vectors.update(zip(todo, embedder.embed_documents(todo, progress=progress), strict=True))
    matrix = (np.stack([vectors[row["text"]] for row in rows]) if rows
              else np.zeros((0, embedder.dimensions))).astype(np.float32)
    np.save(folder / SENTENCE_VECTORS, matrix)
    (folder / SENTENCE_ROWS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return len(rows), len(todo), sum(row["text"] in previous for row in rows)


def _previous_sentences(live: Path | None, model: str) -> dict[str, np.ndarray]:
    """Sentence text -> vector from the live build, when the same model embedded it."""
    if live is None or not (live / SENTENCE_VECTORS).exists() or not (live / SENTENCE_ROWS).exists():
        return {}
    if Manifest.read(live / "manifest.json").dense.get("model") != model:
        return {}
    rows = json.loads((live / SENTENCE_ROWS).read_text(encoding="utf-8"))
    matrix = np.load(live / SENTENCE_VECTORS)
    if len(rows) != len(matrix):
        return {}
    return {row["text"]: matrix[i] for i, row in enumerate(rows)}


def _vector_entries(corpus: Corpus, embedder: Embedder) -> list[VectorEntry]:
    entries = []
    for paragraph in corpus.paragraphs():
        if embedder.languages is not None and paragraph.lang not in embedder.languages:
            continue
        for window, text in enumerate(embedder.windows(lexical_text(paragraph))):
            entries.append(VectorEntry(
                id=f"{paragraph.key}:{paragraph.lang}:{window}",
                text=text,
                metadata={
                    "record": paragraph.record, "paragraph": paragraph.id, "key": paragraph.key,
                    "lang": paragraph.lang, "window": window, "section": paragraph.section or "",
                    "agenda_item": paragraph.agenda_item or "", "pending": paragraph.pending,
                    "content_hash": hashlib.sha256(f"{embedder.name}\n{text}".encode()).hexdigest()[:16],
                },
            ))
    return entries


def _previous_vectors(live: Path | None, model: str) -> dict[str, tuple[str, np.ndarray]]:
    if live is None or not (live / "chroma").exists():
        return {}
    if Manifest.read(live / "manifest.json").dense.get("model") != model:
        return {}
    store = ChromaStore.on_disk(live / "chroma")
    return {e.id: (e.metadata.get("content_hash", ""), e.embedding) for e in store.entries()}


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_debris(index_dir: Path) -> None:
    """Builds without a manifest were interrupted; nothing reads them (we hold the lock)."""
    builds = index_dir / "builds"
    if builds.exists():
        for folder in builds.iterdir():
            if not (folder / "manifest.json").exists():
                shutil.rmtree(folder, ignore_errors=True)
    for tmp in index_dir.glob("current.json.*"):
        tmp.unlink(missing_ok=True)


def _switch(index_dir: Path, build_id: str) -> None:
    tmp = index_dir / f"current.json.{os.getpid()}"
    tmp.write_text(json.dumps({"build": build_id}))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / "current.json")


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Keep the new build and the one it replaced (a reader may still have it open)."""
    builds = sorted((index_dir / "builds").iterdir(), key=lambda p: p.name)
    for folder in builds:
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
