"""The vector store: a small typed interface and its Chroma implementation.

Embeddings are always computed by us and passed in; Chroma's default embedding function would
download a model, so the collection is created without one and never queried by text.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

COLLECTION = "paragraphs"


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
    def entries(self) -> list[VectorEntry]: ...
    def count(self) -> int: ...


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
        return store

    def upsert(self, entries: list[VectorEntry], batch: int = 512) -> None:
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            self.collection.upsert(
                ids=[e.id for e in chunk],
                embeddings=np.stack([e.embedding for e in chunk]).tolist(),
                documents=[e.text for e in chunk],
                metadatas=[e.metadata for e in chunk],
            )

    def query(self, embedding: np.ndarray, n: int, where: dict | None = None) -> list[VectorHit]:
        total = self.count()
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

    def entries(self) -> list[VectorEntry]:
        result = self.collection.get(include=["embeddings", "metadatas", "documents"])
        return [
            VectorEntry(id_, doc or "", meta, np.asarray(emb, dtype=np.float32))
            for id_, doc, meta, emb in zip(result["ids"], result["documents"], result["metadatas"],
                                           result["embeddings"], strict=True)
        ]

    def count(self) -> int:
        return self.collection.count()
