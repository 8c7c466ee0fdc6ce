"""The vectorised BM25 matrix against bm25s's own build: every token's score for every document
equal, and the index searched, saved and loaded by bm25s as before."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from indexer.bm25_matrix import VectorisedBM25, score_matrix
from indexer.lexical import LexicalIndex


def corpus(seed: int, docs: int = 300) -> list[list[str]]:
    rng = random.Random(seed)
    # A Zipf-like vocabulary: a few tokens in most documents, many in one or two; CJK and Latin.
    vocab = [f"w{i}" for i in range(400)] + ["发展", "住房", "城市", "大会", "member", "states", "habitat"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    return [rng.choices(vocab, weights, k=rng.randint(1, 60)) for _ in range(docs)]


def dense(vocab: dict[str, int], scores: dict, n_docs: int) -> dict[str, np.ndarray]:
    """Token -> its score in each document, from a CSC ``scores`` dict."""
    out = {}
    for token, column in vocab.items():
        start, end = scores["indptr"][column], scores["indptr"][column + 1]
        row = np.zeros(n_docs)
        row[scores["indices"][start:end]] = scores["data"][start:end]
        out[token] = row
    return out


@pytest.mark.parametrize(("seed", "k1", "b"), [(1, 1.2, 0.75), (2, 1.5, 0.3), (3, 0.9, 1.0)])
def test_every_score_equals_bm25s(seed, k1, b):
    docs = corpus(seed)
    reference = bm25s.BM25(k1=k1, b=b)
    ref_scores, ref_vocab = reference.build_index_from_tokens(docs, show_progress=False)
    vocab, scores = score_matrix(docs, k1=k1, b=b)
    assert set(vocab) == set(ref_vocab)
    ours, theirs = dense(vocab, scores, len(docs)), dense(ref_vocab, ref_scores, len(docs))
    for token in vocab:
        np.testing.assert_allclose(ours[token], theirs[token], rtol=2e-6, atol=1e-7, err_msg=token)
    assert scores["data"].dtype == np.float32 and scores["num_docs"] == len(docs)
    assert len(scores["data"]) == len(ref_scores["data"])


def test_searches_as_bm25s_does_after_a_save_and_load(tmp_path):
    docs = corpus(7)
    keys = [f"R:{i}" for i in range(len(docs))]
    built = LexicalIndex.build("en", keys, docs, k1=1.2, b=0.75)
    assert isinstance(built.bm25, VectorisedBM25)
    built.save(tmp_path / "en")
    loaded = LexicalIndex.load(tmp_path / "en")
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(docs, show_progress=False)
    for query in (["w3"], ["w10", "发展"], ["habitat", "w1", "w1"], ["w399", "states"]):
        expected = reference.get_scores(query)
        np.testing.assert_allclose(loaded.bm25.get_scores(query), expected, rtol=2e-6, atol=1e-7)
        hits = loaded.search(query, 5)
        assert [key for key, _ in hits] == [keys[i] for i in np.argsort(-expected, kind="stable")[:len(hits)]]


def test_an_empty_document_and_an_empty_collection():
    vocab, scores = score_matrix([[""], ["a", "a", "b"]], k1=1.2, b=0.75)
    assert vocab == {"": 0, "a": 1, "b": 2}
    assert list(scores["indptr"]) == [0, 1, 2, 3]
    vocab, scores = score_matrix([], k1=1.2, b=0.75)
    assert vocab == {} and scores["num_docs"] == 0 and len(scores["data"]) == 0
