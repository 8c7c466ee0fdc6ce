"""The question analysed once (qa/analysis.py) from the language packs (qa/lang/*.json) and the
gazetteer, and the answer shapes the features look for. Pure: no index, no model."""

import json

import pytest

from indexer.gazetteer import load_gazetteer
from indexer.glossary import load_glossary
from indexer.tokenize import Tokenizer
from qa.analysis import QuestionAnalyser
from qa.features import holds, is_roll
from qa.language_pack import PackError, load_pack, load_packs


@pytest.fixture(scope="module")
def packs():
    return load_packs()


@pytest.fixture(scope="module")
def gazetteer():
    return load_gazetteer()


@pytest.fixture(scope="module")
def analyser(packs, gazetteer, jieba_cache):
    tokenizer = Tokenizer(load_glossary(), jieba_cache / "jieba")
    record = "Vienna is not here. Ms. Delgado Peralta (Mexico) 2019 8th meeting 第 8 次 德国"
    vocab = {lang: {t: 1.0 for t in tokenizer.tokens(record, lang)} for lang in ("en", "zh")}
    return QuestionAnalyser(tokenizer=tokenizer, packs=packs, gazetteer=gazetteer, vocab=vocab, record_text=record)


@pytest.mark.parametrize("question, kind", [
    ("Which country is Martha Delgado Peralta from?", "country"),
    ("Which Latin American and Caribbean States were elected?", "country"),
    ("哪些东欧国家进入了执行局？", "country"),
    ("拉丁美洲和加勒比国家在执行局中分到几个席位？", "count"),
    ("Which General Assembly resolution replaced the Governing Council?", "reference"),
    ("本届会议的议程是依据议事规则哪一条通过的？", "reference"),
    ("人居大会是在第几次会议上决定设立起草委员会的？", "ordinal"),
    ("At which meeting was the drafting committee established?", "ordinal"),
    ("Emma Stephens 女士今年多大年纪？", "count"),
    ("What did the Committee suggest should happen to the working group?", None),
    ("Why was the first session held in Nairobi?", "reason"),
    ("人居大会为什么决定设立起草委员会？", "reason"),
    ("会议在哪里举行？", "place"),
    ("Where did the Assembly meet?", "place"),
])
def test_the_kind_of_answer_asked_for(analyser, question, kind):
    assert analyser.analyse(question).kind == kind


def test_what_a_question_names(analyser):
    def named(question):
        return {a.label: a.kind for a in analyser.analyse(question).anchors}
    assert named("Which country is Martha Delgado Peralta from?") == {"Martha Delgado Peralta": "name"}
    assert named("2019 年 5 月 31 日的第 8 次全体会议通过了什么？") == {
        "第 8 次": "ordinal", "2019": "number", "5": "number", "31": "number"}
    assert named("What did the Minister of Housing of France say?") == {"France": "country"}
    assert set(named("James Ohayo 先生是哪国人？")) == {"James Ohayo"}
    assert named("How did Mr. Kenyatta put it?") == {"Kenyatta": "name"}
    # Titles, institutions and acronyms are not names.
    assert named("Whom did the Goodwill Ambassador want to turn into envoys?") == {}
    assert named("What did the Kenyan President ask the UN Secretary-General?") == {}


def test_what_the_record_never_mentions_is_marked_absent(analyser):
    analysis = analyser.analyse("What did the delegate of Brazil say about Ms. Jane Doe?")
    assert {a.label for a in analysis.absent} == {"Brazil", "Jane Doe"}
    assert analyser.analyse("What did Ms. Delgado Peralta of Mexico say?").absent == ()
    # A lone capitalised word need only be somewhere in the record.
    assert [a.label for a in analyser.analyse("Why did the Assembly meet in Geneva?").absent] == ["Geneva"]
    assert analyser.analyse("Why did the Assembly meet in Vienna?").absent == ()


def test_anchor_found_in_text(analyser, gazetteer):
    [eighth] = analyser.analyse("What happened at the 8th plenary meeting?").anchors
    assert eighth.found_in("第 8 次全体会议") and eighth.found_in("its 8th meeting")
    assert not eighth.found_in("its 18th meeting") and not eighth.found_in("8 seats")
    [name] = analyser.analyse("What did Ridwan Kamil say?").anchors
    assert name.found_in("Mr. Kamil said")  # a surname is enough
    [germany] = analyser.analyse("德国代表说了什么？").anchors
    assert germany.found_in("Germany", gazetteer.countries_in) and germany.found_in("德国", gazetteer.countries_in)
    assert gazetteer.name(germany.label, "zh") == "德国"


