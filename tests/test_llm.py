"""The LLM answerer against a real HTTP peer: a fake OpenAI-compatible server on 127.0.0.1.

Whatever the model replies, the user gets citations of retrieved paragraphs only, an abstention
when none is left, and the extractive answer with a visible notice when the model fails.
"""

from __future__ import annotations

import shutil
import time

import pytest

from qa.language_pack import load_packs
from qa.prompt import PromptError, load_prompts
from recordqa.factories import make_answerer
from recordqa.settings import PROJECT_ROOT

QUESTION_ZH = "人居大会第一届会议选举谁为主席？"
QUESTION_EN = "Who was elected President of the first session of the UN-Habitat Assembly?"
UNAVAILABLE = "the language model is unavailable; showing the extractive answer"
LLM_PARAGRAPHS = 5
"""The pipeline shows the model the top max(answer_paragraphs, 5) retrieved paragraphs."""


@pytest.fixture
def llm_settings(built_index, fake_llm):
    return built_index.model_copy(update={"llm_base_url": fake_llm.base_url, "llm_model": "fake",
                                          "llm_timeout_s": 1.0})


@pytest.fixture(scope="module")
def extractive(built_index):
    """The answers without an LLM, to compare fallbacks with."""
    answerer = make_answerer(built_index)
    return {q: answerer.ask(q) for q in (QUESTION_ZH, QUESTION_EN)}


def test_reply_citing_a_retrieved_paragraph_keeps_it(llm_settings, fake_llm):
    fake_llm.reply({"answer": "人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）为主席。[¶3]",
                    "citations": ["3"]})

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    assert answer.mode == "llm:fake"
    assert not answer.abstained
    assert answer.answer == "人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）为主席。[¶3]"
    assert [(c.paragraph, c.record) for c in answer.citations] == [("3", "HSP-HA-1")]
    assert "Martha Delgado Peralta" in answer.citations[0].quote
    assert answer.citations[0].quote in make_answerer(llm_settings).index.corpus.get("HSP-HA-1:3", "zh").text
    assert "3" in answer.retrieved[:LLM_PARAGRAPHS]
    assert answer.notices == []
    assert len(fake_llm.requests) == 1


def test_plain_text_reply_with_markers_is_accepted(llm_settings, fake_llm):
    fake_llm.reply("Ms. Martha Delgado Peralta (Mexico) was elected President by acclamation. [¶3]")

    answer = make_answerer(llm_settings).ask(QUESTION_EN)

    assert answer.mode == "llm:fake" and answer.lang == "en"
    assert [c.paragraph for c in answer.citations] == ["3"]
    assert answer.answer.endswith("[¶3]")


def _not_retrieved(answer) -> str:
    return next(str(n) for n in range(1, 70) if str(n) not in answer.retrieved)


@pytest.mark.parametrize("stray", ["99", "not retrieved", "retrieved but not shown"])
def test_citation_of_a_paragraph_not_retrieved_is_dropped(llm_settings, fake_llm, extractive, stray):
    retrieved = extractive[QUESTION_ZH].retrieved
    ref = {"99": "99", "not retrieved": _not_retrieved(extractive[QUESTION_ZH]),
           "retrieved but not shown": retrieved[LLM_PARAGRAPHS]}[stray]
    assert ref != "3"
    fake_llm.reply({"answer": f"Martha Delgado Peralta 女士当选为主席 [¶3]，她来自墨西哥 [¶{ref}]。",
                    "citations": ["3", ref]})

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    assert answer.retrieved == retrieved
    assert [c.paragraph for c in answer.citations] == ["3"]
    assert f"[¶{ref}]" not in answer.answer
    assert answer.answer == "Martha Delgado Peralta 女士当选为主席 [¶3]，她来自墨西哥。"
    assert not answer.abstained


@pytest.mark.parametrize("reply", [
    {"answer": "Martha Delgado Peralta 女士当选为主席。[¶99]", "citations": ["99"]},
    {"answer": "Martha Delgado Peralta 女士当选为主席。", "citations": []},
    "Martha Delgado Peralta 女士当选为主席。",
], ids=["only-invalid", "json-none", "plain-none"])
def test_reply_without_a_valid_citation_abstains(llm_settings, fake_llm, reply):
    fake_llm.reply(reply)

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    assert answer.abstained
    assert answer.citations == []
    assert answer.answer == load_packs()["zh"].message("nothing")
    assert "Martha" not in answer.answer
    assert answer.mode == "llm:fake"


