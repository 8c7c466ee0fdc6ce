"""Build an index atomically and incrementally.

Layout of the index folder::

    current.json          -> {"build": "<build id>"}; replaced atomically, the only switch
    builds/<build id>/    records.json, lexical/<lang>/, chroma/, sentences.npy + sentences.json, windows.json,
                          manifest.json (written last)
    .lock                 one build at a time

A build writes a new folder beside the live one and flips ``current.json`` only when the
manifest is on disk, so an interrupted build leaves the previous index answering; the next
build removes the debris. Embeddings of unchanged windows (same text hash, same model) and of
unchanged sentences (same text, same model) are copied from the live build instead of being
recomputed.

Vectors are written per record version: each record's entries in one language carry a
*revision* (a hash of their ids, texts, metadata and model). A build of the embedded store copies
the live build's ``chroma/`` folder (a file copy), deletes the entries of revisions that are gone
(removed or changed records) and upserts only the new revisions; with a Chroma server
(``chroma_url``) the new revisions are upserted into the index's collection, queries are limited to
the live build's revisions, and revisions no kept build lists are deleted after the switch (see
indexer.store). Adding, changing or removing one record so touches only that record's vectors; a
record version whose paragraphs are all as the live build has them keeps its revision without
its entries being formed or hashed again (``PreviousBuild.carried``).

With a dense model, every sentence of every paragraph (``split_sentences`` of its text, in each
language version the model serves) is embedded too: ``sentences.npy`` is the float32 matrix and
``sentences.json`` lists its rows in order as ``{key, lang, index, text}``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from indexer.corpus import Corpus
from indexer.embedder import Embedder
from indexer.lexical import LexicalIndex
from indexer.manifest import (
    MANIFEST,
    Manifest,
    ManifestError,
    build_problems,
    corpus_from_json,
    corpus_to_json,
    dense_only,
    file_entries,
    library_versions,
    source_entries,
    stale_reasons,
)
from indexer.paragraph import Paragraph
from indexer.sentences import split_sentences, splitter_digest
from indexer.store import (
    BUILD_TIMEOUT_S,
    COLLECTION,
    REVISION,
    ChromaServerStore,
    ChromaStore,
    VectorEntry,
    VectorStoreUnavailable,
    drop_server_revisions,
    tune_search,
)
from indexer.tokenize import TOKENIZER_VERSION, Tokenizer

SENTENCE_VECTORS = "sentences.npy"
SENTENCE_ROWS = "sentences.json"
WINDOWS = "windows.json"
"""Where each paragraph's embedding windows are in its text ('<key>\t<lang>' -> [[start, end], ...]):
the next build reuses them for paragraphs whose text did not change (counting tokens is slow)."""


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
    revised: tuple[str, ...] = ()
    """'<record>:<lang>' versions whose vectors this build wrote (new or changed); the others were kept."""
    dropped: tuple[str, ...] = ()
    """'<record>:<lang>' versions the live build had and this one does not (removed records)."""
    record_versions: int = 0
    """'<record>:<lang>' versions with vectors in this build."""

    def describe(self) -> str:
        if self.up_to_date:
            return f"index is up to date ({self.paragraphs} paragraphs, {', '.join(self.languages)})"
        line = (
            f"indexed {self.paragraphs} paragraphs in {', '.join(self.languages)}: "
            f"{self.vector_entries} vectors ({self.embedded} embedded, {self.reused} reused) "
            f"in {self.seconds:.1f} s"
        )
        if self.record_versions and (self.dropped or len(self.revised) < self.record_versions):
            # Only part of the collection was written: say which records (the rest kept their vectors).
            line += f"; vectors written for {_listed(self.revised)}"
            if self.dropped:
                line += f", removed for {_listed(self.dropped)}"
        return line


def _listed(versions: tuple[str, ...], limit: int = 6) -> str:
    if not versions:
        return "no record"
    shown = ", ".join(versions[:limit])
    return shown + (f" and {len(versions) - limit} more" if len(versions) > limit else "")


def lexical_text(paragraph: Paragraph) -> str:
    """Headings go with the text, so a placeholder paragraph is still found by its subject."""
    return f"{paragraph.heading}\n{paragraph.text}"


def tokenizer_signature(tokenizer: Tokenizer) -> dict:
    return {"version": TOKENIZER_VERSION, "glossary": tokenizer.glossary.digest}


class IndexReadOnly(RuntimeError):
    """The index needs building but its folder cannot be written; the live build can still answer."""


class BuildFailed(RuntimeError):
    """A build stopped part way (a full disk); its folder is removed and the live build is untouched."""


class IndexDamaged(RuntimeError):
    """The live build is broken and there is no intact build to answer from."""


@dataclass(frozen=True)
class BuildState:
    folder: Path
    problems: list[str]
    """Each names a broken file; empty when the build matches its manifest."""
    manifest: Manifest | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return self.folder.name


@dataclass(frozen=True)
class IndexInspection:
    """What is on disk: the build current.json names, and the newest other intact build."""

    index_dir: Path
    pointer_problem: str | None
    current: BuildState | None
    previous: BuildState | None

    @property
    def exists(self) -> bool:
        return bool(self.pointer_problem or self.current or self.previous)

    @property
    def usable(self) -> BuildState | None:
        """The build to answer from: the current one when intact, else the newest intact other one."""
        return self.current if self.current is not None and self.current.intact else self.previous

    @property
    def answerable(self) -> BuildState | None:
        """``usable``, else the current build when only its dense files are damaged (it answers lexically)."""
        current = self.current
        if self.usable is None and current is not None and current.manifest is not None \
                and dense_only(current.problems, current.folder):
            return current
        return self.usable

    @property
    def problems(self) -> list[str]:
        if self.pointer_problem:
            return [self.pointer_problem]
        return self.current.problems if self.current is not None else []

    def damage(self) -> str:
        """One line: what is broken and the fix."""
        return (f"the index in {self.index_dir} is broken: {'; '.join(self.problems[:3])}; "
                f"run `recordqa index --force`")


def read_pointer(index_dir: Path) -> str | None:
    """The build id current.json names; None without one. Raises ValueError when it is unreadable."""
    pointer = index_dir / "current.json"
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{pointer} is unreadable ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("build"), str) or "/" in data["build"]:
        raise ValueError(f"{pointer} does not name a build")
    return data["build"]


def current_build(index_dir: Path) -> Path | None:
    """The build folder current.json names, when it has a manifest; None otherwise (also when
    current.json is unreadable: ``inspect_index`` says why)."""
    try:
        build_id = read_pointer(index_dir)
    except ValueError:
        return None
    if build_id is None:
        return None
    build = index_dir / "builds" / build_id
    return build if (build / MANIFEST).exists() else None


def inspect_build(folder: Path) -> BuildState:
    try:
        manifest = Manifest.read(folder / MANIFEST)
    except ManifestError as exc:
        return BuildState(folder, [str(exc)])
    problems = build_problems(folder, manifest)
    if not manifest.files:  # built before manifests listed their files: check what every build has
        problems += [f"{folder.name}/{name} is missing" for name in ("records.json", "lexical")
                     if not (folder / name).exists()]
    return BuildState(folder, problems, manifest)


def inspect_index(index_dir: Path) -> IndexInspection:
    pointer_problem, current = None, None
    try:
        build_id = read_pointer(index_dir)
    except ValueError as exc:
        pointer_problem, build_id = str(exc), None
    if build_id is not None:
        current = inspect_build(index_dir / "builds" / build_id)
    previous = None
    builds = index_dir / "builds"
    # Newest first (ids start with the build time); a folder without a manifest is being built or debris.
    candidates = sorted(builds.iterdir(), key=lambda p: p.name, reverse=True) if builds.is_dir() else []
    for folder in candidates:
        if folder.name != build_id and (folder / MANIFEST).exists():
            state = inspect_build(folder)
            if state.intact:
                previous = state
                break
    return IndexInspection(index_dir, pointer_problem, current, previous)


def index_stale_reasons(index_dir: Path, corpus: Corpus, *, index_key: str, tokenizer: Tokenizer,
                        dense_model: str | None, chroma_url: str | None = None) -> list[str]:
    """Empty when the live index matches; otherwise why it does not (or that there is none)."""
    build = current_build(index_dir)
    if build is None:
        return [f"no index in {index_dir}"]
    try:
        manifest = Manifest.read(build / MANIFEST)
    except ManifestError as exc:
        return [str(exc)]
    return _stale(manifest, corpus, index_key=index_key, tokenizer=tokenizer, dense_model=dense_model,
                  chroma_url=chroma_url)


def _stale(manifest: Manifest, corpus: Corpus, *, index_key: str, tokenizer: Tokenizer,
           dense_model: str | None, chroma_url: str | None = None) -> list[str]:
    return stale_reasons(
        manifest, sources=source_entries(corpus), index_key=index_key,
        tokenizer=tokenizer_signature(tokenizer), dense_model=dense_model,
        splitter=splitter_digest() if dense_model else None,
        vector_store="server" if chroma_url else "embedded",
    )


def _needed(inspection: IndexInspection, corpus: Corpus, *, force: bool, repair: bool, **signature
            ) -> tuple[list[str], BuildState | None]:
    """(why a build is needed, empty when it is not; the build that is up to date otherwise).

    A reader (``repair`` False) does not rebuild a damaged index: it answers from an intact
    build, and staleness is judged against that one. Raises IndexDamaged when there is none."""
    if force:
        return ["--force"], None
    if not inspection.exists:
        return [f"no index in {inspection.index_dir}"], None
    damaged = inspection.pointer_problem is not None or (inspection.current is not None
                                                         and not inspection.current.intact)
    if damaged and repair:
        return inspection.problems, None
    judged = inspection.answerable
    if judged is None:
        raise IndexDamaged(inspection.damage())
    reasons = _stale(judged.manifest, corpus, **signature)
    return reasons, (None if reasons else judged)


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
    repair: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = lambda _: None,
    chroma_url: str | None = None,
    record_paths: list[str] | None = None,
) -> BuildSummary:
    """Build when the index is missing, stale, damaged (with ``repair``) or ``force``d; otherwise a
    no-op summary. The vectors go to the Chroma server at ``chroma_url`` when given, else to the
    build folder. Raises IndexReadOnly, BuildFailed (disk full), IndexDamaged (reader, nothing
    intact) or VectorStoreUnavailable (the server does not answer; the live build is untouched).
    ``record_paths`` go into the manifest (``Manifest.record_paths``)."""
    start = time.perf_counter()
    dense_model = embedders[0].name if embedders else None
    signature = {"index_key": index_key, "tokenizer": tokenizer, "dense_model": dense_model,
                 "chroma_url": chroma_url}
    # Reading needs no lock: a current index on a read-only folder is answered from as it is.
    reasons, current = _needed(inspect_index(index_dir), corpus, force=force, repair=repair, **signature)
    if current is not None:
        _tidy(index_dir)
        return _up_to_date(current, corpus, start)
    with _build_lock(index_dir, reasons):
        _remove_debris(index_dir)
        inspection = inspect_index(index_dir)
        reasons, current = _needed(inspection, corpus, force=force, repair=repair, **signature)
        if current is not None:  # another process built it while we waited for the lock
            return _up_to_date(current, corpus, start)
        for reason in reasons if inspection.exists else []:  # a first build is no rebuild
            if reason != "--force":
                log(f"rebuilding: {reason}")
        live = inspection.usable.folder if inspection.usable else None
        live_manifest = inspection.usable.manifest if inspection.usable else None
        build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        folder = index_dir / "builds" / build_id
        step = Step()
        try:
            summary = _write_build(
                folder, corpus, live=live, tokenizer=tokenizer, embedders=embedders, index_key=index_key,
                settings_snapshot=settings_snapshot, dense_reason=dense_reason, bm25_k1=bm25_k1, bm25_b=bm25_b,
                record_paths=list(record_paths or []),
                progress=progress, log=log, start=start, step=step, live_manifest=live_manifest,
                chroma_url=chroma_url, force=force,
            )
            step.now = "current.json"
            _switch(index_dir, build_id)
        except BaseException as exc:
            # A server that stops answering is not a full disk, whatever the disk says.
            full = not isinstance(exc, VectorStoreUnavailable) and _disk_full(
                exc, index_dir, room=_tree_size(live) if live else 0)
            shutil.rmtree(folder, ignore_errors=True)
            for tmp in index_dir.glob("current.json.*"):
                tmp.unlink(missing_ok=True)
            if full:
                raise BuildFailed(f"no space left on {_mount_point(index_dir)} while writing {step.now} "
                                  f"(build {build_id} in {index_dir}); the partial build was removed and the "
                                  f"live index is unchanged") from exc
            raise
        collections = _server_collections(index_dir)
        _prune(index_dir, keep={build_id, live.name if live else ""})
        _drop_unlisted_revisions(index_dir, collections, log)
        return summary


def _up_to_date(current: BuildState, corpus: Corpus, start: float) -> BuildSummary:
    manifest = current.manifest
    return BuildSummary(manifest.build_id, True, manifest.counts.get("paragraphs", 0), corpus.languages,
                        manifest.counts.get("vector_entries", 0), 0, 0, time.perf_counter() - start)


@dataclass
class Step:
    """What the build is writing now, for the message when the disk fills up."""

    now: str = "the build folder"


def _write_build(folder: Path, corpus: Corpus, *, live: Path | None, tokenizer: Tokenizer,
                 embedders: list[Embedder], index_key: str, settings_snapshot: dict, dense_reason: str | None,
                 record_paths: list[str],
                 bm25_k1: float, bm25_b: float, progress: bool, log: Callable[[str], None], start: float,
                 step: Step, live_manifest: Manifest | None = None, chroma_url: str | None = None,
                 force: bool = False) -> BuildSummary:
    build_id = folder.name
    folder.mkdir(parents=True)
    previous = PreviousBuild.read(live, live_manifest, tokenizer=tokenizer, index_key=index_key,
                                  model=embedders[0].name if embedders else None)
    step.now = "the records (records.json)"
    (folder / "records.json").write_text(json.dumps(corpus_to_json(corpus), ensure_ascii=False),
                                         encoding="utf-8")
    for lang in corpus.languages:
        step.now = f"the lexical index (lexical/{lang})"
        paragraphs = [p for p in corpus.paragraphs() if p.lang == lang]
        tokens = [previous.tokens(p) for p in paragraphs]
        LexicalIndex.build(
            lang, [p.key for p in paragraphs],
            [t if t is not None else tokenizer.tokens(lexical_text(p), lang) for t, p in zip(tokens, paragraphs,
                                                                                            strict=True)],
            k1=bm25_k1, b=bm25_b,
        ).save(folder / "lexical" / lang)

    embedded = reused = entries_total = 0
    n_sentences = sentences_embedded = sentences_reused = 0
    dense_info: dict = {"model": None, "languages": None, "dimensions": None, "reason": dense_reason}
    vectors_info: dict = {}
    written: VectorsWritten | None = None
    if embedders:
        embedder = embedders[0]
        spans = {(p.key, p.lang): previous.spans(p, embedder) for p in corpus.paragraphs() if served(embedder, p.lang)}
        (folder / WINDOWS).write_text(json.dumps({f"{key}\t{lang}": value for (key, lang), value in spans.items()},
                                                 ensure_ascii=False), encoding="utf-8")
        entries_total = sum(len(value) for value in spans.values())
        usable = _reusable(live_manifest, index_key, embedder.name)
        # The live revision of each record version whose paragraphs are all unchanged: its entries
        # are not formed again. With --force every entry is (and, on a server, counted there).
        same_store = usable.get("store") == ("server" if chroma_url else "embedded")
        carried = previous.carried(corpus, usable.get("revisions", {}), lambda lang: served(embedder, lang)) \
            if same_store and not force else {}
        entries, formed = with_revisions(_vector_entries(corpus, embedder, spans, skip=set(carried)),
                                         server=bool(chroma_url))
        revisions = {version: carried.get(version) or formed[version]
                     for version in dict.fromkeys(f"{r.id}:{r.lang}" for r in corpus.records)
                     if version in carried or version in formed}

        def every_entry() -> list[VectorEntry]:  # when the live store cannot be copied after all
            return with_revisions(_vector_entries(corpus, embedder, spans), server=bool(chroma_url))[0]

        if chroma_url:
            step.now = f"the vectors to the Chroma server at {chroma_url}"
            written = _write_server_vectors(chroma_url, entries, revisions, usable, embedder, index_key=index_key,
                                            total=entries_total, force=force, progress=progress, log=log)
        else:
            step.now = "the vector store (chroma/)"
            written = _write_embedded_vectors(folder / "chroma", entries, revisions, usable, live, embedder,
                                              total=entries_total, every_entry=every_entry, progress=progress,
                                              log=log)
        vectors_info = written.info
        embedded, reused = written.embedded, entries_total - written.embedded
        step.now = f"the sentence vectors ({SENTENCE_VECTORS})"
        sentences = previous_sentences(live, embedder.name)
        n_sentences, sentences_embedded, sentences_reused = _write_sentence_vectors(
            folder, corpus, embedder, sentences, progress=progress, log=log,
            known=lambda p: sentences.split.get((p.key, p.lang)) if previous.unchanged(p) else None)
        dense_info = {"model": embedder.name, "label": embedder.label,
                      "languages": sorted(embedder.languages) if embedder.languages else None,
                      "dimensions": embedder.dimensions, "reason": dense_reason,
                      "sentences": {"vectors": n_sentences, "splitter": splitter_digest()}}

    seconds = time.perf_counter() - start
    n_paragraphs = len(corpus.keys())
    step.now = "the manifest (manifest.json)"
    manifest = Manifest(
        build_id=build_id, created=datetime.now(UTC).isoformat(timespec="seconds"), index_key=index_key,
        settings=settings_snapshot, sources=source_entries(corpus), dense=dense_info,
        tokenizer=tokenizer_signature(tokenizer), versions=library_versions(),
        counts={"paragraphs": n_paragraphs, "languages": corpus.languages, "vector_entries": entries_total,
                "sentence_vectors": n_sentences},
        seconds=round(seconds, 2), files=file_entries(folder), vectors=vectors_info, record_paths=record_paths,
    )
    manifest.write(folder / MANIFEST)
    step.now = "the build to disk (fsync)"
    _fsync_tree(folder)
    return BuildSummary(build_id, False, n_paragraphs, corpus.languages, entries_total, embedded, reused,
                        seconds, n_sentences, sentences_embedded, sentences_reused,
                        revised=written.revised if written else (), dropped=written.dropped if written else (),
                        record_versions=len(vectors_info.get("revisions", {})))


def sentence_rows(corpus: Corpus, embedder: Embedder,
                  known: Callable[[Paragraph], list[str] | None] = lambda _: None) -> list[dict]:
    """Every sentence of every paragraph in each language version the model serves, in corpus order.
    ``known`` gives a paragraph's sentences when they need not be split again (None: split)."""
    rows = []
    for paragraph in corpus.paragraphs():
        if embedder.languages is not None and paragraph.lang not in embedder.languages:
            continue
        sentences = known(paragraph)
        if sentences is None:
            sentences = split_sentences(paragraph.text, paragraph.lang)
        rows.extend({"key": paragraph.key, "lang": paragraph.lang, "index": i, "text": sentence}
                    for i, sentence in enumerate(sentences))
    return rows


