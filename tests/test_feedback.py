"""Feedback on answers and conversation downloads, the way users meet them: POST /api/feedback
over real HTTP, the thumbs under a chat answer in Chromium, `recordqa feedback export` as a
subprocess (its lines load as a benchmark), and the Markdown a downloaded conversation holds."""

from __future__ import annotations

import json
import sqlite3

import httpx
import pytest
from test_browser import ask, browser, open_chat, page_factory  # noqa: F401 - fixtures shared with the chat tests

from eval.dataset import load_dataset
from qa.answer import Answer, Citation
from ui.markup import conversation_markdown

QUESTION_EN = "Who was elected President of the Assembly?"
QUOTE_3_EN = ("At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta (Mexico) by acclamation "
              "as President of the Assembly at its first session.")
PENDING_EN = "Which United Nations bodies and specialized agencies were represented at the session?"


@pytest.fixture(scope="module")
def feedback_server(start_server, built_index, tmp_path_factory):
    """A server of the session's lexical index whose feedback goes to a file of its own."""
    path = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    server = start_server(index_dir=built_index.index_dir, embedding_model=built_index.embedding_model,
                          feedback_path=path)
    return server, path


@pytest.fixture(scope="module")
def http(feedback_server):
    server, _ = feedback_server
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def rows(path) -> list[dict]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        found = [dict(r) for r in connection.execute("SELECT * FROM feedback ORDER BY id")]
    connection.close()
    return found


def assert_error(response: httpx.Response, status: int, code: str, message_part: str) -> None:
    error = response.json()["error"]
    if code == "too_long" and response.status_code == 422:
        # Over-long fields are 413 where the server's error handlers say so, else a plain 422.
        status, code = 422, "invalid_field"
    assert response.status_code == status, response.text
    assert error["code"] == code and message_part in error["message"], error


# --------------------------------------------------------------------------- the API


def test_feedback_on_an_answer_is_stored_with_its_json_settings_hash_and_time(feedback_server, http):
    _, path = feedback_server
    answer = http.post("/api/ask", json={"question": QUESTION_EN}).json()
    before = len(rows(path)) if path.exists() else 0

    response = http.post("/api/feedback", json={"answer": answer, "rating": "down",
                                                "comment": "It should also say who nominated her."})

    assert response.status_code == 201, response.text
    given = response.json()
    assert given["rating"] == "down" and given["source"] == "api"
    assert given["settings_hash"] == http.get("/healthz").json()["settings_hash"]
    stored = rows(path)[before:]
    assert len(stored) == 1
    assert stored[0]["comment"] == "It should also say who nominated her."
    assert stored[0]["created"].startswith("20") and stored[0]["created"].endswith("+00:00")
    assert json.loads(stored[0]["answer"])["citations"][0]["quote"] == QUOTE_3_EN

    # A second opinion on the same answer needs only its id.
    again = http.post("/api/feedback", json={"answer_id": given["answer_id"], "rating": "up"})
    assert again.status_code == 201 and again.json()["answer_id"] == given["answer_id"]
    assert json.loads(rows(path)[-1]["answer"]) == json.loads(stored[0]["answer"])


@pytest.mark.parametrize("body, status, code, message", [
    ({"rating": "meh"}, 422, "invalid_field", "rating"),
    ({"rating": "up", "comment": "x" * 2001}, 413, "too_long", "comment"),
    ({"answer": {"answer": "no question"}, "rating": "up"}, 422, "invalid_field", "answer.question"),
    ({"rating": "up", "answer": None}, 422, "invalid_field", "send either 'answer'"),
    ({"rating": "up", "answer_id": "0123456789abcdef"}, 404, "unknown_answer", "0123456789abcdef"),
    ({"rating": "up", "answer_id": "not-an-id"}, 422, "invalid_field", "answer_id"),
    ({"rating": "up", "answer": {}, "stars": 5}, 422, "invalid_field", "stars"),
], ids=["rating", "long-comment", "bad-answer", "no-answer", "unknown-id", "bad-id", "extra-field"])
def test_bad_feedback_is_refused_with_a_clear_message(http, body, status, code, message):
    assert_error(http.post("/api/feedback", json=body), status, code, message)


