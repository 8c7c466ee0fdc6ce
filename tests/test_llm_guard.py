"""The LLM path against a scripted, misbehaving OpenAI-compatible server on 127.0.0.1.

Whatever the model sends (errors carrying secrets, answers of the wrong shape, markup and
links, invented markers, endless text) the user gets plain text, citations of retrieved
paragraphs and fixed notices; and a hanging model neither blocks the server nor keeps being
called once the circuit breaker has opened.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from eval.llm_peer import Fail, Hang, Reply, ScriptedLLM
from qa.circuit import CircuitBreaker
from qa.language_pack import load_packs
from qa.llm_gate import LLMGate
from recordqa.factories import make_answerer, make_llm

QUESTION_EN = "Who was elected President of the Assembly?"
QUESTION_ZH = "人居大会第一届会议选举谁为主席？"
UNAVAILABLE = "the language model is unavailable; showing the extractive answer"
UNUSABLE = "the language model's reply could not be used; showing the extractive answer"
BUSY = "the language model is busy; showing the extractive answer"
PAUSED = "the language model is paused after repeated failures; showing the extractive answer"
REWRITE_FAILED = "follow-up rewrite failed; using the conversation heuristically"
GOOD_EN = {"answer": "Ms. Martha Delgado Peralta (Mexico) was elected President by acclamation. [¶3]",
           "citations": ["3"]}
HOSTILE = {"answer": '<img src=x onerror="alert(1)">Ms. Martha Delgado Peralta was elected '
                     "[President](javascript:alert(document.cookie)) ![logo](http://evil.example/x.png) by "
                     "acclamation, see https://evil.example/steal?c=1 and <a href='javascript:void(0)'>this</a>. "
                     "[¶3] <script>fetch('//evil.example')</script>javascript:alert(2)",
           "citations": ["3"]}
ACTIVE = ("<", ">", "javascript", "http", "evil", "](", "onerror", "script")


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
def settings(built_index, shared_peer):
    # A breaker that never opens here: these tests are about single replies (it has tests of its own).
    return built_index.model_copy(update={"llm_base_url": shared_peer.base_url, "llm_model": "fake",
                                          "llm_timeout_s": 2.0, "llm_breaker_failures": 1000})


@pytest.fixture(scope="module")
def answerer(settings):
    return make_answerer(settings)


@pytest.fixture(scope="module")
def extractive(built_index):
    answerer = make_answerer(built_index)
    return {q: answerer.ask(q) for q in (QUESTION_EN, QUESTION_ZH)}


def assert_extractive(answer, expected, notice: str) -> None:
    assert answer.mode == "extractive"
    assert answer.answer == expected.answer and answer.citations == expected.citations
    assert answer.notices == [notice]


# --------------------------------------------------------------------------- what the model sends


def test_upstream_error_text_is_logged_and_never_shown(answerer, peer, extractive, caplog):
    peer.play(Fail(500, json.dumps({"error": {"message": "upstream broke; token=LEAKME at /srv/model"}})))

    with caplog.at_level(logging.WARNING, logger="recordqa.llm"):
        answer = answerer.ask(QUESTION_EN)

    assert_extractive(answer, extractive[QUESTION_EN], UNAVAILABLE)
    shown = json.dumps(answer.public_json(), ensure_ascii=False)
    assert "LEAKME" not in shown and "Error" not in shown and "500" not in shown
    assert "token=LEAKME" in caplog.text, "the operator must still see what went wrong"


def test_failed_rewrite_notice_names_no_exception(answerer, peer):
    peer.play(Fail(502, "Bad Gateway: token=LEAKME"), GOOD_EN)
    history = [{"role": "user", "content": "Who opened the session?"}, {"role": "assistant", "content": "…"}]

    answer = answerer.ask("And who was elected President?", history=history)

    assert answer.notices == [REWRITE_FAILED]
    assert answer.mode == "llm:fake" and [c.paragraph for c in answer.citations] == ["3"]


@pytest.mark.parametrize("reply", [
    {"answer": None, "citations": ["3"]},
    {"answer": {"t": ""}, "citations": ["3"]},
    {"answer": "   ", "citations": ["3"]},
    {"answer": ["Ms. Martha Delgado Peralta was elected. [¶3]"], "citations": ["3"]},
    {"answer": "Ms. Martha Delgado Peralta was elected President.", "citations": "3, 12"},
    {"answer": "Ms. Martha Delgado Peralta was elected President.", "citations": [{"n": 3}]},
    ["Ms. Martha Delgado Peralta was elected President. [¶3]"],
], ids=["null", "object", "blank", "list-answer", "citations-string", "citations-objects", "not-an-object"])
def test_reply_of_the_wrong_shape_falls_back_with_a_fixed_notice(answerer, peer, extractive, reply):
    peer.play(Reply(json.dumps(reply)))

    answer = answerer.ask(QUESTION_EN)

    assert_extractive(answer, extractive[QUESTION_EN], UNUSABLE)
    assert "None" not in answer.answer and "{'t'" not in answer.answer


def test_markup_links_and_urls_are_removed_from_the_answer(answerer, peer):
    peer.play(HOSTILE)

    answer = answerer.ask(QUESTION_EN)

    assert answer.mode == "llm:fake" and [c.paragraph for c in answer.citations] == ["3"]
    assert answer.answer == ("Ms. Martha Delgado Peralta was elected President logo by acclamation, see and this. "
                             "[¶3]")
    for active in ACTIVE:
        assert active not in answer.answer


def test_escaped_markup_is_decoded_then_removed(answerer, peer):
    peer.play({"answer": "Ms. Martha Delgado Peralta was elected. &lt;img src=x onerror=alert(1)&gt; [¶3]",
               "citations": ["3"]})

    answer = answerer.ask(QUESTION_EN)

    assert answer.answer == "Ms. Martha Delgado Peralta was elected. [¶3]"


def test_every_marker_that_is_not_a_retrieved_citation_is_removed(answerer, peer):
    peer.play({"answer": "Ms. Martha Delgado Peralta was elected [¶3] [¶-1] [¶abc] [¶] [¶ 3.5] [¶99].",
               "citations": ["3", "-1"]})

    answer = answerer.ask(QUESTION_EN)

    assert answer.answer == "Ms. Martha Delgado Peralta was elected [¶3]."
    assert [c.paragraph for c in answer.citations] == ["3"]


def test_refusal_in_the_wrong_language_becomes_the_fixed_abstention(answerer, peer):
    peer.play({"answer": "记录中没有回答这个问题，请看 [这里](javascript:alert(1)) 和 http://evil.example 。",
               "citations": []})

    answer = answerer.ask("What was the budget of the first session?")

    assert answer.abstained and answer.citations == []
    assert answer.answer == load_packs()["en"].message("nothing")


def test_refusal_in_the_right_language_keeps_its_words_but_not_its_links(answerer, peer):
    peer.play({"answer": "The record does not answer this question; see [the budget](https://evil.example/b).",
               "citations": []})

    answer = answerer.ask("What was the budget of the first session?")

    assert answer.abstained and answer.citations == []
    assert answer.answer == "The record does not answer this question; see the budget."


# --------------------------------------------------------------------------- length caps


def test_overlong_answer_is_cut_after_its_last_whole_sentence(settings, peer):
    filler = "The session went on for a long time. " * 200
    peer.play({"answer": f"Ms. Martha Delgado Peralta was elected President. [¶3] {filler}", "citations": ["3"]})

    answer = make_answerer(settings.model_copy(update={"llm_max_answer_chars": 300})).ask(QUESTION_EN)

    assert answer.mode == "llm:fake"
    assert len(answer.answer) <= 300
    assert answer.answer.startswith("Ms. Martha Delgado Peralta was elected President. [¶3] The session")
    assert answer.answer.endswith("for a long time.")


def test_overlong_answer_without_a_sentence_end_falls_back(settings, peer, extractive):
    peer.play({"answer": "Martha Delgado Peralta " * 200 + "[¶3]", "citations": ["3"]})

    answer = make_answerer(settings.model_copy(update={"llm_max_answer_chars": 300})).ask(QUESTION_EN)

    assert_extractive(answer, extractive[QUESTION_EN], UNUSABLE)


def test_overlong_rewrite_of_a_follow_up_is_not_used(settings, peer):
    history = [{"role": "user", "content": QUESTION_ZH},
               {"role": "assistant", "content": "人居大会选举 Martha Delgado Peralta 女士（墨西哥）为主席。[¶3]"}]
    rewrite = "Martha Delgado Peralta 女士来自哪个国家？" * 40
    peer.play(rewrite, {"answer": "她来自墨西哥。[¶3]", "citations": ["3"]})

    answer = make_answerer(settings.model_copy(update={"llm_max_rewrite_chars": 200})).ask(
        "她来自哪个国家？", history=history)

    assert answer.standalone_question == f"{QUESTION_ZH} 她来自哪个国家？"
    assert answer.notices == [REWRITE_FAILED]
    assert rewrite not in peer.served[-1].body["messages"][-1]["content"]
    assert answer.answer == "她来自墨西哥。[¶3]"


# --------------------------------------------------------------------------- the circuit breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_failures_then_lets_one_trial_through(settings, peer, extractive):
    clock = Clock()
    gate = LLMGate(make_llm(settings), concurrency=2, timeout_s=2.0,
                   breaker=CircuitBreaker(failures_to_open=2, cooldown_s=30, clock=clock))
    answerer = make_answerer(settings, llm=gate)
    peer.play(Fail(500), Fail(503))
    base = peer.calls

    first, second = answerer.ask(QUESTION_EN), answerer.ask(QUESTION_EN)
    assert first.notices == second.notices == [UNAVAILABLE] and peer.calls == base + 2

    paused = answerer.ask(QUESTION_EN)
    assert_extractive(paused, extractive[QUESTION_EN], PAUSED)
    assert peer.calls == base + 2, "an open breaker must not call the LLM"

    clock.now += 30  # cool-down over: one trial, which fails and opens the breaker again
    peer.play(Fail(500))
    assert answerer.ask(QUESTION_EN).notices == [UNAVAILABLE] and peer.calls == base + 3
    assert answerer.ask(QUESTION_EN).notices == [PAUSED] and peer.calls == base + 3

    clock.now += 30  # the next trial succeeds: the LLM answers again
    peer.play(GOOD_EN, GOOD_EN)
    assert answerer.ask(QUESTION_EN).mode == "llm:fake"
    assert answerer.ask(QUESTION_EN).mode == "llm:fake" and peer.calls == base + 5


def test_all_llm_slots_taken_means_an_extractive_answer_at_once(settings, peer, extractive):
    answerer = make_answerer(settings.model_copy(update={"llm_concurrency": 1, "llm_timeout_s": 20.0}))
    peer.play(Hang(30))
    base = peer.calls
    with ThreadPoolExecutor(1) as pool:
        hanging = pool.submit(answerer.ask, QUESTION_EN)
        while peer.calls < base + 1 and not hanging.done():
            time.sleep(0.05)

        busy = answerer.ask(QUESTION_EN)

        assert_extractive(busy, extractive[QUESTION_EN], BUSY)
        assert peer.calls == base + 1
        peer.stopping.set()  # the hanging call ends (503) and frees its slot
        assert hanging.result(timeout=30).notices == [UNAVAILABLE]


# --------------------------------------------------------------------------- over HTTP


def llm_notices(answer: dict) -> tuple[str, ...]:
    """The answer's notices about the LLM (a server also shows standing ones, e.g. dense retrieval off)."""
    return tuple(n for n in answer["notices"] if n.startswith("the language model"))


