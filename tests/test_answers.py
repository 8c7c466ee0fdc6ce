"""End-to-end answers on the shipped record (lexical index, no LLM): retrieval across languages,
citations, abstention, follow-ups and the eval runner's output."""

import json

import pytest

from eval.run import load_dataset, run_eval
from indexer.build import build_index
from indexer.corpus import load_corpus
from indexer.live import LiveIndex
from qa.answer import QuestionError
from recordqa.factories import make_answerer, make_tokenizer
from recordqa.settings import PROJECT_ROOT, Settings


@pytest.fixture(scope="module")
def answerer(tmp_path_factory):
    root = tmp_path_factory.mktemp("answers")
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", retrieval_mode="lexical")
    tokenizer = make_tokenizer(settings)
    build_index(load_corpus([settings.records_dir]), index_dir=settings.index_dir, tokenizer=tokenizer,
                embedders=[], index_key=settings.index_key(), settings_snapshot={}, progress=False)
    return make_answerer(settings, index=LiveIndex.open(settings.index_dir), tokenizer=tokenizer, embedders=[],
                         llm=None)


def test_english_question_retrieves_a_fact_stated_in_chinese_record(answerer):
    answer = answerer.ask("Which city did Ridwan Kamil govern as mayor before becoming governor?")
    assert answer.lang == "en"
    assert "11" in answer.retrieved[:5]


@pytest.mark.xfail(strict=True, reason="known: without semantic search the roll of speakers (¶5, which names his "
                   "province) outscores ¶11's 'Mayor of Bandung' for the lexical selector")
def test_english_question_quotes_the_city_without_semantic_search(answerer):
    answer = answerer.ask("Which city did Ridwan Kamil govern as mayor before becoming governor?")
    assert "Bandung" in answer.answer


def test_chinese_question_is_answered_in_chinese_with_citation(answerer):
    answer = answerer.ask("人居大会第一届会议选举谁为主席？")
    assert not answer.abstained
    assert "Martha Delgado Peralta" in answer.answer
    assert "[¶3]" in answer.answer
    assert [c.paragraph for c in answer.citations] == ["3"]


def test_english_answer_quotes_english_text(answerer):
    answer = answerer.ask("How many members of the Executive Board were elected?")
    assert "36" in answer.answer
    assert "执行局" not in answer.answer
    assert {c.paragraph for c in answer.citations} <= set(answer.retrieved)


def test_every_citation_is_a_retrieved_existing_paragraph(answerer):
    for question in ["议程项目 4 之下作出了什么决定？", "What was item 12 of the agenda?",
                     "Which African States were elected to the Executive Board?", "世界人居日的主题是什么？"]:
        answer = answerer.ask(question)
        for citation in answer.citations:
            assert citation.paragraph in answer.retrieved
            assert 1 <= int(citation.paragraph) <= 69
            assert citation.quote


def test_agenda_item_question_reaches_the_agenda_list(answerer):
    answer = answerer.ask("What was item 12 of the agenda?")
    assert "36" in answer.retrieved[:3]
    assert "World Urban Forum" in answer.answer


def test_abstains_on_paragraph_to_be_completed(answerer):
    answer = answerer.ask("哪些人居大会会员国派代表出席了会议？")
    assert answer.abstained
    # ¶23 (member States) and ¶24 (non-member States) both read "...were represented: [待补]".
    assert ("¶23" in answer.answer or "¶24" in answer.answer) and answer.citations == []


def test_abstains_when_record_gives_only_a_placeholder_name(answerer):
    answer = answerer.ask("What is the name of the rapporteur of the first session?")
    assert answer.abstained
    assert "placeholder" in answer.reason


def test_abstains_when_asked_amount_is_not_stated(answerer):
    answer = answerer.ask("肯尼亚承诺向基金会增加的捐款具体是多少钱？")
    assert answer.abstained


def test_follow_up_uses_the_earlier_turn(answerer):
    first = "Who was elected President of the UN-Habitat Assembly?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": answerer.ask(first).answer}]
    answer = answerer.ask("and from which country?", history=history)
    assert answer.standalone_question.startswith(first)
    assert "3" in answer.retrieved[:3]
    assert not answer.abstained
    alone = answerer.ask("and from which country?")
    assert "3" not in alone.retrieved[:3]


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01"])
def test_empty_question_is_refused(answerer, question):
    with pytest.raises(QuestionError, match="empty"):
        answerer.ask(question)


def test_eval_writes_results_json(answerer, tmp_path):
    dataset = tmp_path / "tiny.jsonl"
    rows = [
        {"id": "a", "question": "人居大会第一届会议选举谁为主席？", "lang": "zh", "gold_paragraphs": ["3"],
         "answers": ["Martha Delgado Peralta"], "answerable": True},
        {"id": "b", "question": "下列哪些会员国派代表出席了会议？", "lang": "zh", "gold_paragraphs": ["23"],
         "answers": [], "answerable": False},
    ]
    dataset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    results = run_eval(answerer, load_dataset(dataset), out_dir=tmp_path / "out")
    written = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(results, ensure_ascii=False))
    assert [i["id"] for i in written["items"]] == ["a", "b"]
    assert set(written["items"][0]) >= {"id", "retrieved", "answer", "citations", "abstained", "latency_ms"}
    assert written["items"][0]["citations"] == ["3"]
    assert written["items"][1]["abstained"] is True
    assert written["summary"]["overall"]["hit@5"] == 1.0
    assert written["summary"]["overall"]["abstain_rate_unanswerable"] == 1.0