def test_refusal_without_citations_is_kept_as_the_abstention(llm_settings, fake_llm):
    fake_llm.reply({"answer": "The record does not answer this question.", "citations": []})

    answer = make_answerer(llm_settings).ask("What was the budget of the first session?")

    assert answer.abstained and answer.citations == []
    assert answer.answer == "The record does not answer this question."


def _assert_extractive_fallback(answer, expected, notice: str) -> None:
    assert answer.mode == "extractive"
    assert answer.answer == expected.answer
    assert answer.citations == expected.citations
    assert answer.retrieved == expected.retrieved
    assert answer.notices == [notice]


def test_reply_in_the_wrong_language_falls_back_to_extractive(llm_settings, fake_llm, extractive):
    fake_llm.reply({"answer": "Ms. Martha Delgado Peralta (Mexico) was elected President. [¶3]",
                    "citations": ["3"]})

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    _assert_extractive_fallback(answer, extractive[QUESTION_ZH],
                                "the language model answered in the wrong language; showing the extractive answer")
    assert "[¶3]" in answer.answer and "Martha Delgado Peralta" in answer.answer


def test_timeout_falls_back_to_extractive_with_a_notice(llm_settings, fake_llm, extractive):
    fake_llm.sleep(5)

    answerer = make_answerer(llm_settings)
    started = time.perf_counter()
    answer = answerer.ask(QUESTION_EN)
    elapsed = time.perf_counter() - started

    _assert_extractive_fallback(answer, extractive[QUESTION_EN], UNAVAILABLE)
    assert elapsed < 4, "llm_timeout_s=1 was not honoured"
    assert len(fake_llm.requests) == 1


def test_http_500_falls_back_to_extractive_with_a_notice(llm_settings, fake_llm, extractive):
    fake_llm.fail(500, "model exploded")

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    assert answer.mode == "extractive"
    assert answer.answer == extractive[QUESTION_ZH].answer
    # The upstream error text is logged, never shown: the user gets the fixed notice.
    assert answer.notices == [UNAVAILABLE]
    assert len(fake_llm.requests) == 1, "no retries: max_retries=0"


def test_unreachable_endpoint_falls_back_with_a_notice(llm_settings, fake_llm, extractive):
    fake_llm.server.shutdown()
    fake_llm.server.server_close()

    answer = make_answerer(llm_settings).ask(QUESTION_ZH)

    assert answer.mode == "extractive"
    assert answer.answer == extractive[QUESTION_ZH].answer
    assert answer.notices == [UNAVAILABLE]