@dataclass(frozen=True)
class SentenceSource:
    """The live build's sentence vectors: text -> row of a memory-mapped matrix."""

    rows: dict[str, int]
    matrix: np.ndarray
    split: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(key, lang) -> the paragraph's sentences in the live build (its text split by the same splitter)."""

    def __contains__(self, text: str) -> bool:
        return text in self.rows


NO_SENTENCES = SentenceSource({}, np.zeros((0, 0), dtype=np.float32))


def _write_sentence_vectors(folder: Path, corpus: Corpus, embedder: Embedder, previous: SentenceSource,
                            *, progress: bool, log: Callable[[str], None],
                            known: Callable[[Paragraph], list[str] | None] = lambda _: None) -> tuple[int, int, int]:
    """Embed the sentences not in ``previous``, write both files; the others' rows are copied from
    the live build's matrix in one gather. Returns (rows, texts embedded, rows reused); a sentence
    repeated in the records is embedded once."""
    rows = sentence_rows(corpus, embedder, known)
    todo = list(dict.fromkeys(row["text"] for row in rows if row["text"] not in previous))
    fresh: dict[str, int] = {}
    vectors = np.zeros((0, embedder.dimensions), dtype=np.float32)
    if todo:
        log(f"embedding {len(todo)} sentences with {embedder.name}")
        vectors = np.asarray(embedder.embed_documents(todo, progress=progress), dtype=np.float32)
        fresh = {text: i for i, text in enumerate(todo)}
    matrix = np.empty((len(rows), embedder.dimensions), dtype=np.float32)
    old = [(i, previous.rows[row["text"]]) for i, row in enumerate(rows) if row["text"] not in fresh]
    new = [(i, fresh[row["text"]]) for i, row in enumerate(rows) if row["text"] in fresh]
    if old:
        target, source = zip(*old, strict=True)
        order = np.argsort(source)  # read the memory map front to back
        matrix[np.asarray(target)[order]] = previous.matrix[np.asarray(source)[order]]
    if new:
        target, source = zip(*new, strict=True)
        matrix[list(target)] = vectors[list(source)]
    np.save(folder / SENTENCE_VECTORS, matrix)
    (folder / SENTENCE_ROWS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return len(rows), len(todo), len(old)


def previous_sentences(live: Path | None, model: str) -> SentenceSource:
    """The live build's sentence vectors, when the same model embedded them."""
    if live is None or not (live / SENTENCE_VECTORS).exists() or not (live / SENTENCE_ROWS).exists():
        return NO_SENTENCES
    try:
        dense = Manifest.read(live / MANIFEST).dense
        if dense.get("model") != model:
            return NO_SENTENCES
        rows = json.loads((live / SENTENCE_ROWS).read_text(encoding="utf-8"))
        matrix = np.load(live / SENTENCE_VECTORS, mmap_mode="r")
    except (OSError, ValueError, ManifestError):
        return NO_SENTENCES  # nothing to reuse from a damaged build: everything is embedded again
    if len(rows) != len(matrix):
        return NO_SENTENCES
    split: dict[tuple[str, str], list[str]] = {}
    if (dense.get("sentences") or {}).get("splitter") == splitter_digest():  # else every text is split again
        for row in rows:
            split.setdefault((row["key"], row["lang"]), []).append(row["text"])
    return SentenceSource({row["text"]: i for i, row in enumerate(rows)}, matrix, split)


class PreviousBuild:
    """What the next build can take from the live one instead of computing it again: the search
    tokens and the embedding windows of every paragraph that is unchanged, and the vector revision
    of every record version whose paragraphs are all unchanged (tokenizing, counting model tokens
    and hashing entries cost milliseconds per paragraph: minutes at 100,000)."""

    def __init__(self, paragraphs: dict[tuple[str, str], Paragraph], tokens: dict[tuple[str, str], list[str]],
                 spans: dict[tuple[str, str], list], versions: dict[str, tuple[Paragraph, ...]] | None = None
                 ) -> None:
        self._paragraphs, self._tokens, self._spans = paragraphs, tokens, spans
        self._versions = versions or {}
        # Asked several times per paragraph in one build (tokens, windows, sentences): answered once.
        self._unchanged: dict[tuple[str, str], bool] = {}

    @classmethod
    def read(cls, live: Path | None, manifest: Manifest | None, *, tokenizer: Tokenizer, index_key: str,
             model: str | None) -> PreviousBuild:
        """Nothing is reused from a build made with another tokenizer (tokens) or other index
        settings and model (windows), nor from files that cannot be read."""
        if live is None or manifest is None:
            return cls({}, {}, {})
        try:
            records = corpus_from_json(json.loads((live / "records.json").read_text(encoding="utf-8"))).records
        except (OSError, ValueError, KeyError, TypeError):
            return cls({}, {}, {})
        paragraphs = {(p.key, p.lang): p for r in records for p in r.paragraphs}
        versions = {f"{r.id}:{r.lang}": r.paragraphs for r in records}
        tokens: dict[tuple[str, str], list[str]] = {}
        if manifest.tokenizer == tokenizer_signature(tokenizer):
            for folder in sorted((live / "lexical").iterdir()) if (live / "lexical").is_dir() else []:
                try:
                    docs = json.loads((folder / "docs.json").read_text(encoding="utf-8"))
                    tokens.update(((key, docs["lang"]), toks)
                                  for key, toks in zip(docs["keys"], docs["doc_tokens"], strict=True))
                except (OSError, ValueError, KeyError, TypeError):
                    continue
        spans: dict[tuple[str, str], list] = {}
        if model and manifest.index_key == index_key and manifest.dense.get("model") == model:
            try:
                listed = json.loads((live / WINDOWS).read_text(encoding="utf-8"))
                spans = {tuple(name.split("\t", 1)): value for name, value in listed.items()}
            except (OSError, ValueError, AttributeError):
                spans = {}
        return cls(paragraphs, tokens, spans, versions)

    def unchanged(self, paragraph: Paragraph) -> bool:
        """The paragraph is as the live build has it (every field, so its heading and text too). One
        build holds one paragraph per key and language, so the answer is kept per key and language."""
        where = (paragraph.key, paragraph.lang)
        if where not in self._unchanged:
            self._unchanged[where] = self._paragraphs.get(where) == paragraph
        return self._unchanged[where]

    def tokens(self, paragraph: Paragraph) -> list[str] | None:
        """The paragraph's search tokens in the live build, or None when they must be computed."""
        found = self._tokens.get((paragraph.key, paragraph.lang))
        return found if found is not None and self.unchanged(paragraph) else None

    def spans(self, paragraph: Paragraph, embedder: Embedder) -> list:
        """Where the paragraph's embedding windows are in its text (see ``_spans``): the live
        build's when the paragraph is unchanged, else cut by ``embedder`` now."""
        spans = self._spans.get((paragraph.key, paragraph.lang))
        if spans is not None and self.unchanged(paragraph):
            return spans
        text = lexical_text(paragraph)
        return _spans(text, embedder.windows(text))

    def carried(self, corpus: Corpus, revisions: dict[str, str], served: Callable[[str], bool]
                ) -> dict[str, str]:
        """Version -> revision, of the live build's ``revisions``, for each record version the
        embedder serves whose paragraphs are all unchanged, in the same order: its vector entries
        would be the same, so they are neither formed nor hashed again."""
        out = {}
        for record in corpus.records:
            version = f"{record.id}:{record.lang}"
            kept = self._versions.get(version)
            if version in revisions and served(record.lang) and kept is not None and kept == record.paragraphs:
                out[version] = revisions[version]
        return out


def window_texts(paragraph: Paragraph, spans: list) -> list[str]:
    """The paragraph's embedding windows from their ``spans``."""
    text = lexical_text(paragraph)
    return [text[span[0] : span[1]] if isinstance(span, list) else span for span in spans]


def _spans(text: str, windows: list[str]) -> list:
    """Each window as [start, end] in ``text`` (windows are slices of it, in order), or as its own
    text when it is not found there."""
    out: list = []
    position = 0
    for window in windows:
        start = text.find(window, position)
        if start < 0:
            out.append(window)
            continue
        out.append([start, start + len(window)])
        position = start
    return out


def served(embedder: Embedder, lang: str) -> bool:
    """Whether the embedder embeds text in ``lang``."""
    return embedder.languages is None or lang in embedder.languages


def _vector_entries(corpus: Corpus, embedder: Embedder, spans: dict[tuple[str, str], list],
                    skip: set[str] = frozenset()) -> list[VectorEntry]:
    """One entry per embedding window of each paragraph the embedder serves, except in the record
    versions (``version_of``) in ``skip``."""
    entries = []
    for paragraph in corpus.paragraphs():
        if not served(embedder, paragraph.lang) or f"{paragraph.record}:{paragraph.lang}" in skip:
            continue
        for window, text in enumerate(window_texts(paragraph, spans[(paragraph.key, paragraph.lang)])):
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


def _previous_vectors(live: Path | None, model: str) -> dict[str, np.ndarray]:
    """Content hash -> vector of every entry of the live build's embedded store (a build from before
    revisions, or one whose store could not be copied); empty when nothing can be reused."""
    if live is None or not (live / "chroma").exists():
        return {}
    try:
        if Manifest.read(live / MANIFEST).dense.get("model") != model:
            return {}
        store = ChromaStore.for_reading(live / "chroma")
        return {e.metadata.get("content_hash", ""): e.embedding for e in store.entries()}
    except Exception:  # a damaged store only means nothing is reused; chroma raises its own types
        return {}


def version_of(metadata: dict) -> str:
    """'<record>:<lang>': the unit a revision covers."""
    return f"{metadata['record']}:{metadata['lang']}"


def with_revisions(entries: list[VectorEntry], *, server: bool) -> tuple[list[VectorEntry], dict[str, str]]:
    """The entries tagged with their record version's revision, and version -> revision.

    A revision hashes everything stored for the version (ids, window texts through their content
    hashes, metadata, model), so it changes exactly when that version's vectors must be rewritten.
    On a server, where revisions of one version live side by side, the id starts with the revision."""
    members: dict[str, list[VectorEntry]] = {}
    for entry in entries:
        members.setdefault(version_of(entry.metadata), []).append(entry)
    revisions = {}
    for version, group in members.items():
        digest = hashlib.sha256()
        for entry in group:
            digest.update(entry.id.encode())
            digest.update(json.dumps(entry.metadata, sort_keys=True, ensure_ascii=False).encode())
        revisions[version] = digest.hexdigest()[:16]
    tagged = []
    for entry in entries:
        revision = revisions[version_of(entry.metadata)]
        tagged.append(VectorEntry(f"{revision}:{entry.id}" if server else entry.id, entry.text,
                                  {**entry.metadata, REVISION: revision}, entry.embedding))
    return tagged, revisions


@dataclass(frozen=True)
class VectorsWritten:
    info: dict
    """The manifest's ``vectors`` entry."""
    embedded: int
    revised: tuple[str, ...]
    dropped: tuple[str, ...]


def _reusable(live_manifest: Manifest | None, index_key: str, model: str) -> dict:
    """The live build's ``vectors`` entry when its vectors are of the same kind (same index key and
    model: same windows, same embeddings); empty otherwise."""
    if live_manifest is None or live_manifest.index_key != index_key or live_manifest.dense.get("model") != model:
        return {}
    return live_manifest.vectors if live_manifest.vectors.get("revisions") else {}


def _embed_missing(entries: list[VectorEntry], known: dict[str, np.ndarray], embedder: Embedder, *,
                   progress: bool, log: Callable[[str], None]) -> tuple[list[VectorEntry], int]:
    """``entries`` with vectors: from ``known`` (content hash -> vector) when their text was
    embedded before, else embedded now. Returns (entries, how many windows were embedded)."""
    todo = [i for i, e in enumerate(entries) if e.metadata["content_hash"] not in known]
    vectors = {}
    if todo:
        log(f"embedding {len(todo)} windows with {embedder.name}")
        fresh = embedder.embed_documents([entries[i].text for i in todo], progress=progress)
        vectors = dict(zip(todo, fresh, strict=True))
    return [VectorEntry(e.id, e.text, e.metadata, vectors[i] if i in vectors else known[e.metadata["content_hash"]])
            for i, e in enumerate(entries)], len(todo)


def _write_embedded_vectors(target: Path, entries: list[VectorEntry], revisions: dict[str, str], usable: dict,
                            live: Path | None, embedder: Embedder, *, total: int,
                            every_entry: Callable[[], list[VectorEntry]] | None = None, progress: bool,
                            log: Callable[[str], None]) -> VectorsWritten:
    """The build's own ``chroma/``: a copy of the live build's store with only the changed record
    versions rewritten, or (no usable live store) every entry written. ``entries`` holds at least
    every entry of the revisions the live store lacks, ``every_entry`` forms all of them when it
    cannot be copied; ``total`` is how many the store must hold."""
    previous: dict[str, str] = dict(usable.get("revisions", {})) if usable.get("store") == "embedded" else {}
    store = _copied_store(live / "chroma", target, usable.get("entries")) if previous and live is not None \
        else None
    if store is None:
        previous = {}
        shutil.rmtree(target, ignore_errors=True)
        store = ChromaStore.on_disk(target)
        if every_entry is not None and len(entries) != total:
            entries = every_entry()
    current = set(revisions.values())
    gone = sorted({rev for rev in previous.values() if rev not in current})
    # Windows of a changed record that kept their text keep their vectors.
    known = {e.metadata["content_hash"]: e.embedding for e in store.entries({REVISION: {"$in": gone}})} if gone \
        else {} if previous else _previous_vectors(live, embedder.name)
    if gone:
        store.delete({REVISION: {"$in": gone}})
    kept = set(previous.values()) & current
    todo = [e for e in entries if e.metadata[REVISION] not in kept]
    todo, embedded = _embed_missing(todo, known, embedder, progress=progress, log=log)
    store.upsert(todo)
    if store.count() != total:
        raise RuntimeError(f"the vector store holds {store.count()} vectors after the update, {total} "
                           f"expected; run `recordqa index --force`")
    del store  # Chroma flushes its files when the client goes
    return VectorsWritten({"store": "embedded", "revisions": revisions, "entries": total}, embedded,
                          tuple(sorted(v for v, rev in revisions.items() if rev not in kept)),
                          tuple(sorted(set(previous) - set(revisions))))


def _copied_store(source: Path, target: Path, entries: int | None) -> ChromaStore | None:
    """A file copy of the live build's store, opened; None when it cannot be copied or opened, or
    does not hold the live build's ``entries`` vectors."""
    try:
        # copyfile, not copy2: the copy must be writable even when the live build's files are not.
        shutil.copytree(source, target, copy_function=shutil.copyfile)
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        store = ChromaStore._existing(target, COLLECTION)
        tune_search(store.collection)  # a store built before SEARCH_EF gets it with its next build
        return store if store.count() == entries else None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        return None
    except Exception:  # chroma raises its own types for a store it cannot open: everything is written again
        return None


def _collection_name(index_key: str) -> str:
    # Chroma names: 3-512 of [a-zA-Z0-9._-]; the key names the vectors' shape, the suffix this index.
    return f"recordqa-{index_key[:16]}-{uuid.uuid4().hex[:8]}"


def _write_server_vectors(url: str, entries: list[VectorEntry], revisions: dict[str, str], usable: dict,
                          embedder: Embedder, *, index_key: str, total: int, force: bool, progress: bool,
                          log: Callable[[str], None]) -> VectorsWritten:
    """Upsert the revisions the index's collection lacks; the live build's revisions are trusted to be
    there (nothing deletes a revision a kept build lists), others are counted on the server.
    ``entries`` holds every entry of the revisions not trusted; ``total`` counts all of them."""
    same = usable.get("store") == "server" and bool(usable.get("collection"))
    collection = usable["collection"] if same else _collection_name(index_key)
    previous: dict[str, str] = dict(usable.get("revisions", {})) if same else {}
    store = ChromaServerStore(url, collection, create=True, timeout_s=BUILD_TIMEOUT_S)
    trusted = set() if force else set(previous.values())
    expected: dict[str, int] = {}
    for entry in entries:
        expected[entry.metadata[REVISION]] = expected.get(entry.metadata[REVISION], 0) + 1
    unsure = sorted(rev for rev in expected if rev not in trusted)
    held = store.revision_counts(unsure)
    kept = {rev for rev in revisions.values() if rev in trusted or (rev in expected and held.get(rev) == expected[rev])}
    # The revisions carried over are in ``revisions`` but not among ``entries``: not gone.
    gone = sorted(set(previous.values()) - set(revisions.values()))
    known = {e.metadata["content_hash"]: e.embedding for e in store.entries({REVISION: {"$in": gone}})} if gone \
        else {}
    todo = [e for e in entries if e.metadata[REVISION] not in kept]
    todo, embedded = _embed_missing(todo, known, embedder, progress=progress, log=log)
    store.upsert(todo)
    return VectorsWritten({"store": "server", "url": url, "collection": collection, "revisions": revisions,
                           "entries": total},
                          embedded, tuple(sorted(v for v, rev in revisions.items() if rev not in kept)),
                          tuple(sorted(set(previous) - set(revisions))))


def _server_collections(index_dir: Path) -> set[tuple[str, str]]:
    """(url, collection) of every build on disk that keeps its vectors on a server."""
    found = set()
    for folder in (index_dir / "builds").iterdir() if (index_dir / "builds").is_dir() else []:
        try:
            vectors = Manifest.read(folder / MANIFEST).vectors
        except ManifestError:
            continue
        if vectors.get("store") == "server":
            found.add((vectors["url"], vectors["collection"]))
    return found


def _drop_unlisted_revisions(index_dir: Path, collections: set[tuple[str, str]],
                             log: Callable[[str], None]) -> None:
    """After the switch and the pruning: delete the server entries no remaining build lists (the
    revisions of removed or changed records, a killed build's leftovers), and the collections no
    remaining build uses. Best effort: what stays is deleted after a later build."""
    listed: dict[str, set[str]] = {}
    for folder in (index_dir / "builds").iterdir():
        try:
            vectors = Manifest.read(folder / MANIFEST).vectors
        except ManifestError:
            continue
        if vectors.get("store") == "server":
            listed.setdefault(vectors["collection"], set()).update(vectors.get("revisions", {}).values())
    for url, collection in sorted(collections):
        try:
            drop_server_revisions(url, collection, listed.get(collection, set()))
        except Exception as exc:  # the new build is live either way; chroma raises its own types
            log(f"obsolete vectors not yet removed from {collection}: {exc}")


class BuildLease:
    """Marks a build as read from (a shared lock on its manifest) until released or garbage
    collected: a later build does not prune it while a reader still uses it. Works on read-only folders."""

    def __init__(self, folder: Path) -> None:
        fd = os.open(folder / MANIFEST, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            os.close(fd)
            raise
        self._release = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        self._release()


@contextmanager
def _build_lock(index_dir: Path, reasons: list[str]) -> Iterator[None]:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "w")  # noqa: SIM115 - closed below, after the unlock
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            if _disk_full(exc, index_dir):
                raise BuildFailed(f"no space left on {_mount_point(index_dir)} while writing the build lock "
                                  f"({index_dir / '.lock'})") from exc
            raise
        why = "; ".join(r for r in reasons if r != "--force")
        if not why:
            raise IndexReadOnly(f"cannot build the index: its folder {index_dir} is read-only") from exc
        raise IndexReadOnly(f"index is stale ({why}) and its folder {index_dir} is read-only") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tidy(index_dir: Path) -> None:
    """Remove the debris of an interrupted build when no build runs now and the folder is writable;
    otherwise leave it for the next build (a current index needs neither to answer)."""
    try:
        handle = open(index_dir / ".lock", "a")  # noqa: SIM115 - closed right below
    except OSError:
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return
        try:
            _remove_debris(index_dir)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_debris(index_dir: Path) -> None:
    """Builds without a manifest were interrupted; nothing reads them (we hold the lock)."""
    builds = index_dir / "builds"
    if builds.exists():
        for folder in builds.iterdir():
            if not (folder / MANIFEST).exists():
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
    """Keep the new build and the one it replaced; remove the others (broken ones too) unless a
    reader still holds them (``hold_build``): those go with a later build."""
    for folder in sorted((index_dir / "builds").iterdir(), key=lambda p: p.name):
        if folder.name in keep:
            continue
        try:
            handle = open(folder / MANIFEST, "rb")  # noqa: SIM115 - closed right below
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(folder, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


_DISK_FULL_WORDS = ("no space left", "disk is full", "database or disk is full", "sqlite_full", "quota exceeded")


def _disk_full(exc: BaseException, index_dir: Path, room: int = 0) -> bool:
    """Chroma reports a full disk in its own words (an SQLite or Rust error, or only "Failed to apply
    logs"), numpy and Python as ENOSPC; when the words say nothing, a disk without ``room`` (the
    size of the live build: what a new one needs) or 64 KiB left is taken as the cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(seen).lower() for word in _DISK_FULL_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, KeyboardInterrupt):
        return False
    try:
        return shutil.disk_usage(index_dir).free < max(room, 64 * 1024)
    except OSError:
        return False


def _tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path
