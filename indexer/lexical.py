"""The lexical index: one bm25s index per language over paragraph keys, plus the per-paragraph
token sets and IDF table that evidence scoring needs. Saved as a folder that describes itself."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from indexer.bm25_matrix import VectorisedBM25


@dataclass
class LexicalIndex:
    lang: str
    keys: list[str]
    doc_tokens: list[list[str]]
    bm25: bm25s.BM25

    @classmethod
    def build(cls, lang: str, keys: list[str], doc_tokens: list[list[str]], *, k1: float, b: float) -> LexicalIndex:
        bm25 = VectorisedBM25(k1=k1, b=b)
        # An empty document (a paragraph that is only a placeholder) still needs one token slot.
        bm25.index([tokens or [""] for tokens in doc_tokens], show_progress=False)
        return cls(lang, keys, doc_tokens, bm25)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(folder / "bm25"), show_progress=False)
        payload = {"lang": self.lang, "keys": self.keys, "doc_tokens": self.doc_tokens}
        (folder / "docs.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        payload = json.loads((folder / "docs.json").read_text(encoding="utf-8"))
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        return cls(payload["lang"], payload["keys"], payload["doc_tokens"], bm25)

    def search(self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (key, BM25 score) with a positive score; with ``allowed`` (one bool per key, see
        ``record_mask``) only among those keys, so a question asked of some records finds its k there."""
        known = [t for t in query_tokens if t in self.bm25.vocab_dict]
        if not known:
            return []
        scores = np.asarray(self.bm25.get_scores(known))
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        return [(self.keys[i], float(scores[i])) for i in top_k(scores, k) if scores[i] > 0]

    def record_mask(self, records: tuple[str, ...]) -> np.ndarray:
        """One bool per key: whether its record (the key's part before ':') is among ``records``."""
        wanted = set(records)
        return np.fromiter((key.partition(":")[0] in wanted for key in self.keys), dtype=bool, count=len(self.keys))

    @property
    def idf(self) -> dict[str, float]:
        return idf_table(self.doc_tokens)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, highest first, ties in index order: what a stable sort
    of every score gives, without sorting 100,000 of them for ten."""
    if k <= 0 or len(scores) == 0:
        return np.empty(0, dtype=np.intp)
    if k < len(scores):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(len(scores))
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


def idf_table(doc_tokens: list[list[str]]) -> dict[str, float]:
    """Smoothed IDF per token; a token found nowhere gets the highest weight a rare token can have."""
    n = len(doc_tokens)
    df = Counter(token for tokens in doc_tokens for token in set(tokens))
    return {token: math.log(1 + (n - d + 0.5) / (d + 0.5)) for token, d in df.items()}


def unseen_idf(n_docs: int) -> float:
    return math.log(1 + (n_docs + 0.5) / 0.5)
