"""Real streaming with an LLM: its tokens reach the client while it is still writing.

The scripted LLM (eval/llm_peer.py) sends its first tokens and then waits until the test has
seen them come out of RecordQA: a server that computed the answer whole could not show them
before the model finished. The final event carries the checked answer, which replaces the
streamed text when they differ.
"""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from eval.llm_peer import Reply, ScriptedLLM, Stream
from qa.answer import Answer
from qa.language_pack import load_packs
from qa.prompt import PromptError
from qa.usage import estimate_tokens
from recordqa.factories import make_answerer
from recordqa.settings import PROJECT_ROOT

QUESTION_EN = "Who was elected President of the Assembly?"
QUESTION_ZH = "人居大会第一届会议选举谁为主席？"
ANSWER_EN = "Ms. Martha Delgado Peralta (Mexico) was elected President by acclamation. [¶3]"
TOKENS_EN = ("Ms.", " Martha", " Delgado", " Peralta", " (Mexico)", " was", " elected", " President", " by",
             " acclamation.", " [¶", "3]")
TOKENS_ZH = ("人居大会", "以鼓掌方式", "选举", " Martha Delgado Peralta ", "女士（墨西哥）", "为主席。", "[¶3]")
UNAVAILABLE = "the language model is unavailable; showing the extractive answer"
WAIT_S = 30
"""How long a test waits for the first streamed text while the model holds the rest back; the
model holds for 60 s, so text that arrives in time was not waiting for the whole answer."""


def held(tokens: tuple[str, ...], after: int = 3) -> tuple[Stream, threading.Event]:
    resume = threading.Event()
    return Stream(tokens, hold_after=after, resume=resume), resume


@pytest.fixture(scope="module")
def shared_peer():
    llm = ScriptedLLM().start()
    yield llm
    llm.stop()
    assert not llm.errors, llm.errors


@pytest.fixture
def peer(shared_peer):
    """The module's scripted LLM with nothing queued (one peer, so one answerer serves most tests)."""
    shared_peer.reset()
    return shared_peer


@pytest.fixture(scope="module")
def answerer(built_index, shared_peer):
    return make_answerer(built_index.model_copy(update={"llm_base_url": shared_peer.base_url, "llm_model": "fake",
                                                        "llm_timeout_s": 90.0}))


@pytest.fixture(scope="module")
def extractive(built_index):
    answerer = make_answerer(built_index)
    return {q: answerer.ask(q) for q in (QUESTION_EN, QUESTION_ZH)}


def split(items: list) -> tuple[list[str], Answer]:
    *deltas, final = items
    assert isinstance(final, Answer) and all(isinstance(d, str) for d in deltas)
    return deltas, final


# --------------------------------------------------------------------------- Answerer.ask_stream


def test_tokens_are_yielded_while_the_model_is_still_writing(answerer, peer):
    step, resume = held(TOKENS_EN)
    peer.play(step)
    stream = answerer.ask_stream(QUESTION_EN)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(next, stream).result(timeout=WAIT_S)
    resume.set()
    deltas, final = split([first, *stream])

    assert first == "Ms."
    assert "".join(deltas) == final.answer == ANSWER_EN
    assert final.mode == "llm:fake" and [c.paragraph for c in final.citations] == ["3"]
    assert final.notices == [] and "first_token" in final.timings_ms
    request = peer.served[-1].body
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert "Reply with the answer text only" in request["messages"][0]["content"]


def test_chinese_tokens_stream_and_end_with_the_cited_answer(answerer, peer):
    peer.play(Stream(TOKENS_ZH))

    deltas, final = split(list(answerer.ask_stream(QUESTION_ZH)))

    assert len(deltas) > 1
    assert "".join(deltas) == final.answer == "".join(TOKENS_ZH)
    assert [c.paragraph for c in final.citations] == ["3"] and final.lang == "zh"


