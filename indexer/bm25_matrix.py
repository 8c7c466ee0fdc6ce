"""The BM25 score matrix built with whole-array numpy operations instead of bm25s's loop over
documents (a Counter per document, a set intersection per document): the same matrix, built
several times faster, which is most of the time a build spends on the lexical index of a large
collection (13 s of the 76 s it took to add one record to 100,000 paragraphs).

bm25s invites this (``BM25.build_index_from_tokens`` "can be overridden to build the index in a
different way"); searching, saving and loading stay bm25s's own. Only the scoring bm25s uses by
default, Lucene's (``method="lucene"``, IDF ``log(1 + (N - df + 0.5) / (df + 0.5))``), is built
here; tests/test_bm25_matrix.py checks that every score equals bm25s's.
"""

from __future__ import annotations

from itertools import chain

import bm25s
import numpy as np


class VectorisedBM25(bm25s.BM25):
    """A ``bm25s.BM25`` whose index is built by ``score_matrix``. The vocabulary is numbered in order
    of first appearance (bm25s numbers a set's order, which changes from run to run)."""

    def __init__(self, *, k1: float, b: float) -> None:
        super().__init__(k1=k1, b=b, method="lucene", idf_method="lucene")

    def build_index_from_tokens(self, corpus_tokens, show_progress=True, leave_progress=False):
        vocab, scores = score_matrix(corpus_tokens, k1=self.k1, b=self.b, dtype=self.dtype,
                                     int_dtype=self.int_dtype)
        self.nonoccurrence_array = None  # Lucene scoring has none (bm25s sets it while building)
        return scores, vocab


def score_matrix(docs: list[list[str]], *, k1: float, b: float, dtype: str = "float32",
                 int_dtype: str = "int32") -> tuple[dict[str, int], dict]:
    """(token -> column, bm25s's ``scores`` dict): a documents x vocabulary CSC matrix holding each
    (document, token) pair's Lucene BM25 score. Pure."""
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    flat = list(chain.from_iterable(docs))
    vocab = {token: i for i, token in enumerate(dict.fromkeys(flat))}
    n_docs, n_vocab = len(docs), len(vocab)
    if not flat:
        empty = np.zeros(0, dtype=dtype)
        return vocab, {"data": empty, "indices": np.zeros(0, dtype=int_dtype),
                       "indptr": np.zeros(n_vocab + 1, dtype=int_dtype), "num_docs": n_docs}
    token_ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    doc_ids = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    # One entry per (document, token) pair with its count; unique sorts by document, then token.
    pairs, tf = np.unique(doc_ids * n_vocab + token_ids, return_counts=True)
    rows, cols = pairs // n_vocab, pairs % n_vocab
    df = np.bincount(cols, minlength=n_vocab)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    length_norm = k1 * ((1 - b) + b * lengths / lengths.mean())
    scores = idf[cols] * (tf / (length_norm[rows] + tf))
    # Column-major (CSC): by token, documents ascending within each (a stable sort keeps that order).
    order = np.argsort(cols, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(df)])
    index_dtype = int_dtype if indptr[-1] < np.iinfo(int_dtype).max else "int64"
    return vocab, {"data": scores[order].astype(dtype), "indices": rows[order].astype(int_dtype),
                   "indptr": indptr.astype(index_dtype), "num_docs": n_docs}