def test_shipped_dev_set_meets_retrieval_target(answerer):
    """The issue's hit@5 target on the shipped development set, per language."""
    results = run_eval(answerer, load_dataset(PROJECT_ROOT / "eval" / "benchmark" / "dev.jsonl"))
    summary = results["summary"]
    assert len(results["items"]) >= 80
    assert summary["zh"]["hit@5"] >= 0.94 and summary["en"]["hit@5"] >= 0.94
    assert summary["overall"]["citations_retrieved"] == 1.0


# --- outcomes, confidence and the analysis behind them -------------------------------------------------


def _fit(answer_threshold: float, indirect_threshold: float, ratio: float = 0.8):
    """The shipped lexical fit with other operating thresholds."""
    import dataclasses

    from qa.answer_model import load_answer_model

    shipped = load_answer_model()
    fit = dataclasses.replace(shipped.fits["lexical"], answer_threshold=answer_threshold,
                              indirect_threshold=indirect_threshold, extra_sentence_ratio=ratio)
    return dataclasses.replace(shipped, fits={"lexical": fit})


def _answerer_with(answerer, model):
    from recordqa.factories import make_answerer

    root = answerer.index.folder.parents[2]  # <root>/index/builds/<build>
    settings = Settings(index_dir=root / "index", cache_dir=root / "cache", retrieval_mode="lexical")
    return make_answerer(settings, index=answerer.index, tokenizer=answerer.analyser.tokenizer, embedders=[],
                         llm=None, answer_model=model)


def test_an_answer_carries_its_outcome_and_a_calibrated_confidence(answerer):
    fit = answerer.extractive.model.fit_for(None)
    answered = answerer.ask("人居大会第一届会议选举谁为主席？")
    assert answered.outcome == "answer" and not answered.abstained
    assert fit.answer_threshold <= answered.confidence <= 1
    refused = answerer.ask("哪些人居大会会员国派代表出席了会议？")
    assert refused.outcome == "abstain" and refused.abstained and refused.citations == []
    assert 0 <= refused.confidence < fit.indirect_threshold
    assert {"outcome", "confidence"} <= set(answered.public_json())


def test_between_the_thresholds_the_closest_passages_are_cited_without_a_claim(answerer):
    from qa.language_pack import load_packs

    unsure = _answerer_with(answerer, _fit(answer_threshold=1.01, indirect_threshold=0.0))
    answer = unsure.ask("How many members of the Executive Board were elected?")
    assert answer.outcome == "indirect" and answer.abstained
    lead = load_packs()["en"].message("indirect")
    assert answer.answer.startswith(lead) and answer.reason == lead
    assert answer.citations and {c.paragraph for c in answer.citations} <= set(answer.retrieved)
    assert all(c.quote in answer.answer for c in answer.citations)


def test_a_lower_threshold_answers_what_a_higher_one_refuses(answerer):
    question = "What is the budget of UN-Habitat for 2020?"
    never = _answerer_with(answerer, _fit(answer_threshold=1.01, indirect_threshold=1.01)).ask(question)
    always = _answerer_with(answerer, _fit(answer_threshold=0.0, indirect_threshold=0.0)).ask(question)
    assert never.outcome == "abstain" and never.reason and never.citations == []
    assert always.outcome == "answer" and always.citations


def test_several_sentences_scoring_close_to_the_best_are_quoted_and_cited_in_record_order(answerer):
    generous = _answerer_with(answerer, _fit(answer_threshold=0.0, indirect_threshold=0.0, ratio=0.0))
    answer = generous.ask("Who opened the session and who was elected President of the Assembly?")
    cited = [c.paragraph for c in answer.citations]
    assert len(answer.answer.split("[¶")) - 1 == 2
    assert cited == sorted(cited, key=int) and set(cited) <= set(answer.retrieved)


def test_explain_shows_the_analysis_and_the_decision(answerer):
    answer = answerer.ask("How many members of the Executive Board were elected?", explain=True)
    analysis, decision = answer.explain["analysis"], answer.explain["decision"]
    assert analysis["answer_kind"] == "count" and analysis["lang"] == "en"
    assert "execut" in analysis["terms"]["en"] and "执行局" in analysis["terms"]["zh"]
    assert decision["answerability"] == answer.confidence
    assert decision["top_sentences"][0]["paragraph"] in answer.retrieved
    # The lexical fit weighs every feature but the embedding similarities, which this index lacks.
    assert set(decision["question_features"]) - set(decision["answerability_contributions"]) == {
        "best_sim", "top_para_sim"}
    assert "explain" not in answerer.ask("How many members of the Executive Board were elected?").public_json()


def test_the_question_is_analysed_once_per_answer(answerer, monkeypatch):
    calls = []
    analyse = answerer.analyser.analyse
    monkeypatch.setattr(answerer.analyser, "analyse", lambda *a, **k: calls.append(a) or analyse(*a, **k))
    first = "Who was elected President of the UN-Habitat Assembly?"
    answerer.ask(first)
    answerer.ask("and from which country?", history=[{"role": "user", "content": first}])
    assert len(calls) == 2
