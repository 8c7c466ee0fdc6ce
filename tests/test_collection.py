"""A collection of records: `recordqa records`, questions restricted to chosen records (CLI, /api/ask,
its stream and /v1), citations that name their record when several are loaded, and the chat's
subtitle, examples and the widget's title taken from the records' own data.

The collection is two small synthetic records written here (numbered paragraphs, zh and en), one
with a record.toml giving its symbol and an examples.json; each test meets it through the CLI or a
real `recordqa serve` (see conftest.py), lexical index, extractive answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from indexer.corpus import load_corpus
from qa.language_pack import load_packs
from ui.record_card import describe_records, example_questions, widget_title

RECORDS = {
    "ALPHA-1": {
        "en": """Alpha Council
First session
Geneva, 3-5 March 2021
Report of the Alpha Council on its first session

I. Organization of the session

1. The Alpha Council elected Ms. Ines Moreau (France) as Chair of its first session.

2. The Council adopted its agenda and agreed to meet in three plenary meetings.

II. Water supply

3. The Council discussed the supply of drinking water to rural villages and requested a report on wells.
""",
        "zh": """阿尔法理事会
第一届会议
2021 年 3 月 3 日至 5 日，日内瓦
阿尔法理事会第一届会议报告

一、会议组织

1. 阿尔法理事会选举 Ines Moreau 女士（法国）为第一届会议主席。

2. 理事会通过了议程，并同意举行三次全体会议。

二、供水

3. 理事会讨论了向农村村庄供应饮用水的问题，并要求提交一份关于水井的报告。
""",
    },
    "BETA-2": {
        "en": """Beta Committee
Second session
Vienna, 10-12 June 2022
Report of the Beta Committee on its second session

I. Organization of the session

1. The Beta Committee elected Mr. Tomas Novak (Czechia) as Chair of its second session.

2. The Committee adopted its agenda and decided to hold four meetings.

II. Forest protection

3. The Committee discussed the protection of mountain forests and requested a study on wildfires.
""",
        "zh": """贝塔委员会
第二届会议
2022 年 6 月 10 日至 12 日，维也纳
贝塔委员会第二届会议报告

一、会议组织

1. 贝塔委员会选举 Tomas Novak 先生（捷克）为第二届会议主席。

2. 委员会通过了议程，并决定举行四次会议。

二、森林保护