def test_feedback_export_writes_benchmark_lines(feedback_server, http, cli, tmp_path, jieba_cache):
    _, path = feedback_server
    answered = http.post("/api/ask", json={"question": QUESTION_EN}).json()
    abstained = http.post("/api/ask", json={"question": PENDING_EN}).json()
    assert abstained["abstained"]
    for answer, rating, comment in ((answered, "up", ""), (abstained, "down", "The record lists them in ¶26?")):
        assert http.post("/api/feedback", json={"answer": answer, "rating": rating, "comment": comment}
                         ).status_code == 201
    out = tmp_path / "complaints" / "feedback.jsonl"
    env = cli.env(tmp_path, jieba_cache, feedback_path=path)

    result = cli.run(["feedback", "export", "--out", str(out)], env)

    assert result.returncode == 0, result.stderr
    count = len(rows(path))
    assert result.stdout == f"wrote {out}: {count} feedback lines\n"
    lines = load_dataset(out)
    assert [line["id"] for line in lines] == [f"feedback-{n:04d}" for n in range(1, count + 1)]
    approved, complaint = lines[-2], lines[-1]
    assert approved["question"] == QUESTION_EN and approved["lang"] == "en" and approved["type"] == "feedback"
    assert approved["gold_paragraphs"] == ["3"] and approved["answers"] == [QUOTE_3_EN]
    assert approved["answerable"] is True and approved["needs_review"] is False
    assert complaint["question"] == PENDING_EN
    assert complaint["gold_paragraphs"] == [] and complaint["answers"] == []
    assert complaint["answerable"] is True and complaint["needs_review"] is True
    assert complaint["feedback"]["comment"] == "The record lists them in ¶26?"
    assert complaint["feedback"]["outcome"] == "abstain"
    assert complaint["feedback"]["answer"] == abstained["answer"]
    # Without --out the lines go to standard output.
    assert cli.run(["feedback", "export"], env).stdout == out.read_text(encoding="utf-8")


def test_feedback_export_without_any_feedback_prints_nothing(cli, tmp_path, jieba_cache):
    path = tmp_path / "none.sqlite3"

    result = cli.run(["feedback", "export"], cli.env(tmp_path, jieba_cache, feedback_path=path))

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not path.exists()


def test_feedback_export_of_a_file_that_is_not_a_feedback_database_fails_in_one_line(cli, tmp_path, jieba_cache):
    path = tmp_path / "feedback.sqlite3"
    path.write_text("not a database", encoding="utf-8")

    result = cli.run(["feedback", "export"], cli.env(tmp_path, jieba_cache, feedback_path=path))

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"error: {path} is not a feedback database (") and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --------------------------------------------------------------------------- the chat


def test_thumbs_down_with_a_comment_in_the_chat_is_stored(feedback_server, page_factory):  # noqa: F811
    server, path = feedback_server
    before = len(rows(path)) if path.exists() else 0
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")
    assert "Martha Delgado Peralta" in ask(page, QUESTION_EN)

    page.locator("#rq-feedback-comment textarea").fill("Too long; just the name please.")
    page.locator('#rq-chat [data-testid="bot"]').first.hover()
    page.locator("#rq-chat").get_by_role("button", name="Dislike").first.click()

    page.wait_for_function("() => document.querySelector('#rq-feedback-status').innerText.includes('saved')")
    [stored] = rows(path)[before:]
    assert stored["rating"] == "down" and stored["source"] == "chat"
    assert stored["comment"] == "Too long; just the name please."
    answer = json.loads(stored["answer"])
    assert answer["question"] == QUESTION_EN and answer["citations"][0]["paragraph"] == "3"
    assert page.locator("#rq-feedback-comment textarea").input_value() == ""


def test_a_conversation_downloads_as_markdown_with_its_citations(feedback_server, page_factory):  # noqa: F811
    server, _ = feedback_server
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")
    ask(page, QUESTION_EN)
    ask(page, "How was she elected?", answers_before=1)

    with page.expect_download() as download:
        page.locator("#rq-download").click()

    assert download.value.suggested_filename == "recordqa-conversation.md"
    text = download.value.path().read_text(encoding="utf-8")
    assert text.startswith("# RecordQA conversation\n\n## 1. Who was elected President of the Assembly?\n")
    assert f"- \\[¶3\\] HSP-HA-1: {QUOTE_3_EN}" in text
    assert "## 2. How was she elected?" in text
    assert "*Searched as: Who was elected President of the Assembly? How was she elected?*" in text


# --------------------------------------------------------------------------- the Markdown itself


def test_conversation_markdown_lists_questions_answers_and_cited_sentences():
    answered = Answer(question="Who chaired *the* session?", answer="Ms. X chaired it. [¶3]", abstained=False,
                      citations=[Citation(paragraph="3", record="R-1", quote="Ms. X chaired it.")],
                      mode="extractive", lang="en")
    refused = Answer(question="谁出席了？", answer="会议记录尚未补全[¶23]，目前无法回答此问题。", abstained=True,
                     outcome="abstain", mode="extractive", lang="zh", standalone_question="谁出席了 会议？")

    assert conversation_markdown([answered, refused], "zh") == (
        "# RecordQA 对话记录\n\n"
        "## 1. Who chaired \\*the\\* session?\n\n"
        "Ms. X chaired it. \\[¶3\\]\n\n"
        "**引用的段落**\n\n"
        "- \\[¶3\\] R-1: Ms. X chaired it.\n\n"
        "## 2. 谁出席了？\n\n"
        "*检索问题：谁出席了 会议？*\n\n"
        "**记录中没有答案** · 会议记录尚未补全\\[¶23\\]，目前无法回答此问题。\n")
    assert conversation_markdown([], "en") == "# RecordQA conversation\n"