def test_streamed_text_never_carries_markup_links_or_invalid_markers(answerer, peer):
    peer.play(Stream(("Ms. Martha <b>Delgado", " Peralta</b> was [elected](java", "script:alert(1)) ",
                      "President [¶", "99] by acclamation, see http", "://evil.example/x ", "and <", "img src=x ",
                      "onerror=alert(1)>. [¶", "3] [¶-1]")))

    deltas, final = split(list(answerer.ask_stream(QUESTION_EN)))

    streamed = "".join(deltas)
    for active in ("<", ">", "javascript", "script", "http", "evil", "](", "onerror", "¶99", "¶-1"):
        assert all(active not in delta for delta in deltas), active
        assert active not in final.answer
    assert streamed == final.answer == "Ms. Martha Delgado Peralta was elected President by acclamation, see and. [¶3]"


def test_json_reply_despite_the_streaming_prompt_is_read_whole_and_never_shown_raw(answerer, peer):
    reply = json.dumps({"answer": ANSWER_EN, "citations": ["3"]})
    peer.play(Stream(tuple(reply[i:i + 5] for i in range(0, len(reply), 5))))

    deltas, final = split(list(answerer.ask_stream(QUESTION_EN)))

    assert deltas == [ANSWER_EN] and final.answer == ANSWER_EN
    assert [c.paragraph for c in final.citations] == ["3"]


def test_final_answer_replaces_a_stream_that_cites_nothing_valid(answerer, peer):
    peer.play(Stream(("Ms. Martha Delgado Peralta", " was elected. [¶99]")))

    deltas, final = split(list(answerer.ask_stream(QUESTION_EN)))

    assert "".join(deltas).startswith("Ms. Martha Delgado Peralta")
    assert final.abstained and final.citations == []
    assert final.answer == load_packs()["en"].message("nothing")


def test_stream_cut_at_the_length_cap_ends_with_whole_sentences(built_index, peer):
    answerer = make_answerer(built_index.model_copy(update={
        "llm_base_url": peer.base_url, "llm_model": "fake", "llm_max_answer_chars": 120}))
    peer.play(Stream(("Ms. Martha Delgado Peralta was elected President. [¶3]",
                      *[" The session went on for a long time."] * 50)))

    _, final = split(list(answerer.ask_stream(QUESTION_EN)))

    assert final.answer == "Ms. Martha Delgado Peralta was elected President. [¶3] The session went on for a long time."


def test_stalled_stream_falls_back_to_the_extractive_answer(built_index, peer, extractive):
    answerer = make_answerer(built_index.model_copy(update={"llm_base_url": peer.base_url, "llm_model": "fake",
                                                            "llm_timeout_s": 1.0}))
    step, resume = held(TOKENS_EN)
    peer.play(step)

    deltas, final = split(list(answerer.ask_stream(QUESTION_EN)))
    resume.set()

    assert "".join(deltas).startswith("Ms. Martha")
    assert final.mode == "extractive" and final.answer == extractive[QUESTION_EN].answer
    assert final.notices == [UNAVAILABLE]


def test_without_an_llm_the_stream_is_the_answer_alone(built_index, extractive):
    items = list(make_answerer(built_index).ask_stream(QUESTION_EN))

    assert len(items) == 1 and items[0].answer == extractive[QUESTION_EN].answer


def test_streaming_prompt_is_checked_at_load(built_index, peer, tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(PROJECT_ROOT / "prompts", folder)
    user = folder / "answer_stream_user.txt"
    user.write_text(user.read_text(encoding="utf-8").replace("{paragraphs}", "the paragraphs"), encoding="utf-8")

    with pytest.raises(PromptError, match=r"prompt 'answer_stream' .*missing variables \['paragraphs'\]"):
        make_answerer(built_index.model_copy(update={"llm_base_url": peer.base_url, "prompts_dir": folder}))


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def module_peer():
    llm = ScriptedLLM(default=Reply({"answer": ANSWER_EN, "citations": ["3"]})).start()
    yield llm
    llm.stop()


@pytest.fixture(scope="module")
def llm_server(start_server, built_index, module_peer):
    return start_server(index_dir=built_index.index_dir, embedding_model=built_index.embedding_model,
                        llm_base_url=module_peer.base_url, llm_model="fake", llm_timeout_s=90)


def sse_events(lines) -> list[tuple[str, dict]]:
    events, event = [], None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:])))
    return events