3. 委员会讨论了保护山区森林的问题，并要求开展一项关于野火的研究。
""",
    },
}
SYMBOL = "BETA/2022/7"
BETA_EXAMPLES = ["Who chaired the Beta Committee?", "贝塔委员会讨论了什么？"]
QUESTION = "Who was elected Chair of the session?"
LOADED = "loaded records: ALPHA-1, BETA-2"


def write_records(root: Path) -> Path:
    folder = root / "records"
    for record_id, versions in RECORDS.items():
        for lang, text in versions.items():
            (folder / record_id).mkdir(parents=True, exist_ok=True)
            (folder / record_id / f"{lang}.txt").write_text(text, encoding="utf-8")
    (folder / "BETA-2" / "record.toml").write_text(f'symbol = "{SYMBOL}"\n', encoding="utf-8")
    (folder / "BETA-2" / "examples.json").write_text(json.dumps(BETA_EXAMPLES, ensure_ascii=False),
                                                     encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def collection(tmp_path_factory, jieba_cache, cli):
    """(env, records folder): the two records indexed, lexical only."""
    root = tmp_path_factory.mktemp("collection")
    folder = write_records(root)
    env = cli.env(root, jieba_cache, records_dir=folder)
    result = cli.run(["index", "--quiet"], env)
    assert result.returncode == 0, result.stderr
    return env, folder


def ask_json(cli, env, question: str, *extra: str) -> dict:
    result = cli.run(["ask", "--json", question, *extra], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- CLI


def test_records_lists_each_record_with_its_symbol_languages_and_paragraphs(collection, cli):
    env, _ = collection
    result = cli.run(["records"], env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "symbol", "languages", "paragraphs", "numbering", "title"]
    assert lines[1].split()[:5] == ["ALPHA-1", "-", "en,zh", "3", "own"]
    assert lines[1].endswith("Report of the Alpha Council on its first session")
    assert lines[2].split()[:5] == ["BETA-2", SYMBOL, "en,zh", "3", "own"]


def test_records_json(collection, cli):
    env, folder = collection
    result = cli.run(["records", "--json"], env)

    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == ["ALPHA-1", "BETA-2"]
    assert listed[1] == {"id": "BETA-2", "symbol": SYMBOL,
                         "title": "Report of the Beta Committee on its second session",
                         "languages": ["en", "zh"], "paragraphs": 3, "numbering": "own",
                         "files": [str(folder / "BETA-2" / "en.txt"), str(folder / "BETA-2" / "zh.txt")]}


def test_records_without_an_index_fails_in_one_line(tmp_path, jieba_cache, cli):
    result = cli.run(["records"], cli.env(tmp_path, jieba_cache))

    assert result.returncode == 1
    assert result.stderr.startswith("error: no index in ") and result.stderr.count("\n") == 1


def test_a_collection_indexed_from_paths_is_what_ask_answers_from(tmp_path, jieba_cache, cli):
    # `recordqa index PATH...` indexes folders other than RECORDQA_RECORDS_DIR; readers check the
    # index against those paths and rebuild from them, never swapping in the default folder.
    elsewhere = write_records(tmp_path / "elsewhere")
    default = tmp_path / "default"
    (default / "OTHER-3").mkdir(parents=True)
    (default / "OTHER-3" / "en.txt").write_text("1. The Other Board met once.\n", encoding="utf-8")
    env = cli.env(tmp_path, jieba_cache, records_dir=default)
    built = cli.run(["index", "--quiet", str(elsewhere / "ALPHA-1"), str(elsewhere / "BETA-2")], env)
    assert built.returncode == 0, built.stderr

    answer = ask_json(cli, env, QUESTION)
    assert {c["record"] for c in answer["citations"]} <= {"ALPHA-1", "BETA-2"} and answer["citations"]
    listed = cli.run(["records", "--json"], env)
    assert [r["id"] for r in json.loads(listed.stdout)] == ["ALPHA-1", "BETA-2"]

    # A change in an indexed record is picked up by the next question, from its own folder.
    alpha = elsewhere / "ALPHA-1" / "en.txt"
    alpha.write_text(alpha.read_text(encoding="utf-8").replace("Ines Moreau", "Ines Moreau-Vidal"), encoding="utf-8")
    again = ask_json(cli, env, QUESTION, "--record", "ALPHA-1")
    assert "Moreau-Vidal" in again["answer"]
    assert "OTHER-3" not in cli.run(["records"], env).stdout

    # `recordqa index` without paths indexes RECORDQA_RECORDS_DIR, and readers follow it again.
    assert cli.run(["index", "--quiet"], env).returncode == 0
    assert [r["id"] for r in json.loads(cli.run(["records", "--json"], env).stdout)] == ["OTHER-3"]
    assert cli.run(["ask", "--json", "When did the Other Board meet?"], env).returncode == 0
    assert [r["id"] for r in json.loads(cli.run(["records", "--json"], env).stdout)] == ["OTHER-3"]


def test_an_edited_record_toml_is_indexed_again(tmp_path, jieba_cache, cli):
    # The metadata record.toml gives is part of what the index was built from, as the text is.
    folder = write_records(tmp_path)
    env = cli.env(tmp_path, jieba_cache, records_dir=folder)
    assert cli.run(["index", "--quiet"], env).returncode == 0
    (folder / "BETA-2" / "record.toml").write_text('symbol = "B/COM/2022/9"\n', encoding="utf-8")

    rebuilt = cli.run(["index"], env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "note: rebuilding: the record.toml of record BETA-2 changed since the index was built" in rebuilt.stderr
    listed = json.loads(cli.run(["records", "--json"], env).stdout)
    assert [r["symbol"] for r in listed] == [None, "B/COM/2022/9"]
    answer = ask_json(cli, env, "Who chaired the Beta Committee?")
    assert any(c["label"].startswith("B/COM/2022/9 ¶") for c in answer["citations"]), answer["citations"]
    assert "up to date" in cli.run(["index"], env).stdout


@pytest.mark.parametrize(("record", "chair"), [("ALPHA-1", "Ines Moreau"), ("BETA-2", "Tomas Novak")])
def test_ask_record_restricts_retrieval_and_citations_to_that_record(collection, cli, record, chair):
    answer = ask_json(cli, collection[0], QUESTION, "--record", record)

    assert chair in answer["answer"]
    assert answer["citations"] and {c["record"] for c in answer["citations"]} == {record}
    # Retrieval itself was restricted: nothing of the other record was even considered.
    assert answer["retrieved"] and all(key.startswith(f"{record}:") for key in answer["retrieved"])


def test_ask_without_record_searches_every_record(collection, cli):
    answer = ask_json(cli, collection[0], "What did the Committee discuss about forests and the Council about water?")

    assert {key.partition(":")[0] for key in answer["retrieved"]} == {"ALPHA-1", "BETA-2"}


def test_ask_with_both_records_is_asking_all(collection, cli):
    answer = ask_json(cli, collection[0], "Who chaired the Beta Committee?", "--record", "ALPHA-1",
                      "--record", "BETA-2")

    assert {key.partition(":")[0] for key in answer["retrieved"]} == {"ALPHA-1", "BETA-2"}


@pytest.mark.parametrize("command", [["ask", QUESTION], ["chat"]])
def test_unknown_record_is_a_usage_error_listing_the_loaded_records(collection, cli, command):
    result = cli.run([*command, "--record", "NOPE-9"], collection[0], input="")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: unknown record 'NOPE-9'; {LOADED}"
    assert "Traceback" not in result.stderr


def test_citations_name_their_record_by_symbol_when_several_are_loaded(collection, cli):
    env, _ = collection
    beta = ask_json(cli, env, QUESTION, "--record", "BETA-2")
    alpha = ask_json(cli, env, QUESTION, "--record", "ALPHA-1")

    assert beta["citations"][0]["symbol"] == SYMBOL
    assert beta["citations"][0]["label"] == f"{SYMBOL} ¶1"
    assert beta["citations"][0]["record_title"] == "Report of the Beta Committee on its second session"
    # A record without a symbol is named by its id.
    assert alpha["citations"][0]["label"] == "ALPHA-1 ¶1"
    printed = cli.run(["ask", QUESTION, "--record", "BETA-2"], env)
    assert printed.returncode == 0, printed.stderr
    assert f"[{SYMBOL} ¶1]" in printed.stdout and "[¶" not in printed.stdout


def test_chat_keeps_to_the_chosen_record(collection, cli):
    result = cli.run(["chat", "--record", "ALPHA-1"], collection[0], input=f"{QUESTION}\n\n")

    assert result.returncode == 0, result.stderr
    assert "Ines Moreau" in result.stdout and "[ALPHA-1 ¶1]" in result.stdout
    assert "Novak" not in result.stdout


def test_llm_citation_of_a_number_two_retrieved_records_share_is_not_guessed(collection, cli, fake_llm):
    env = {**collection[0], "RECORDQA_LLM_BASE_URL": fake_llm.base_url, "RECORDQA_LLM_MODEL": "fake"}
    fake_llm.reply({"answer": "Mr. Tomas Novak chaired it. [¶1]", "citations": ["1"]},
                   {"answer": "Mr. Tomas Novak chaired it. [¶BETA-2:1]", "citations": ["BETA-2:1"]})

    bare = ask_json(cli, env, QUESTION)
    qualified = ask_json(cli, env, QUESTION)

    # Both records' ¶1 were retrieved: a bare [¶1] could be either, so it is no citation.
    assert {"ALPHA-1:1", "BETA-2:1"} <= set(bare["retrieved"])
    assert bare["citations"] == [] and bare["abstained"]
    assert [(c["record"], c["paragraph"]) for c in qualified["citations"]] == [("BETA-2", "1")]
    assert qualified["answer"] == "Mr. Tomas Novak chaired it. [¶BETA-2:1]"


def test_with_one_record_citations_stay_bare(built_index, cli, jieba_cache, tmp_path):
    env = cli.env(tmp_path, jieba_cache, index_dir=built_index.index_dir)
    answer = ask_json(cli, env, "Who was elected President of the Assembly?")

    assert answer["citations"][0]["label"] == f"¶{answer['citations'][0]['paragraph']}"
    assert all(":" not in key for key in answer["retrieved"])
    printed = cli.run(["ask", "Who was elected President of the Assembly?"], env)
    assert "[¶3]" in printed.stdout and "HSP-HA-1" not in printed.stdout


# --------------------------------------------------------------------------- what the chat says


def test_subtitle_examples_and_widget_title_come_from_the_records(collection):
    corpus = load_corpus([collection[1]])
    packs = load_packs()

    subtitle = describe_records(corpus, "en", packs)
    assert "Alpha Council" in subtitle and "Geneva" in subtitle and "Beta Committee" in subtitle
    assert describe_records(corpus, "en", packs, ("BETA-2",)).count("Beta") == 1
    examples = example_questions(corpus, packs)
    # BETA-2 keeps its own examples beside it; ALPHA-1 gets questions made from its metadata.
    assert examples[-2:] == BETA_EXAMPLES
    assert any("Alpha Council" in q for q in examples[:-2])
    assert example_questions(corpus, packs, records=("BETA-2",)) == BETA_EXAMPLES
    assert widget_title(corpus, "en") == "Ask 2 records"
    assert widget_title(corpus, "zh", ("ALPHA-1",)) == "阿尔法理事会第一届会议"


def test_a_record_without_body_or_session_gets_questions_about_its_headings(tmp_path):
    folder = tmp_path / "R-1"
    folder.mkdir()
    (folder / "en.txt").write_text("I. Water and sanitation\n\n1. Access to water improved.\n\n"
                                   "2. Sanitation lagged behind.\n", encoding="utf-8")
    corpus = load_corpus([folder])

    assert example_questions(corpus, load_packs(), languages=("en",)) == [
        "What does the record say about Water and sanitation?"]


# --------------------------------------------------------------------------- the web API


@pytest.fixture(scope="module")
def served(start_server, collection):
    env, folder = collection
    server = start_server(index_dir=env["RECORDQA_INDEX_DIR"], records_dir=folder)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield server, client


def test_api_ask_record_field_restricts_citations(served):
    _, http = served
    for record in ("ALPHA-1", ["BETA-2"]):
        answer = http.post("/api/ask", json={"question": QUESTION, "record": record}).json()
        wanted = record if isinstance(record, str) else record[0]
        assert answer["citations"] and {c["record"] for c in answer["citations"]} == {wanted}
        assert all(key.startswith(f"{wanted}:") for key in answer["retrieved"])
    beta = http.post("/api/ask", json={"question": QUESTION, "record": "BETA-2"}).json()
    assert beta["citations"][0] | {"quote": ""} == {
        "paragraph": "1", "record": "BETA-2", "quote": "", "symbol": SYMBOL,
        "record_title": "Report of the Beta Committee on its second session", "label": f"{SYMBOL} ¶1"}


def test_api_unknown_record_is_a_422_listing_the_loaded_records(served):
    _, http = served
    for path in ("/api/ask", "/api/ask/stream"):
        response = http.post(path, json={"question": QUESTION, "record": ["BETA-2", "NOPE-9"]})
        assert response.status_code == 422
        assert response.json()["error"] == {"message": f"unknown record 'NOPE-9'; {LOADED}",
                                            "type": "invalid_request_error", "code": "unknown_record"}


def test_api_stream_with_record(served):
    _, http = served
    response = http.post("/api/ask/stream", json={"question": QUESTION, "record": "ALPHA-1"})
    assert response.status_code == 200
    final = [line for line in response.text.splitlines() if line.startswith("data: ")][-1]
    answer = json.loads(final[6:])
    assert {c["record"] for c in answer["citations"]} == {"ALPHA-1"}


def test_openai_record_extra_field(served):
    server, _ = served
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    reply = client.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION}],
                                           extra_body={"record": "BETA-2"})
    assert "Novak" in reply.choices[0].message.content
    assert {c["record"] for c in reply.model_extra["citations"]} == {"BETA-2"}
    with pytest.raises(openai.UnprocessableEntityError, match="unknown record 'NOPE-9'"):
        client.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION}],
                                       extra_body={"record": "NOPE-9"})
    client.close()


def test_api_records_and_the_paragraph_viewer_name_the_record(served):
    _, http = served
    listed = http.get("/api/records").json()
    assert [r["id"] for r in listed["records"]] == ["ALPHA-1", "BETA-2"]
    assert "files" not in listed["records"][0]  # no server paths
    assert listed["title"] == {"zh": "查询 2 份记录", "en": "Ask 2 records"}
    paragraph = http.get("/api/paragraphs/BETA-2:1").json()
    assert paragraph["symbol"] == SYMBOL
    assert paragraph["record_titles"] == {"en": "Report of the Beta Committee on its second session",
                                          "zh": "贝塔委员会第二届会议报告"}


def test_embed_script_passes_data_record_to_the_widget(served):
    _, http = served
    script = http.get("/embed.js").text
    assert "script.dataset.record" in script and "&record=" in script


def test_unknown_record_message_stays_one_short_line_for_large_collections_and_requests():
    from indexer.catalogue import UnknownRecord, choose_records

    loaded = [f"REC-{i}" for i in range(500)]
    with pytest.raises(UnknownRecord) as refused:
        choose_records([f"NOPE-{i}" * 20 for i in range(1000)], loaded)

    message = str(refused.value)
    assert "\n" not in message and len(message) < 700
    assert "(and 997 more)" in message and message.endswith("REC-19 and 480 more (`recordqa records`)")
    assert choose_records(["REC-1", "REC-1"], loaded) == ("REC-1",)
    assert choose_records(None, loaded) == () == choose_records([], loaded)