def test_countries_the_record_does_not_name_are_absent(analyser, gazetteer):
    # The record names Mexico and 德国 (Germany); Guinea only inside Papua New Guinea below.
    assert [a.label for a in analyser.analyse("What did Germany say?").absent] == []
    assert [a.label for a in analyser.analyse("What did Mexico say?").absent] == []
    assert [a.label for a in analyser.analyse("What did Peru say?").absent] == ["Peru"]
    assert gazetteer.names_country("Papua New Guinea spoke.", "Papua New Guinea")
    assert not gazetteer.names_country("Papua New Guinea spoke.", "Guinea")
    assert gazetteer.names_country("Papua New Guinea and Guinea spoke.", "Guinea")
    assert not gazetteer.names_country("Guinea-Bissau spoke.", "Guinea")


def test_premises_the_record_may_contradict(analyser):
    assert "vote_count" in analyser.analyse("How many votes did Serbia receive?").premises
    assert "vote_count" in analyser.analyse("人居大会以多少票赞成通过了议事规则？").premises
    assert "vote_count" not in analyser.analyse("大会主席是经过投票选出来的吗？").premises
    assert analyser.analyse("人居大会最终是否核准了战略计划？").decision_terms == {"核准"}
    assert analyser.analyse("Did the Assembly finally approve the plan?").decision_terms == {"approv"}
    assert analyser.analyse("Did the Assembly approve the plan?").decision_terms == frozenset()


def test_agenda_references(analyser):
    under = analyser.analyse("What was decided under agenda item 4?")
    assert (under.agenda_item, under.agenda_asks_what) == (4, False)
    what = analyser.analyse("议程第 12 项是什么？")
    assert (what.agenda_item, what.agenda_asks_what) == (12, True)
    assert analyser.analyse("What was the final item on the agenda?").about_agenda
    assert not analyser.analyse("How does the New Urban Agenda relate to it?").about_agenda


def test_question_words_are_no_terms_and_the_analysis_explains_itself(analyser):
    analysis = analyser.analyse("According to UNEP, how many people will live in cities?")
    assert "accord" not in analysis.terms["en"] and "mani" not in analysis.terms["en"]
    explained = analysis.explain()
    assert explained["answer_kind"] == "count" and explained["lang"] == "en"
    json.dumps(explained)  # plain JSON


def test_country_answer_must_be_a_country_the_question_does_not_name(packs, gazetteer):
    def country(sentence, named=()):
        return holds(sentence, "country", packs.shapes, gazetteer.countries_in, set(named))
    assert country("Bahrain and Indonesia would share one seat", ["Indonesia"])
    assert not country("Indonesia would serve during the first two years", ["Indonesia"])
    assert country("巴林和印度尼西亚将共享一个席位", ["Indonesia"])
    assert not country("发展中国家的城市")  # 发展中国家 is no mention of China


def test_answer_shapes(packs, gazetteer):
    def has(sentence, kind):
        return holds(sentence, kind, packs.shapes, gazetteer.countries_in)
    assert not has("invoking rule 42 of the rules of procedure", "count")
    assert not has("根据议事规则第 13 条通过了议程", "count")
    assert has("36 members of the Executive Board", "count")
    assert has("a week-long interactive activity", "count") and has("为期一周的互动活动", "count")
    assert has("In view of the exceptional circumstances, the Committee recommended", "reason")
    assert has("鉴于特殊情况，委员会建议", "reason") and not has("The session was opened at 10.10 a.m.", "reason")
    assert has("led by Ms. Shipra Narang Suri", "person") and has("Jobarteh 女士说", "person")
    assert not has("XX Mr./Ms. (Ghana)", "person")
    assert has("The session was held at the headquarters in Nairobi", "place")
    assert has("会议于 2019 年 5 月在内罗毕总部召开", "place") and not has("the Assembly elected 36 members", "place")


def test_a_roll_of_speakers_is_recognised_and_a_statement_is_not(packs, gazetteer):
    roll = ("Opening statements were delivered by Ms. Delgado Peralta (Mexico); Mr. António Guterres (by video); "
            "Ms. Joyce Msuya, Acting Executive Director of UNEP; Mr. Uhuru Kenyatta, President of Kenya.")
    assert is_roll(roll, packs.shapes, gazetteer.countries_in)
    assert is_roll("发言的有：墨西哥；巴西；肯尼亚；中国。", packs.shapes, gazetteer.countries_in)
    speech = ("Ms. Msuya noted that more than 70 per cent of people would live in cities; she stressed growth; "
              "she called for capacity-building; and she welcomed the Assembly.")
    assert not is_roll(speech, packs.shapes, gazetteer.countries_in)


def test_a_broken_language_pack_fails_in_one_line_naming_the_file_and_key(tmp_path):
    (tmp_path / "xx.json").write_text(json.dumps({"kinds": []}), encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_pack("xx", tmp_path)
    assert "xx.json" in str(caught.value) and "vote_count" in str(caught.value) and "\n" not in str(caught.value)
    (tmp_path / "yy.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PackError):
        load_pack("yy", tmp_path)