def test_api_stream_sends_the_llm_tokens_as_they_arrive(llm_server, module_peer):
    step, resume = held(TOKENS_EN)
    module_peer.play(step)

    with httpx.Client(base_url=llm_server.url, timeout=WAIT_S) as client, \
            client.stream("POST", "/api/ask/stream", json={"question": QUESTION_EN}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("data: "):
                break  # the first delta, while the model still holds the rest
        resume.set()
        events = sse_events([*seen, *lines])

    names = [name for name, _ in events]
    assert names == ["delta"] * (len(events) - 1) + ["answer"] and len(events) > 2
    assert events[0][1]["text"] == "Ms."
    final = events[-1][1]
    assert "".join(data["text"] for _, data in events[:-1]) == final["answer"] == ANSWER_EN
    assert final["mode"] == "llm:fake" and [c["paragraph"] for c in final["citations"]] == ["3"]


def test_openai_stream_sends_tokens_then_citations_then_usage(llm_server, module_peer):
    step, resume = held(TOKENS_EN)
    module_peer.play(step)
    client = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="x", max_retries=0, timeout=WAIT_S)

    stream = client.chat.completions.create(model="recordqa", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": QUESTION_EN}])
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            break  # the first words, while the model still holds the rest
    resume.set()
    chunks += list(stream)
    client.close()

    *content, last, usage = chunks
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert text == ANSWER_EN and chunks[1].choices[0].delta.content == "Ms."
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["recordqa"]["answer"] == text and last.model_extra["recordqa"]["mode"] == "llm:fake"
    assert [c["paragraph"] for c in last.model_extra["citations"]] == ["3"]
    assert usage.choices == [] and usage.usage.model_dump(include={"prompt_tokens", "completion_tokens",
                                                                   "total_tokens"}) == {
        "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_completion_reports_the_llm_usage(llm_server):
    client = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    completion = client.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION_EN}])
    client.close()

    assert completion.choices[0].message.content == ANSWER_EN
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        10, 5, 15)


def test_openai_usage_of_an_extractive_answer_is_the_documented_estimate(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    history = [{"role": "user", "content": QUESTION_ZH}, {"role": "assistant", "content": "Martha Delgado Peralta"}]
    completion = client.chat.completions.create(model="recordqa",
                                                messages=[*history, {"role": "user", "content": QUESTION_EN}])
    stream = list(client.chat.completions.create(model="recordqa", stream=True, messages=[*history, {
        "role": "user", "content": QUESTION_EN}], stream_options={"include_usage": True}))
    client.close()

    content = completion.choices[0].message.content
    prompt = estimate_tokens(f"{QUESTION_ZH}\nMartha Delgado Peralta\n{QUESTION_EN}")
    expected = (prompt, estimate_tokens(content), prompt + estimate_tokens(content))
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        expected)
    assert stream[-1].choices == [] and (stream[-1].usage.prompt_tokens, stream[-1].usage.completion_tokens,
                                         stream[-1].usage.total_tokens) == expected


def test_openai_stream_without_include_usage_has_no_usage_chunk(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    chunks = list(client.chat.completions.create(model="recordqa", stream=True,
                                                 messages=[{"role": "user", "content": QUESTION_EN}]))
    client.close()

    assert chunks[-1].choices[0].finish_reason == "stop" and all(c.choices for c in chunks)


def message_text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_chat_streams_the_llm_tokens_then_shows_the_checked_answer(llm_server, module_peer):
    from gradio_client import Client

    step, resume = held(TOKENS_EN)
    module_peer.play(step)
    client = Client(f"{llm_server.url}/chat/", verbose=False)

    job = client.submit(QUESTION_EN, [], "en", api_name="/respond")  # the conversation state stays server-side
    shown = ""
    for update in job:
        chat = update[0]
        if chat and chat[-1]["role"] == "assistant" and message_text(chat[-1]):
            shown = message_text(chat[-1])
            break  # the first words, while the model still holds the rest
    resume.set()
    final = message_text(job.result(timeout=WAIT_S)[0][-1])

    assert shown == "Ms."
    assert final.startswith("Ms. Martha Delgado Peralta") and "by acclamation." in final
    assert "#para=HSP-HA-1:3" in final  # the checked answer's citation, as a link
