"""The web API over real HTTP, the way a script, a browser or an OpenAI client meets it.

Two servers (each a `recordqa serve` subprocess on 127.0.0.1, see conftest.py): the shared one
(default origins, no keys, rate limit effectively off) and, in this module, a "strict" one with
API keys, a budget of 3 questions a minute and one allowed embedding origin. Both read the
session's lexical index of the shipped record, so answers are extractive and deterministic.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

QUESTION_ZH = "人居大会第一届会议选举谁为主席？"
QUESTION_EN = "Who was elected President of the Assembly?"
QUOTE_3_ZH = ("在第 1 次全体会议上，人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）"
              "为人居大会第一届会议主席。")
QUOTE_3_EN = ("At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta (Mexico) by acclamation "
              "as President of the Assembly at its first session.")
CITATION = re.compile(r"\[¶(\d+)\]")
# The JSON of `recordqa ask --json` (README): these fields and no others.
ANSWER_FIELDS = {"question", "answer", "abstained", "reason", "outcome", "confidence", "citations", "retrieved", "mode",
                 "lang", "standalone_question", "notices", "timings_ms", "settings_hash"}
ENDPOINTS = {
    "/api/ask": {"post"},
    "/api/ask/stream": {"post"},
    "/api/feedback": {"post"},
    "/api/paragraphs/{paragraph_id}": {"get"},
    "/api/records": {"get"},
    "/healthz": {"get"},
    "/v1/chat/completions": {"post"},
    "/v1/models": {"get"},
}
ALLOWED_ORIGIN = "http://127.0.0.1:9"
STRICT_KEYS = ["k-test", "k-other", "k-header", "k-stream", "k-openai", "k-cors", "k-refused"]
DEFAULT_CSP = "frame-ancestors 'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:*"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def oai(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="module")
def strict(start_server):
    """Keys required, 3 questions a minute per client, only http://127.0.0.1:9 may embed or call.
    It builds its own index at start, as a fresh installation does."""
    return start_server(rate_limit_per_minute=3, api_keys=json.dumps(STRICT_KEYS),
                        embed_origins=json.dumps([ALLOWED_ORIGIN]))


@pytest.fixture(scope="module")
def shttp(strict):
    with httpx.Client(base_url=strict.url, timeout=60) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(client: httpx.Client, question, **fields) -> dict:
    response = client.post("/api/ask", json={"question": question, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def shown(citations: list[dict]) -> list[dict]:
    """What a citation shows with one record loaded (its record's symbol and title ride along)."""
    return [{k: c[k] for k in ("paragraph", "record", "quote", "label")} for c in citations]


def cited(answer: dict) -> list[str]:
    return CITATION.findall(answer["answer"])


def assert_cited_and_retrieved(answer: dict) -> None:
    """Non-abstained answer whose every [¶N] is a citation, and every citation a retrieved paragraph."""
    assert not answer["abstained"] and answer["reason"] is None, answer
    numbers = cited(answer)
    assert numbers, answer["answer"]
    assert [c["paragraph"] for c in answer["citations"]] == list(dict.fromkeys(numbers))
    assert set(numbers) <= set(answer["retrieved"])


def assert_error(response: httpx.Response, status: int, code: str, message_part: str = "") -> dict:
    """A JSON error of the one shape, with a message for a person and no server internals."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert message_part in error["message"], error
    assert "Traceback" not in response.text and 'File "' not in response.text
    return error


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings_ms"}


# --------------------------------------------------------------------------- /api/ask


def test_chinese_question_gets_the_cited_chinese_answer(http):
    answer = ask(http, QUESTION_ZH)

    assert_cited_and_retrieved(answer)
    assert answer["lang"] == "zh" and answer["mode"] == "extractive"
    assert answer["answer"] == f"{QUOTE_3_ZH} [¶3]"
    assert shown(answer["citations"]) == [{"paragraph": "3", "record": "HSP-HA-1", "quote": QUOTE_3_ZH, "label": "¶3"}]
    assert answer["retrieved"][0] == "3"


def test_english_question_gets_the_cited_english_answer(http):
    answer = ask(http, QUESTION_EN)

    assert_cited_and_retrieved(answer)
    assert answer["lang"] == "en"
    assert answer["answer"] == f"{QUOTE_3_EN} [¶3]"
    assert shown(answer["citations"]) == [{"paragraph": "3", "record": "HSP-HA-1", "quote": QUOTE_3_EN, "label": "¶3"}]


@pytest.mark.parametrize("question", [
    "人居大会第一届会议在哪里召开？",
    "Who was UN-Habitat's Executive Director when the Assembly held its first session?",
    "Which countries of the Western European and other States were elected to the Executive Board?",
])
def test_every_quote_is_a_sentence_of_the_cited_paragraph_in_the_answer_language(http, question):
    answer = ask(http, question)

    assert_cited_and_retrieved(answer)
    for citation in answer["citations"]:
        paragraph = http.get(f"/api/paragraphs/{citation['record']}:{citation['paragraph']}").json()
        sentences = [s["text"] for s in paragraph["sentences"][answer["lang"]]]
        assert citation["quote"] in sentences, (citation, sentences)


def test_ask_json_is_exactly_the_json_of_recordqa_ask(http, cli, built_index, jieba_cache, tmp_path):
    env = cli.env(tmp_path, jieba_cache, index_dir=built_index.index_dir,
                  embedding_model=built_index.embedding_model, rate_limit_per_minute=10_000)
    result = cli.run(["ask", "--json", QUESTION_EN], env)
    assert result.returncode == 0, result.stderr
    from_cli = json.loads(result.stdout)

    from_api = ask(http, QUESTION_EN)

    assert set(from_api) == ANSWER_FIELDS
    assert set(from_api["timings_ms"]) >= {"retrieval", "answer", "total"}
    assert without_timings(from_api) == without_timings(from_cli)


def test_follow_up_in_english_is_searched_with_the_earlier_question(http):
    first = ask(http, QUESTION_EN)
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["answer"]}]

    alone = ask(http, "At which meeting?")
    follow_up = ask(http, "At which meeting?", history=history)

    assert alone["standalone_question"] is None
    assert alone["retrieved"][0] != "3" and "1st plenary meeting" not in alone["answer"]
    assert follow_up["standalone_question"] == f"{QUESTION_EN} At which meeting?"
    assert_cited_and_retrieved(follow_up)
    assert follow_up["citations"][0]["paragraph"] == "3"
    assert "1st plenary meeting" in follow_up["answer"]


def test_follow_up_about_the_vice_presidents(http):
    first = ask(http, QUESTION_EN)
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["answer"]}]

    answer = ask(http, "And the Vice-Presidents?", history=history)

    assert answer["standalone_question"] == f"{QUESTION_EN} And the Vice-Presidents?"
    assert_cited_and_retrieved(answer)
    assert "Vice-Presidents" in answer["answer"]
    assert {c["paragraph"] for c in answer["citations"]} <= {"37", "38"}


def test_follow_up_in_chinese_is_searched_with_the_earlier_question(http):
    first = ask(http, QUESTION_ZH)
    history = [{"role": "user", "content": first["question"]}, {"role": "assistant", "content": first["answer"]}]

    alone = ask(http, "在哪次会议上？")
    follow_up = ask(http, "在哪次会议上？", history=history)
    vice = ask(http, "副主席呢？", history=history)

    assert alone["standalone_question"] is None
    assert alone["retrieved"][0] != "3" and "3" not in [c["paragraph"] for c in alone["citations"]]
    assert follow_up["standalone_question"] == f"{QUESTION_ZH} 在哪次会议上？"
    assert follow_up["retrieved"][0] == "3"
    assert_cited_and_retrieved(follow_up)
    assert vice["standalone_question"] == f"{QUESTION_ZH} 副主席呢？"
    assert_cited_and_retrieved(vice)
    assert "副主席" in vice["answer"] and vice["lang"] == "zh"


def test_lang_overrides_the_answer_language(http):
    answer = ask(http, QUESTION_EN, lang="zh")

    assert answer["lang"] == "zh"
    assert re.search(r"[\u4e00-\u9fff]", answer["answer"]), answer["answer"]
    assert ask(http, QUESTION_ZH, lang="zh")["answer"] == f"{QUOTE_3_ZH} [¶3]"


@pytest.mark.parametrize(("question", "lang", "quote"), [(QUESTION_EN, "zh", QUOTE_3_ZH),
                                                         (QUESTION_ZH, "en", QUOTE_3_EN)], ids=["en-to-zh", "zh-to-en"])
def test_lang_override_answers_a_question_asked_in_the_other_language(http, question, lang, quote):
    answer = ask(http, question, lang=lang)

    assert answer["retrieved"][0] == "3"
    assert answer["answer"] == f"{quote} [¶3]"


@pytest.mark.parametrize(("question", "reason"), [
    ("哪些政府间组织派代表出席了会议？", "会议记录尚未补全[¶27]（E. 出席情况），目前无法回答此问题。"),
    ("Which intergovernmental organizations were represented?",
     "The record has not yet filled in [¶27] (E. Attendance); it cannot answer this yet."),
])
def test_question_about_a_paragraph_still_to_be_completed_abstains(http, question, reason):
    answer = ask(http, question)

    assert answer["abstained"] is True
    assert answer["reason"] == reason and answer["answer"] == reason
    assert answer["citations"] == []


@pytest.mark.parametrize(("question", "start"), [
    ("How much did Kenya pledge?", "The record does not state this"),
    pytest.param("肯尼亚认捐了多少钱？", "会议记录没有说明这一点", marks=pytest.mark.xfail(
        strict=True, reason="known: the fitted answerability model answers this with a list naming Kenya")),
    ("肯尼亚承诺增加的捐款具体是多少？", "会议记录没有说明这一点"),
])
def test_fact_not_in_the_record_abstains(http, question, start):
    answer = ask(http, question)

    assert answer["abstained"] is True and answer["citations"] == []
    assert answer["reason"].startswith(start), answer["reason"]


# --------------------------------------------------------------------------- /api/ask/stream


@pytest.mark.parametrize("question", [QUESTION_EN, QUESTION_ZH, "Which intergovernmental organizations were "
                                      "represented?"])
def test_stream_deltas_add_up_to_the_answer_and_end_with_the_answer_json(http, question):
    response = http.post("/api/ask/stream", json={"question": question})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names == ["delta"] * (len(events) - 1) + ["answer"] and len(events) >= 2
    final = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == final["answer"]
    assert without_timings(final) == without_timings(ask(http, question))


def test_stream_refuses_bad_input_with_a_json_error_before_streaming(http):
    response = http.post("/api/ask/stream", json={"question": "  "})

    assert_error(response, 400, "invalid_question", "the question is empty")


# --------------------------------------------------------------------------- /api/paragraphs


def test_paragraph_in_both_languages_with_section_and_agenda_item(http):
    response = http.get("/api/paragraphs/3")

    assert response.status_code == 200
    view = response.json()
    assert view["id"] == "3" and view["key"] == "HSP-HA-1:3" and view["record"] == "HSP-HA-1"
    assert view["text"] == {"en": QUOTE_3_EN, "zh": QUOTE_3_ZH}
    assert view["section"] == "B. Election of the President of the UN-Habitat Assembly (agenda item 2)"
    assert view["agenda_item"] == "2"
    assert (view["pending"], view["missing_annex"], view["placeholder"]) == (False, False, False)
    assert view["sentences"] == {"en": [{"text": QUOTE_3_EN, "highlight": False}],
                                 "zh": [{"text": QUOTE_3_ZH, "highlight": False}]}


def test_paragraph_by_record_key(http):
    view = http.get("/api/paragraphs/HSP-HA-1:45").json()

    assert view["id"] == "45" and view["key"] == "HSP-HA-1:45"
    assert view["agenda_item"] == "9"
    assert view["text"]["en"].startswith("Accordingly, the Assembly elected the representatives")
    assert "Canada, France, Germany, Spain, Sweden, Turkey and United States of America" in view["text"]["en"]


@pytest.mark.parametrize(("number", "flag", "zh_text"), [
    ("23", "pending", "下列人居大会会员国派代表出席了会议：[待补]"),
    ("69", "pending", "[待补]"),
])
def test_pending_paragraphs_are_flagged(http, number, flag, zh_text):
    view = http.get(f"/api/paragraphs/{number}").json()

    assert view[flag] is True
    assert view["text"]["zh"] == zh_text
    assert "[to be completed]" in view["text"]["en"]


def test_placeholder_and_missing_annex_flags(http):
    officers = http.get("/api/paragraphs/37").json()
    debate = http.get("/api/paragraphs/60").json()
    president = http.get("/api/paragraphs/3").json()

    assert officers["placeholder"] is True and officers["pending"] is False
    assert debate["missing_annex"] is True
    assert president["placeholder"] is False and president["missing_annex"] is False


def test_highlight_marks_the_sentence_the_answer_quotes(http):
    plain = http.get("/api/paragraphs/6").json()
    en = [s["text"] for s in plain["sentences"]["en"]]
    zh = [s["text"] for s in plain["sentences"]["zh"]]
    assert len(en) >= 4 and len(en) == len(zh)

    by_en = http.get("/api/paragraphs/6", params={"highlight": en[2]}).json()
    by_zh = http.get("/api/paragraphs/6", params={"highlight": zh[1]}).json()

    assert [s["highlight"] for s in by_en["sentences"]["en"]] == [i == 2 for i in range(len(en))]
    assert [s["highlight"] for s in by_en["sentences"]["zh"]] == [i == 2 for i in range(len(zh))]
    assert [s["highlight"] for s in by_zh["sentences"]["zh"]] == [i == 1 for i in range(len(zh))]
    assert not any(s["highlight"] for s in plain["sentences"]["en"])


@pytest.mark.parametrize("paragraph", ["99", "abc", "0", "HSP-HA-2:3", "-1"])
def test_unknown_paragraph_is_a_404_with_a_message(http, paragraph):
    response = http.get(f"/api/paragraphs/{paragraph}")

    error = assert_error(response, 404, "unknown_paragraph")
    assert error["message"] == f"no paragraph '{paragraph}' in the record (paragraphs 1-69 of HSP-HA-1)"


# --------------------------------------------------------------------------- /v1 (OpenAI-compatible)


def test_openai_completion_carries_the_answer_and_its_citations(http, oai):
    completion = oai.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION_EN}])

    content = completion.choices[0].message.content
    assert content == f"{QUOTE_3_EN} [¶3]"
    assert completion.choices[0].finish_reason == "stop" and completion.model == "recordqa"
    assert shown(completion.model_extra["citations"]) == [
        {"paragraph": "3", "record": "HSP-HA-1", "quote": QUOTE_3_EN, "label": "¶3"}]
    assert without_timings(completion.model_extra["recordqa"]) == without_timings(ask(http, QUESTION_EN))


def test_openai_stream_adds_up_to_the_answer_and_ends_with_citations(oai):
    stream = oai.chat.completions.create(model="recordqa", stream=True,
                                         messages=[{"role": "system", "content": "Answer briefly."},
                                                   {"role": "user", "content": QUESTION_ZH}])
    chunks = list(stream)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == f"{QUOTE_3_ZH} [¶3]"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    last = chunks[-1]
    assert shown(last.model_extra["citations"]) == [
        {"paragraph": "3", "record": "HSP-HA-1", "quote": QUOTE_3_ZH, "label": "¶3"}]
    assert last.model_extra["recordqa"]["answer"] == text
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_openai_messages_before_the_last_are_the_history(oai):
    completion = oai.chat.completions.create(model="recordqa", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": QUESTION_EN},
        {"role": "assistant", "content": f"{QUOTE_3_EN} [¶3]"},
        {"role": "user", "content": "At which meeting?"},
    ])

    payload = completion.model_extra["recordqa"]
    assert payload["standalone_question"] == f"{QUESTION_EN} At which meeting?"
    assert not payload["abstained"]
    assert "1st plenary meeting" in completion.choices[0].message.content
    assert [c["paragraph"] for c in completion.model_extra["citations"]] == ["3"]


def test_openai_content_parts_are_read_as_text(oai):
    completion = oai.chat.completions.create(model="recordqa", messages=[
        {"role": "user", "content": [{"type": "text", "text": QUESTION_EN}]}])

    assert completion.choices[0].message.content == f"{QUOTE_3_EN} [¶3]"


def test_openai_models_lists_recordqa(oai):
    assert [m.id for m in oai.models.list().data] == ["recordqa"]


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "user", "content": QUESTION_EN}, {"role": "assistant", "content": "..."}],
     "the last message must be the user's question"),
    ([{"role": "system", "content": "be brief"}], "the last message must be the user's question"),
    ([{"role": "user", "content": "<script>alert(1)</script>"}],
     "the question contains HTML or script markup; send plain text"),
    ([{"role": "user", "content": " "}], "the question is empty"),
])
def test_openai_bad_request_raises_bad_request_error_with_our_message(oai, messages, message):
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="recordqa", messages=messages)

    assert caught.value.status_code == 400
    assert caught.value.body["message"] == message


def test_openai_no_messages_is_a_client_error(oai):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oai.chat.completions.create(model="recordqa", messages=[])

    assert "messages" in caught.value.body["message"]


# --------------------------------------------------------------------------- service endpoints


def test_healthz_reports_the_index_and_modes(http):
    health = http.get("/healthz").json()

    assert health["status"] == "ok"
    assert health["index"]["loaded"] is True and health["index"]["paragraphs"] == 69
    assert health["index"]["records"] == ["HSP-HA-1"] and health["index"]["languages"] == ["en", "zh"]
    assert health["mode"] == "extractive" and health["retrieval"] == "hybrid"
    assert health["dense"]["on"] is False and health["dense"]["model"] is None
    assert health["dense"]["languages"] == []


def test_healthz_says_why_dense_retrieval_is_off(strict):
    # The strict server built its own index at start, so the index knows why it has no vectors
    # (the session's shared index was built by a fixture that does not record a reason).
    with httpx.Client(base_url=strict.url) as client:
        health = client.get("/healthz").json()

    assert health["index"]["paragraphs"] == 69 and health["mode"] == "extractive"
    assert health["dense"]["on"] is False and health["dense"]["languages"] == []
    no_model = strict.env["RECORDQA_EMBEDDING_MODEL"]
    assert health["dense"]["reason"] == f"model folder '{no_model}' does not exist"


def test_openapi_lists_every_endpoint(http):
    spec = http.get("/openapi.json").json()

    assert {path: set(methods) for path, methods in spec["paths"].items()} == ENDPOINTS
    ask_schema = spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ask_schema["$ref"].endswith("/AskRequest")


def test_docs_page_loads_everything_from_this_server(http):
    response = http.get("/docs")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "SwaggerUIBundle" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert assets and not [a for a in assets if re.match(r"(https?:)?//", a)], assets
    for asset in assets:
        assert http.get(asset).status_code == 200, asset


# --------------------------------------------------------------------------- bad input


BAD_QUESTIONS = [
    ("", "invalid_question", "the question is empty"),
    ("  \n\t ", "invalid_question", "the question is empty"),
    ("a" * 2001, "invalid_question", "the question is 2001 characters long; the limit is 2000"),
    ("Who was elected\x00 President?", "invalid_question", "control characters"),
    ("Who \x1b[31mwas elected President?", "invalid_question", "control characters"),
    ("<script>alert(1)</script>", "invalid_question", "HTML or script markup"),
    ("<img src=x onerror=alert(1)>", "invalid_question", "HTML or script markup"),
    ("谁当选为主席？</p><iframe src=//evil.example>", "invalid_question", "HTML or script markup"),
]


@pytest.mark.parametrize(("question", "code", "message"), BAD_QUESTIONS,
                         ids=["empty", "whitespace", "too-long", "nul", "escape", "script", "img", "iframe"])
def test_bad_question_is_a_400_and_the_server_keeps_answering(http, question, code, message):
    response = http.post("/api/ask", json={"question": question})

    assert_error(response, 400, code, message)
    assert ask(http, QUESTION_EN)["citations"]


def test_question_of_exactly_the_maximum_length_is_accepted(http):
    answer = ask(http, "a" * 2000)

    assert answer["question"] == "a" * 2000


def test_less_than_sign_that_is_not_markup_is_accepted(http):
    answer = ask(http, "Did anyone say growth was less than <5% a year?")

    assert answer["question"] == "Did anyone say growth was less than <5% a year?"


@pytest.mark.parametrize(("kwargs", "status", "code", "message"), [
    ({"content": b"{bad json", "headers": {"content-type": "application/json"}}, 400, "invalid_json",
     "the request body is not valid JSON"),
    ({"json": {"question": 42}}, 422, "invalid_field", "invalid field 'question'"),
    ({"json": {"question": "x", "history": "no"}}, 422, "invalid_field", "invalid field 'history'"),
    ({"json": {"question": "x", "history": [{"role": "system", "content": "x"}]}}, 422, "invalid_field",
     "invalid field 'history.0.role'"),
    ({"json": {}}, 422, "missing_field", "missing field 'question'"),
    ({"json": {"question": "x", "foo": 1}}, 422, "invalid_field", "invalid field 'foo'"),
    ({"json": {"question": "x", "lang": "fr"}}, 422, "invalid_field", "invalid field 'lang'"),
    ({"json": ["x"]}, 422, "invalid_field", "invalid field 'body'"),
    ({"content": b"question=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 422,
     "invalid_field", "invalid field 'body'"),
], ids=["malformed-json", "question-number", "history-string", "history-role", "missing-question",
        "extra-field", "unknown-lang", "list-body", "form-body"])
def test_malformed_request_is_a_4xx_json_error(http, server, kwargs, status, code, message):
    response = http.post("/api/ask", **kwargs)

    assert_error(response, status, code, message)
    assert ask(http, QUESTION_EN)["citations"]
    assert server.alive()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/nope", 404), ("POST", "/v1/embeddings", 404), ("GET", "/api/ask", 405),
])
def test_unknown_endpoint_or_method_is_a_json_error(http, method, path, status):
    response = http.request(method, path)

    error = assert_error(response, status, "http_error")
    if status == 404:
        assert error["message"] == f"no such endpoint: {method} {path}"


def test_no_bad_request_left_a_traceback_in_the_server_log(http, server):
    for question, *_ in BAD_QUESTIONS:
        http.post("/api/ask", json={"question": question})
    http.post("/api/ask", content=b"\xff\xfe", headers={"content-type": "application/json"})

    assert "Traceback" not in server.stderr
    assert "unhandled error" not in server.stderr


# --------------------------------------------------------------------------- concurrency


def test_twenty_parallel_questions_all_get_their_own_cited_answer(http, server):
    questions = [QUESTION_ZH, QUESTION_EN, "人居大会第一届会议在哪里召开？",
                 "Who was UN-Habitat's Executive Director when the Assembly held its first session?"] * 5
    expected = {q: without_timings(ask(http, q)) for q in set(questions)}

    with httpx.Client(base_url=server.url, timeout=120, limits=httpx.Limits(max_connections=20)) as client, \
            ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda q: client.post("/api/ask", json={"question": q}), questions))

    assert [r.status_code for r in responses] == [200] * 20
    for question, response in zip(questions, responses, strict=True):
        answer = response.json()
        assert_cited_and_retrieved(answer)
        assert without_timings(answer) == expected[question]


# --------------------------------------------------------------------------- the strict server


def test_fourth_question_in_a_minute_is_a_429_and_other_keys_are_unaffected(shttp):
    for _ in range(3):
        assert shttp.post("/api/ask", json={"question": QUESTION_EN}, headers=bearer("k-test")).status_code == 200

    refused = shttp.post("/api/ask", json={"question": QUESTION_EN}, headers=bearer("k-test"))

    error = assert_error(refused, 429, "rate_limited")
    seconds = int(refused.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert error["message"] == f"too many questions from this client; retry in {seconds} s"
    assert error["type"] == "rate_limit_error"
    other = shttp.post("/api/ask", json={"question": QUESTION_EN}, headers=bearer("k-other"))
    assert other.status_code == 200 and other.json()["citations"]
    # The budget is per client, not per endpoint: the OpenAI route is refused too.
    client = openai.OpenAI(base_url=str(shttp.base_url).rstrip("/") + "/v1", api_key="k-test", max_retries=0)
    with client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION_EN}])


def test_refused_questions_do_not_use_up_the_budget(shttp):
    for question in ["", "   ", "x" * 2001, "<b>hi</b>", "who\x00"]:
        assert shttp.post("/api/ask", json={"question": question}, headers=bearer("k-refused")).status_code == 400

    answers = [shttp.post("/api/ask", json={"question": QUESTION_EN}, headers=bearer("k-refused"))
               for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/ask", {"question": QUESTION_EN}),
    ("POST", "/api/ask/stream", {"question": QUESTION_EN}),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": QUESTION_EN}]}),
])
@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Bearer"}, {"X-API-Key": "k-tes"}],
                         ids=["none", "wrong", "empty", "prefix"])
def test_missing_or_wrong_key_is_a_401(shttp, method, path, body, headers):
    response = shttp.request(method, path, json=body, headers=headers)

    error = assert_error(response, 401, "invalid_api_key", "API key")
    assert error["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_valid_key_is_accepted_as_bearer_or_x_api_key(shttp):
    by_header = shttp.post("/api/ask", json={"question": QUESTION_ZH}, headers={"X-API-Key": "k-header"})
    stream = shttp.post("/api/ask/stream", json={"question": QUESTION_ZH}, headers=bearer("k-stream"))

    assert by_header.status_code == 200 and by_header.json()["answer"] == f"{QUOTE_3_ZH} [¶3]"
    assert stream.status_code == 200 and sse_events(stream.text)[-1][1]["answer"] == f"{QUOTE_3_ZH} [¶3]"


def test_openai_client_with_and_without_a_valid_key(strict):
    good = openai.OpenAI(base_url=strict.url + "/v1", api_key="k-openai", max_retries=0)
    bad = openai.OpenAI(base_url=strict.url + "/v1", api_key="nope", max_retries=0)
    with good, bad:
        assert [m.id for m in good.models.list().data] == ["recordqa"]
        completion = good.chat.completions.create(model="recordqa",
                                                  messages=[{"role": "user", "content": QUESTION_EN}])
        assert completion.model_extra["citations"][0]["paragraph"] == "3"
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.models.list()
    assert caught.value.body["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", ["/healthz", "/api/paragraphs/3", "/chat/", "/widget/", "/embed.js"])
def test_health_paragraphs_and_pages_need_no_key(shttp, path):
    assert shttp.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/api/paragraphs/3", "/chat/config", "/widget/config"])
@pytest.mark.parametrize(("origin", "allowed"), [
    (ALLOWED_ORIGIN, True), ("http://127.0.0.1:9/", False), ("http://evil.example", False),
    ("http://127.0.0.1:10", False), ("https://127.0.0.1:9", False), ("http://localhost:9", False),
    ("null", False),
])
def test_cors_echoes_only_the_allowed_origin(shttp, path, origin, allowed):
    response = shttp.get(path, headers={"Origin": origin})

    assert response.status_code == 200
    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)
    assert "access-control-allow-credentials" not in response.headers


def test_cors_on_answers_and_errors_for_the_allowed_origin_only(shttp):
    allowed = shttp.post("/api/ask", json={"question": QUESTION_EN},
                         headers={"Origin": ALLOWED_ORIGIN, **bearer("k-cors")})
    evil = shttp.post("/api/ask", json={"question": QUESTION_EN},
                      headers={"Origin": "http://evil.example", **bearer("k-cors")})
    unauthorised = shttp.post("/api/ask", json={"question": QUESTION_EN}, headers={"Origin": ALLOWED_ORIGIN})

    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-origin" not in evil.headers
    # A page of the allowed origin can read why it was refused.
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize("path", ["/api/ask", "/v1/chat/completions", "/chat/config"])
def test_preflight_is_granted_to_the_allowed_origin_and_refused_to_others(shttp, path):
    def preflight(origin: str) -> httpx.Response:
        return shttp.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "authorization, content-type"})

    granted = preflight(ALLOWED_ORIGIN)
    refused = [preflight(o) for o in ("http://evil.example", "http://127.0.0.1:10")]

    assert granted.status_code == 200
    assert granted.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in granted.headers["access-control-allow-methods"]
    assert "authorization" in granted.headers["access-control-allow-headers"].lower()
    for response in refused:
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/chat/", "/widget/", "/docs"])
def test_pages_may_be_framed_only_by_the_allowed_origin(shttp, path):
    response = shttp.get(path)

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == f"frame-ancestors 'self' {ALLOWED_ORIGIN}"


@pytest.mark.parametrize("path", ["/chat/", "/widget/", "/healthz"])
def test_default_server_may_be_framed_by_localhost_on_any_port(http, path):
    response = http.get(path)

    assert response.headers["content-security-policy"] == DEFAULT_CSP


@pytest.mark.parametrize(("origin", "allowed"), [
    ("http://localhost:5173", True), ("http://127.0.0.1", True), ("https://localhost:8443", True),
    ("http://evil.example", False), ("http://localhost.evil.example", False), ("http://127.0.0.2:80", False),
])
def test_default_server_cors_allows_localhost_on_any_port(http, origin, allowed):
    response = http.get("/chat/config", headers={"Origin": origin})

    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)