@pytest.fixture(scope="module")
def module_peer():
    llm = ScriptedLLM(default=Reply(GOOD_EN)).start()
    yield llm
    llm.stop()


@pytest.fixture(scope="module")
def llm_server(start_server, built_index, module_peer):
    return start_server(index_dir=built_index.index_dir, embedding_model=built_index.embedding_model,
                        llm_base_url=module_peer.base_url, llm_model="fake", llm_timeout_s=5)


def test_markup_and_links_never_reach_the_api_or_openai_json(llm_server, module_peer):
    module_peer.play(HOSTILE, HOSTILE)

    with httpx.Client(base_url=llm_server.url, timeout=60) as client:
        api = client.post("/api/ask", json={"question": QUESTION_EN}).json()
    oai = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="x", max_retries=0, timeout=60)
    completion = oai.chat.completions.create(model="recordqa", messages=[{"role": "user", "content": QUESTION_EN}])
    oai.close()

    content = completion.choices[0].message.content
    for text in (api["answer"], content, completion.model_extra["recordqa"]["answer"]):
        assert text.endswith("[¶3]") and "Martha Delgado Peralta" in text
        for active in ACTIVE:
            assert active not in text
    assert api["mode"] == "llm:fake" and [c["paragraph"] for c in api["citations"]] == ["3"]