def test_prompt_holds_the_retrieved_paragraphs_with_markers_and_the_question(llm_settings, fake_llm):
    fake_llm.reply({"answer": "Martha Delgado Peralta 女士当选为主席。[¶3]", "citations": ["3"]})
    answerer = make_answerer(llm_settings)

    answer = answerer.ask(QUESTION_ZH)

    [request] = fake_llm.requests
    assert request["model"] == "fake"
    assert request["temperature"] == 0
    assert request.get("stream") in (None, False)
    system, user = request["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "Answer in Chinese (简体中文)" in system["content"]
    assert '{"answer": "...", "citations": ["N", ...]}' in system["content"]
    assert user["content"].endswith(f"Question: {QUESTION_ZH}")
    shown = answer.retrieved[:LLM_PARAGRAPHS]
    corpus = answerer.index.corpus
    for number in shown:
        paragraph = corpus.get(f"HSP-HA-1:{number}", "zh")
        assert f"[¶{number}] ({paragraph.section or paragraph.chapter})\n{paragraph.text}" in user["content"]
    markers = [line.split("]")[0] + "]" for line in user["content"].splitlines() if line.startswith("[¶")]
    assert markers == [f"[¶{n}]" for n in shown]
    assert corpus.get("HSP-HA-1:45", "zh").text not in user["content"]


def test_english_question_gets_an_english_prompt_with_english_paragraphs(llm_settings, fake_llm):
    fake_llm.reply({"answer": "Ms. Martha Delgado Peralta was elected. [¶3]", "citations": ["3"]})
    answerer = make_answerer(llm_settings)

    answerer.ask(QUESTION_EN)

    system, user = fake_llm.messages()
    assert "Answer in English" in system["content"]
    assert answerer.index.corpus.get("HSP-HA-1:3", "en").text in user["content"]
    assert answerer.index.corpus.get("HSP-HA-1:3", "zh").text not in user["content"]


HISTORY = [
    {"role": "user", "content": QUESTION_ZH},
    {"role": "assistant", "content": "人居大会选举 Martha Delgado Peralta 女士（墨西哥）为主席。[¶3]"},
]
FOLLOW_UP = "她来自哪个国家？"
REWRITTEN = "Martha Delgado Peralta 女士来自哪个国家？"


def test_follow_up_is_condensed_first_and_the_rewrite_is_answered(llm_settings, fake_llm):
    fake_llm.reply(REWRITTEN, {"answer": "她来自墨西哥。[¶3]", "citations": ["3"]})

    answer = make_answerer(llm_settings).ask(FOLLOW_UP, history=HISTORY)

    assert len(fake_llm.requests) == 2
    condense_system, condense_user = fake_llm.messages(0)
    assert condense_system["content"].startswith("You rewrite a follow-up question")
    assert "(zh)" in condense_system["content"]
    assert f"user: {QUESTION_ZH}\nassistant: {HISTORY[1]['content']}" in condense_user["content"]
    assert f"Follow-up question: {FOLLOW_UP}" in condense_user["content"]
    _, answer_user = fake_llm.messages(1)
    assert answer_user["content"].endswith(f"Question: {REWRITTEN}")
    assert FOLLOW_UP not in answer_user["content"]
    assert answer.standalone_question == REWRITTEN
    assert answer.question == FOLLOW_UP
    assert answer.retrieved[0] == "3"
    assert [c.paragraph for c in answer.citations] == ["3"]
    assert answer.answer == "她来自墨西哥。[¶3]"
    assert answer.notices == []


def test_failed_condense_falls_back_to_the_heuristic_with_a_notice(llm_settings, fake_llm):
    fake_llm.fail(500)
    fake_llm.reply({"answer": "她来自墨西哥。[¶3]", "citations": ["3"]})

    answer = make_answerer(llm_settings).ask(FOLLOW_UP, history=HISTORY)

    assert answer.notices == ["follow-up rewrite failed; using the conversation heuristically"]
    assert answer.standalone_question == f"{QUESTION_ZH} {FOLLOW_UP}"
    assert answer.mode == "llm:fake"
    assert [c.paragraph for c in answer.citations] == ["3"]


def _copy_prompts(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for path in (PROJECT_ROOT / "prompts").glob("*.txt"):
        shutil.copy(path, folder / path.name)
    return folder


def test_shipped_prompts_load():
    prompts = load_prompts(PROJECT_ROOT / "prompts")
    assert set(prompts.answer.input_variables) == {"language", "paragraphs", "question"}
    assert set(prompts.condense.input_variables) == {"language", "history", "question"}


def test_prompt_missing_a_variable_raises_at_load(tmp_path, llm_settings, fake_llm):
    folder = _copy_prompts(tmp_path)
    user = folder / "answer_user.txt"
    user.write_text(user.read_text(encoding="utf-8").replace("{question}", "the question"), encoding="utf-8")

    with pytest.raises(PromptError, match=r"prompt 'answer' in .*: missing variables \['question'\]"):
        load_prompts(folder)
    with pytest.raises(PromptError, match=r"missing variables \['question'\]"):
        make_answerer(llm_settings.model_copy(update={"prompts_dir": folder}))
    assert fake_llm.requests == []


def test_prompt_with_an_unknown_variable_or_missing_file_raises(tmp_path):
    folder = _copy_prompts(tmp_path)
    system = folder / "condense_system.txt"
    system.write_text(system.read_text(encoding="utf-8") + "\nSpeaker: {speaker}", encoding="utf-8")
    with pytest.raises(PromptError, match=r"prompt 'condense' .*unknown variables \['speaker'\]"):
        load_prompts(folder)

    (folder / "answer_system.txt").unlink()
    with pytest.raises(PromptError, match=r"answer_system\.txt is missing"):
        load_prompts(folder)


def test_without_llm_no_prompts_are_needed(built_index, tmp_path):
    """Extractive mode must not fail on a broken prompts folder it never uses."""
    answerer = make_answerer(built_index.model_copy(update={"prompts_dir": tmp_path / "nowhere"}))
    assert answerer.mode == "extractive"
    assert answerer.ask(QUESTION_EN).citations[0].paragraph == "3"
