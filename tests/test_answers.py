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


def test_english_question_finds_fact_stated_in_chinese_record(answerer):
    answer = answerer.ask("Which city did Ridwan Kamil govern as mayor before becoming governor?")
    assert answer.lang == "en"
    assert "11" in answer.retrieved[:5]
    assert "Bandung" in answer.answer


def test_chinese_question_is_answered_in_chinese_with_citation(answerer):
    answer = answerer.ask("谁当选为人居大会第一届会议主席？")
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
        {"id": "a", "question": "谁当选为人居大会第一届会议主席？", "lang": "zh", "gold_paragraphs": ["3"],
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


# --- abstaining on what the record does not say, answering what it does ------------------------------


@pytest.mark.parametrize("question, named", [
    ("What did Australia propose at the session?", "Australia"),
    ("澳大利亚代表团在本届会议上提出了什么建议？", "澳大利亚"),
    ("What was the date of the 8th plenary meeting?", "8th"),
])
def test_abstains_naming_what_the_record_never_mentions(answerer, question, named):
    answer = answerer.ask(question)
    assert answer.abstained and answer.citations == []
    assert named in answer.reason


@pytest.mark.parametrize("question, named", [
    ("What did the representative of Brazil say during the general debate?", "Brazil"),
    ("德国代表在一般性辩论中发言说了什么？", "德国"),
])
def test_abstains_when_the_passage_on_the_topic_does_not_name_the_country(answerer, question, named):
    """Brazil and Germany are in the record (Executive Board, Vice-Presidents), but not in the
    paragraph on the general debate: a list naming them is no answer about the debate."""
    answer = answerer.ask(question)
    assert answer.abstained
    assert named in answer.reason and "¶60" in answer.reason


def test_question_naming_a_person_in_the_record_still_answers(answerer):
    answer = answerer.ask("Which country is Martha Delgado Peralta from?")
    assert not answer.abstained
    assert "Mexico" in answer.answer and "[¶3]" in answer.answer


def test_which_country_question_needs_the_country_stated_with_the_person(answerer):
    """¶4 names James Ohayo and, in another sentence, Canada (for Emma Stephens)."""
    answer = answerer.ask("James Ohayo 先生是哪国人？")
    assert answer.abstained
    assert "国家" in answer.reason


def test_which_states_question_quotes_the_list_of_countries(answerer):
    answer = answerer.ask("Which African States were elected to the Executive Board?")
    assert not answer.abstained
    assert "Angola" in answer.answer and "[¶45]" in answer.answer


@pytest.mark.parametrize("question, how", [
    ("How many votes did Serbia receive in the election to the Executive Board?", "acclamation"),
    ("人居大会以多少票赞成通过了议事规则？", "协商一致"),
])
def test_abstains_on_a_vote_count_for_a_decision_taken_without_a_vote(answerer, question, how):
    answer = answerer.ask(question)
    assert answer.abstained
    assert how in answer.reason


def test_how_a_decision_was_taken_still_answers(answerer):
    answer = answerer.ask("How was the President of the Assembly elected?")
    assert not answer.abstained
    assert "acclamation" in answer.answer


def test_abstains_when_the_best_match_is_an_item_still_to_be_completed(answerer):
    """The agenda list names "Other matters", but the paragraph under that item is [to be completed]."""
    answer = answerer.ask("What was taken up under the item on other matters?")
    assert answer.abstained
    assert "¶68" in answer.reason


def test_abstains_on_a_final_outcome_the_record_does_not_report(answerer):
    answer = answerer.ask("人居大会最终是否核准了 2020-2025 年期间战略计划？")
    assert answer.abstained
    assert "结果" in answer.reason


def test_agenda_item_question_answers_from_the_paragraphs_under_the_item(answerer):
    answer = answerer.ask("议程项目 4 之下作出了什么决定？")
    assert not answer.abstained
    assert "HSP/HA/1/8" in answer.answer and "[¶35]" in answer.answer


@pytest.mark.parametrize("question, expected", [
    ("Which rule did the President invoke when a representative objected to the election?", "rule 42"),
    ("世界城市论坛的报告是在第几次全体会议上审议的？", "第 3 次"),
    ("Which General Assembly resolution dissolved the Governing Council?", "73/239"),
])
def test_answer_holds_the_kind_of_reference_asked_for(answerer, question, expected):
    answer = answerer.ask(question)
    assert not answer.abstained
    assert expected in answer.answer


def test_agenda_titles_are_not_quoted_as_answers_to_other_questions(answerer):
    answer = answerer.ask("On what dates will the second session of the UN-Habitat Assembly be held?")
    assert "15. Provisional agenda" not in answer.answer


def test_abstains_on_a_place_the_record_never_mentions(answerer):
    answer = answerer.ask("Why did the Assembly meet in Vienna?")
    assert answer.abstained
    assert "Vienna" in answer.reason


def test_abstains_when_the_matching_passage_has_only_a_placeholder_symbol(answerer):
    """¶28 gives the list of participants as HSP/HA/1/XX; another paragraph's symbol is no answer."""
    answer = answerer.ask("Which document contains the full list of participants?")
    assert answer.abstained
    assert "placeholder" in answer.reason and "¶28" in answer.reason


def test_abstains_when_the_matching_sentence_points_to_a_missing_annex(answerer):
    answer = answerer.ask("What did the President's summary of the high-level dialogues say?")
    assert answer.abstained
    assert "annex" in answer.reason


def test_why_question_answers_with_a_reason_from_the_same_passage(answerer):
    answer = answerer.ask("Why did the Committee recommend that the Assembly elect the Bureau of the Committee "
                          "at its first session?")
    assert not answer.abstained
    assert "exceptional circumstances" in answer.answer
    false_premise = answerer.ask("Why did the Assembly reject the proposal to establish a drafting committee?")
    assert false_premise.abstained


def test_agenda_item_question_answers_from_that_item_only(answerer):
    """"2nd plenary meeting" elsewhere must not outrank the paragraph under agenda item 2."""
    answer = answerer.ask("What was decided under agenda item 2 of the session?")
    assert not answer.abstained
    assert "Delgado Peralta" in answer.answer and [c.paragraph for c in answer.citations] == ["3"]


def test_list_the_states_question_quotes_the_countries(answerer):
    answer = answerer.ask("List the Eastern European States elected to the Executive Board.")
    assert not answer.abstained
    assert "Poland" in answer.answer and "Serbia" in answer.answer


def test_number_from_a_sentence_about_someone_else_is_no_answer(answerer):
    """¶4: Emma Stephens spoke; in the next clause, Ms. Suri's activity was "为期一周" (week-long)."""
    answer = answerer.ask("Emma Stephens 女士今年多大年纪？")
    assert answer.abstained


def test_statement_outranks_the_roll_of_speakers_for_what_someone_said(answerer):
    """¶5 lists the opening speakers (Kenyatta, the Secretary-General); what Kenyatta asked of
    the Secretary-General is in his statement, ¶21."""
    answer = answerer.ask("肯雅塔总统希望联合国秘书长在钱的方面为人居署做些什么？")
    assert not answer.abstained
    assert "经常预算" in answer.answer and "[¶21]" in answer.answer
    assert "5" not in [c.paragraph for c in answer.citations]


def test_roll_of_speakers_still_answers_who_and_statement_still_abstains_on_what_it_lacks(answerer):
    who = answerer.ask("Who delivered opening statements by video message?")
    assert not who.abstained and "Guterres" in who.answer and "[¶5]" in who.answer
    answer = answerer.ask("肯雅塔总统希望联合国秘书长在哪一年为人居署增加经常预算拨款？")
    assert answer.abstained


@pytest.mark.parametrize("question, first_item", [
    ("谢里夫女士认为人居大会应当抓住的三个机会分别是什么？", "妥善管理和精心规划的城市"),
    ("What were the three opportunities that Ms. Sharif said the Assembly should seize?", "well-managed"),
])
def test_a_sentence_announcing_an_enumeration_is_quoted_with_its_first_item(answerer, question, first_item):
    """¶17: "She identified three specific opportunities…" names none; the next sentence, "First, …", does."""
    answer = answerer.ask(question)
    assert not answer.abstained
    assert first_item in answer.answer and "[¶17]" in answer.answer


@pytest.mark.parametrize("question", [
    "谢里夫女士提出的三个机会是由哪个国家首先提议的？",
    "Which country proposed the three opportunities Ms. Sharif identified?",
])
def test_an_enumeration_still_abstains_on_what_it_does_not_state(answerer, question):
    answer = answerer.ask(question)
    assert answer.abstained


def test_question_about_the_agenda_itself_reaches_the_agenda_list(answerer):
    """No item is named, yet the agenda list (¶36) is what the question is about."""
    answer = answerer.ask("On the basis of which document was the agenda of the session adopted?")
    assert "36" in answer.retrieved[:5]
    assert not answer.abstained and "HSP/HA/1/1" in answer.answer and "[¶36]" in answer.answer
    assert "36" in answerer.ask("本届会议的议程是依据哪份文件通过的？").retrieved[:5]


def test_agenda_list_still_abstains_on_what_it_does_not_state(answerer):
    answer = answerer.ask("Which country proposed the oral amendment to the agenda of the session?")
    assert "36" in answer.retrieved[:5]
    assert answer.abstained


def test_titles_named_agenda_are_not_the_session_agenda():
    from qa.question_type import about_agenda
    assert about_agenda("What was the final item on the agenda of the session?")
    assert about_agenda("本届会议的议程是依据议事规则哪一条通过的？")
    assert not about_agenda("How did Mr. Kenyatta characterize progress in implementing the New Urban Agenda?")
    assert not about_agenda("秘书长关于《新城市议程》执行情况的首份进展报告的文号是什么？")
    assert not about_agenda("战略计划草案挂钩的全球议程中，关于难民和移民的是哪一份宣言？")
    assert not about_agenda("What was decided under agenda item 4?")


@pytest.mark.parametrize("question, country", [
    ("Name the Latin American and Caribbean members of the Executive Board.", "Argentina"),
    ("请列出执行局的拉丁美洲和加勒比成员。", "阿根廷"),
])
def test_members_of_a_regional_group_are_answered_with_the_states(answerer, question, country):
    """¶44 gives the group's seats (a sentence naming the group); ¶45 names its States."""
    answer = answerer.ask(question)
    assert not answer.abstained
    assert country in answer.answer and "[¶45]" in answer.answer


def test_regional_group_question_still_abstains_when_no_state_is_named(answerer):
    """¶47: "a representative objected" names no State."""
    answer = answerer.ask("Which Eastern European members objected to the election and asked for a vote?")
    assert answer.abstained


def test_abstains_when_what_is_asked_for_is_a_word_the_record_never_uses(answerer):
    """¶4 mentions Nairobi and a week-long activity; the record never mentions the weather."""
    answer = answerer.ask("What was the weather like in Nairobi during the session week?")
    assert answer.abstained
    assert "weather" in answer.reason


def test_what_is_asked_for_in_the_record_still_answers(answerer):
    answer = answerer.ask("What was the overall theme of the session?")
    assert not answer.abstained
    assert "overall theme" in answer.answer


def test_question_focus_is_the_thing_asked_for():
    from qa.question_type import question_focus
    assert question_focus("What was the weather like in Nairobi?", "en") == "weather"
    assert question_focus("What is the annual budget of the city of Nairobi?", "en") == "annual budget"
    assert question_focus("Who opened the session?", "en") == ""
    assert question_focus("会议期间内罗毕的天气怎么样？", "zh") == ""


def test_the_paragraph_naming_the_person_that_matches_the_rest_is_read(answerer):
    """Kenyatta's statement runs over ¶19-¶21 and progress on the New Urban Agenda is in ¶21; with the
    ranking hybrid retrieval gives (¶51, ¶50, ¶55 on the Agenda first, none naming him; ¶19 before
    ¶21), the answerer reads ¶21, not merely the first paragraph that names him."""
    from qa.extractive import extractive_answer
    from qa.retrieve import Query

    question = "How did Mr. Kenyatta characterize progress so far in implementing the New Urban Agenda?"
    retriever = answerer.retriever
    retrieved = retriever.retrieve(Query(question, "en"))
    keys = [f"HSP-HA-1:{n}" for n in ("51", "50", "55", "19", "58", "52", "53", "21", "13", "5")]
    own = {"en": retrieved.terms["en"]}
    named = {"en": retriever.named_tokens(Query(question, "en"), "en")}
    retrieved.keys = keys
    retrieved.evidence = {k: retriever._evidence(k, own, named) for k in keys}
    draft = extractive_answer(question, retrieved, answerer.index.corpus, answerer.tokenizer, lang="en",
                              min_evidence=answerer.options.min_evidence)
    assert not draft.abstained
    assert "slow" in draft.text and "[¶21]" in draft.text


def test_the_person_is_still_required_in_the_paragraph_read(answerer):
    answer = answerer.ask("What did Mr. Kenyatta say about the quadrennial report on the New Urban Agenda?")
    assert answer.abstained