def test_healthz_names_the_llm_and_its_circuit(llm_server):
    health = httpx.get(f"{llm_server.url}/healthz", timeout=30).json()

    assert health["llm"] == {"configured": True, "model": "fake", "circuit": "closed"}


def test_healthz_without_an_llm_says_so(server):
    health = httpx.get(f"{server.url}/healthz", timeout=30).json()

    assert health["llm"] == {"configured": False, "model": None, "circuit": None}


def test_hanging_llm_blocks_neither_health_nor_paragraphs_and_the_breaker_stops_calling_it(start_server,
                                                                                          built_index):
    """45 questions reach a server whose LLM hangs for longer than its timeout: health checks and
    paragraphs still answer within seconds, the questions beyond the LLM's slots are answered
    extractively at once, and once the breaker opens the LLM is not called any more."""
    peer = ScriptedLLM(default=Reply(GOOD_EN)).start()  # answers the server's warm-up questions
    try:
        server = start_server(index_dir=built_index.index_dir, embedding_model=built_index.embedding_model,
                              llm_base_url=peer.base_url, llm_model="fake", llm_timeout_s=10,
                              llm_concurrency=4, llm_breaker_failures=3, llm_breaker_cooldown_s=600)
        peer.default = Hang(60)
        before = peer.calls
        with httpx.Client(base_url=server.url, timeout=120, limits=httpx.Limits(max_connections=50)) as client, \
                ThreadPoolExecutor(max_workers=45) as pool:
            asks = [pool.submit(client.post, "/api/ask", json={"question": QUESTION_EN}) for _ in range(45)]
            deadline = time.monotonic() + 60
            while peer.calls < before + 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert peer.calls == before + 4, "every LLM slot should be waiting on the hanging model"

            # A generous client timeout, far below the LLM's: a blocked server would not answer in it.
            health = httpx.get(f"{server.url}/healthz", timeout=5)
            paragraph = httpx.get(f"{server.url}/api/paragraphs/3", timeout=5)
            assert health.status_code == 200 and health.json()["llm"]["circuit"] == "closed"
            assert paragraph.status_code == 200 and paragraph.json()["id"] == "3"

            answers = [future.result().json() for future in asks]

        notices = sorted(llm_notices(a) for a in answers)
        assert notices == sorted([(BUSY,)] * 41 + [(UNAVAILABLE,)] * 4)
        assert all(a["mode"] == "extractive" and [c["paragraph"] for c in a["citations"]] == ["3"] for a in answers)
        assert httpx.get(f"{server.url}/healthz", timeout=5).json()["llm"]["circuit"] == "open"

        calls = peer.calls
        with httpx.Client(base_url=server.url, timeout=5) as client:
            later = [client.post("/api/ask", json={"question": q}).json() for q in (QUESTION_EN, QUESTION_ZH)]
        assert [llm_notices(a) for a in later] == [(PAUSED,), (PAUSED,)]
        assert all(a["mode"] == "extractive" and a["citations"] for a in later)
        assert peer.calls == calls, "the open breaker must keep the server from calling the LLM"
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert 'recordqa_answers_total{mode="extractive",outcome="answered"} 47.0' in metrics
        for reason, count in (("busy", 41), ("failed", 4), ("paused", 2)):
            assert f'recordqa_llm_fallbacks_total{{reason="{reason}"}} {count}.0' in metrics
    finally:
        peer.stop()
