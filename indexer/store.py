"""The vector store: a small typed interface and its two Chroma implementations.

Embeddings are always computed by us and passed in; Chroma's default embedding function would
download a model, so the collection is created without one and never queried by text.

``ChromaStore`` is the embedded store: one persistent folder per build (``chroma/``).
``ChromaServerStore`` keeps the vectors on a `chroma run` server (``RECORDQA_CHROMA_URL``), laid
out so that builds stay atomic and every replica keeps answering during a rebuild:

* one collection per index (its name carries the index key, so a change of model or windows
  starts a new one, and a random suffix kept from build to build, so two indexes on one server
  never touch each other's vectors);
* every entry is tagged with its *revision*: a hash of its record version's entries (record id,
  language, window texts, model). Unchanged records keep their revision from build to build, so
  a build upserts only the revisions the collection does not hold yet;
* a build's manifest lists its revisions, and its queries are filtered to them (``rev $in``):
  revisions a build in progress adds are invisible to replicas answering from the live build;
* revisions no kept build lists are deleted after the switch (and after pruning), so the
  collection holds the live build's vectors plus those a reader may still be using.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import numpy as np

COLLECTION = "paragraphs"
REVISION = "rev"
"""Metadata field naming the record version an entry belongs to (see the module docstring)."""
SERVER_TIMEOUT_S = 5.0
"""A request to the Chroma server that takes longer fails: a hung server must not stall answers."""
SERVER_CONNECT_TIMEOUT_S = 2.0
BUILD_TIMEOUT_S = 120.0
SEARCH_EF = 400
"""HNSW ef_search of every collection a build writes (Chroma's default is 100). At 100, a query
for the 60 nearest of the 1,502 windows of the shared records found 57-59 of the exact 60, and
which ones changed from one process to the next (entries not yet compacted into the saved graph
are inserted again, by several threads, whenever the store is opened), so one question's
retrieval could differ between two runs; at 300 and above every run found the exact 60."""


def tune_search(collection) -> None:
    """Set ``SEARCH_EF`` on a collection being written (ef_search can be changed after creation)."""
    hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
    if hnsw.get("ef_search") != SEARCH_EF:
        collection.modify(configuration={"hnsw": {"ef_search": SEARCH_EF}})
"""A build waits longer: a server busy compacting a large collection may take seconds per batch."""
OVERFETCH = 10
"""Extra neighbours asked for beyond twice ``n``, so a few entries of another build cost no second query."""
RECONNECT_AFTER_S = 2.0
"""After a failure, how long requests fail at once before the server is tried again."""

_T = TypeVar("_T")


class VectorStoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached (down, refusing, or too slow); the message is one line."""


@dataclass(frozen=True)
class VectorEntry:
    id: str
    """'<record>:<paragraph>:<lang>:<window>'"""
    text: str
    metadata: dict
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float
    metadata: dict


class VectorStore(Protocol):
    def upsert(self, entries: list[VectorEntry]) -> None: ...
    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[VectorHit]: ...
    def entries(self, where: dict | None = None) -> list[VectorEntry]: ...
    def delete(self, where: dict) -> None: ...
    def count(self) -> int: ...
    def problem(self) -> str | None: ...


def where_all(**conditions) -> dict | None:
    """A Chroma filter from keyword conditions; several keys need an explicit $and."""
    clauses = [{key: value} for key, value in conditions.items() if value is not None]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaStore:
    """A Chroma collection on disk (PersistentClient) or behind a `chroma run` server (HttpClient)."""

    def __init__(self, client, collection: str = COLLECTION) -> None:
        self.client = client
        self.collection = client.get_or_create_collection(
            collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        tune_search(self.collection)
        self._count: int | None = None

    @classmethod
    def on_disk(cls, path: Path, collection: str = COLLECTION) -> ChromaStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        return cls(client, collection)

    @classmethod
    def for_reading(cls, path: Path, collection: str = COLLECTION) -> ChromaStore:
        """The store of a finished build. Chroma writes to its files whenever it opens them, so a
        store on a read-only folder is opened from a private copy, removed with the store."""
        if not path.is_dir() or not any(path.iterdir()):
            raise FileNotFoundError(f"{path} is missing or empty")
        if os.access(path, os.W_OK) and os.access(path / "chroma.sqlite3", os.W_OK):
            return cls._existing(path, collection)
        copy = Path(tempfile.mkdtemp(prefix="recordqa-chroma-"))
        try:
            shutil.copytree(path, copy, dirs_exist_ok=True)
            store = cls._existing(copy, collection)
        except BaseException:
            shutil.rmtree(copy, ignore_errors=True)
            raise
        weakref.finalize(store, shutil.rmtree, copy, True)
        return store

    @classmethod
    def _existing(cls, path: Path, collection: str) -> ChromaStore:
        """Open without creating: get_or_create_collection would answer an emptied store with an
        empty collection, and dense search would silently find nothing."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        store = cls.__new__(cls)
        store.client = client
        store.collection = client.get_collection(collection, embedding_function=None)
        store._count = None
        return store

    def upsert(self, entries: list[VectorEntry], batch: int = 512) -> None:
        self._count = None
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            self.collection.upsert(
                ids=[e.id for e in chunk],
                embeddings=np.stack([e.embedding for e in chunk]).tolist(),
                documents=[e.text for e in chunk],
                metadatas=[e.metadata for e in chunk],
            )

    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[VectorHit]:
        # The count is remembered between writes: Chroma counts 200,000 vectors in about 60 ms,
        # a quarter of a question's time on a 100,000-paragraph collection.
        if self._count is None:
            self._count = self.collection.count()
        total = self._count
        if total == 0:
            return []
        result = self.collection.query(
            query_embeddings=[np.asarray(embedding).tolist()],
            n_results=min(n, total),
            where=where,
            include=["distances", "metadatas"],
        )
        return [
            VectorHit(id_, float(dist), meta)
            for id_, dist, meta in zip(result["ids"][0], result["distances"][0], result["metadatas"][0],
                                       strict=True)
        ]

    def entries(self, where: dict | None = None) -> list[VectorEntry]:
        return _entries(self.collection.get(where=where, include=["embeddings", "metadatas", "documents"]))

    def delete(self, where: dict) -> None:
        self._count = None
        self.collection.delete(where=where)

    def count(self) -> int:
        """Counted now (a health check must see a store that lost its vectors)."""
        self._count = self.collection.count()
        return self._count

    def problem(self) -> str | None:
        try:
            self.collection.count()
        except Exception as exc:  # chroma raises its own error types
            return f"the vector store fails: {exc}"
        return None


def _entries(result: dict) -> list[VectorEntry]:
    return [
        VectorEntry(id_, doc or "", meta, np.asarray(emb, dtype=np.float32))
        for id_, doc, meta, emb in zip(result["ids"], result["documents"], result["metadatas"],
                                       result["embeddings"], strict=True)
    ]


def _and(*clauses: dict | None) -> dict | None:
    kept = [c for c in clauses if c]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"$and": kept}


UNREACHABLE = "semantic search unavailable: "
"""How every message about an unusable Chroma server starts."""


def server_unreachable(url: str, why: str = "") -> str:
    """The one line a user sees when the Chroma server does not answer."""
    return f"{UNREACHABLE}Chroma server at {url} not reachable" + (f" ({why})" if why else "")


class ChromaServerStore:
    """One index's collection on a `chroma run` server, seen through a build's revisions.

    Connects lazily and again after a failure, so a server that was down when the app started, or
    restarted since, is used again without restarting the app. Every request has a short timeout;
    a server that is down or hung raises VectorStoreUnavailable (one line naming the URL)."""

    def __init__(self, url: str, collection: str, *, revisions: list[str] | None = None, create: bool = False,
                 timeout_s: float = SERVER_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.name = collection
        self.revisions = sorted(set(revisions)) if revisions is not None else None
        """Queries see only entries of these revisions; None: every entry (a build writing)."""
        self.create = create
        self.timeout_s = timeout_s
        self._collection = None
        self._api = None
        self._revision_set: frozenset[str] | None = None
        self._failed_at: float | None = None
        self._failure = ""
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connection

    def _connect(self):
        import chromadb
        import httpx
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VectorStoreUnavailable(f"RECORDQA_CHROMA_URL must be an http(s) URL such as "
                                         f"http://127.0.0.1:8001, not {self.url!r}")
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, SERVER_CONNECT_TIMEOUT_S))
        # The client's own HTTP session has no timeout, and creating the client already sends a
        # request: a quick heartbeat first keeps a hung server from stalling here.
        httpx.get(f"{self.url}/api/v2/heartbeat", timeout=timeout).raise_for_status()
        client = chromadb.HttpClient(host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 80),
                                     ssl=parts.scheme == "https",
                                     settings=ChromaSettings(anonymized_telemetry=False))
        client._server._session.timeout = timeout  # chromadb exposes no setting for it
        self._api = client
        if self.create:
            collection = client.get_or_create_collection(self.name, embedding_function=None,
                                                         metadata={"hnsw:space": "cosine"})
            tune_search(collection)
            return collection
        return client.get_collection(self.name, embedding_function=None)

    def _call(self, action: Callable[[object], _T]) -> _T:
        """Run ``action(collection)``; a transport failure becomes VectorStoreUnavailable, and the
        next call after RECONNECT_AFTER_S connects again."""
        import httpx
        from chromadb.errors import ChromaError

        collection = self._collection
        if collection is None:
            with self._lock:
                if self._failed_at is not None and time.monotonic() - self._failed_at < RECONNECT_AFTER_S:
                    raise VectorStoreUnavailable(server_unreachable(self.url, self._failure))
                try:
                    self._collection = collection = self._connect()
                    self._failed_at = None
                except (httpx.HTTPError, OSError, ValueError, ChromaError) as exc:
                    if _missing_collection(exc):
                        raise VectorStoreUnavailable(
                            f"{UNREACHABLE}the Chroma server at {self.url} has no collection "
                            f"{self.name}; run `recordqa index --force`") from exc
                    self._fail(exc)
                    raise VectorStoreUnavailable(server_unreachable(self.url, self._failure)) from exc
        try:
            return action(collection)
        except (httpx.TransportError, httpx.HTTPStatusError, ChromaError) as exc:
            # ChromaError: the server answered with an error (its internal failure, a collection
            # deleted under us); dense search is as unavailable as when it does not answer.
            with self._lock:
                self._collection = None
                self._fail(exc)
            raise VectorStoreUnavailable(server_unreachable(self.url, self._failure)) from exc

    def _fail(self, exc: BaseException) -> None:
        self._failed_at = time.monotonic()
        self._failure = _why(exc)

    # ------------------------------------------------------------------ the store

    def _live(self, where: dict | None) -> dict | None:
        scope = {REVISION: {"$in": self.revisions}} if self.revisions is not None else None
        return _and(scope, where)

    def upsert(self, entries: list[VectorEntry], batch: int = 256) -> None:
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            self._call(lambda c, chunk=chunk: c.upsert(
                ids=[e.id for e in chunk],
                embeddings=np.stack([e.embedding for e in chunk]).astype(np.float32),
                documents=[e.text for e in chunk],
                metadatas=[e.metadata for e in chunk],
            ))

    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[VectorHit]:
        """The ``n`` nearest entries of this build's revisions.

        Chroma's metadata filter is slow on a large collection (``rev $in`` over 500 revisions took
        a 50,000-entry query from 19 ms to 1.3 s here), and outside a rebuild nearly every entry is
        the live build's. So the server is asked for twice as many unfiltered neighbours and the
        other builds' entries are dropped here; only when fewer than ``n`` remain (a rebuild wrote
        many entries) does the server filter by revision."""
        if self.revisions == []:
            return []
        vector = np.asarray(embedding, dtype=np.float32).tolist()
        fetch = 2 * n + OVERFETCH
        if self.revisions is not None:
            result = self._call(lambda c: c.query(query_embeddings=[vector], n_results=fetch, where=where,
                                                  include=["distances", "metadatas"]))
            hits = [hit for hit in _hits(result) if hit.metadata.get(REVISION) in self._live_set]
            if len(hits) >= n or len(result["ids"][0]) < fetch:
                return hits[:n]
        return _hits(self._call(lambda c: c.query(query_embeddings=[vector], n_results=n, where=self._live(where),
                                                  include=["distances", "metadatas"])))

    @property
    def _live_set(self) -> frozenset[str]:
        if self._revision_set is None:
            self._revision_set = frozenset(self.revisions or ())
        return self._revision_set

    def entries(self, where: dict | None = None) -> list[VectorEntry]:
        return _entries(self._call(lambda c: c.get(where=self._live(where),
                                                   include=["embeddings", "metadatas", "documents"])))

    def revision_counts(self, revisions: list[str]) -> dict[str, int]:
        """How many entries the collection holds for each of ``revisions`` (ids only are fetched)."""
        if not revisions:
            return {}
        result = self._call(lambda c: c.get(where={REVISION: {"$in": sorted(set(revisions))}},
                                            include=["metadatas"]))
        counts = dict.fromkeys(revisions, 0)
        for meta in result["metadatas"]:
            counts[meta[REVISION]] = counts.get(meta[REVISION], 0) + 1
        return counts

    def delete(self, where: dict) -> None:
        self._call(lambda c: c.delete(where=where))

    def count(self) -> int:
        """Entries this build sees (all entries when it is not limited to revisions)."""
        if self.revisions is None:
            return self._call(lambda c: c.count())
        if not self.revisions:
            return 0
        # Ids only: at 100,000 paragraphs the metadata would be megabytes more.
        return len(self._call(lambda c: c.get(where=self._live(None), include=[]))["ids"])

    def problem(self) -> str | None:
        """Why dense search cannot use the server now, or None; one heartbeat, cheap."""
        try:
            self._call(lambda _: self._api.heartbeat())
        except VectorStoreUnavailable as exc:
            return str(exc)
        return None


def _hits(result: dict) -> list[VectorHit]:
    return [VectorHit(id_, float(dist), meta)
            for id_, dist, meta in zip(result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True)]


def _why(exc: BaseException) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__


def _missing_collection(exc: BaseException) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or "does not exist" in str(exc).lower()


def drop_server_revisions(url: str, collection: str, keep: set[str], *, timeout_s: float = BUILD_TIMEOUT_S
                          ) -> None:
    """Delete the collection's entries whose revision is not in ``keep`` (the whole collection when
    ``keep`` is empty). Raises VectorStoreUnavailable."""
    store = ChromaServerStore(url, collection, timeout_s=timeout_s)
    try:
        if keep:
            store.delete({REVISION: {"$nin": sorted(keep)}})
        else:
            store._call(lambda _: store._api.delete_collection(collection))
    except VectorStoreUnavailable as exc:
        if not _missing_collection(exc.__cause__ or exc):
            raise
