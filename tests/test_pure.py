"""Pure helpers: citations, rank fusion, sentence splitting, coverage, glossary, tokenizer, metrics and
question cleaning."""

import pytest

from eval.metrics import contains_accepted, hit_at, mean, normalise, percentile
from indexer.glossary import Glossary, load_glossary
from indexer.sentences import split_sentences
from indexer.tokenize import Tokenizer
from qa.answer import QuestionError
from qa.citation import cited_numbers, marker, normalise_markers, validate
from qa.evidence import UNSEEN_COMMON_SHARE, coverage, term_idf, weighted_terms
from qa.fusion import reciprocal_rank_fusion
from qa.pipeline import clean_question
from qa.question_type import (
    asks_vote_count,
    countries_in,
    expected_answer,
    holds,
    names_someone,
    outcome_terms,
    question_anchors,
)

# --- citations ----------------------------------------------------------------------------------------


def test_citations_outside_retrieved_are_dropped_and_removed_from_text():
    result = validate("Opened on 27 May 2019 [¶2]. Elected [¶9].", ["HSP-HA-1:2", "HSP-HA-1:3"])
    assert result.text == "Opened on 27 May 2019 [¶2]. Elected."
    assert result.keys == ["HSP-HA-1:2"]
    assert result.dropped == ["9"]


def test_dropped_citation_leaves_no_space_before_chinese_punctuation():
    result = validate("会议在内罗毕召开 [¶9]。主席当选 [¶3]。", ["HSP-HA-1:3"])
    assert result.text == "会议在内罗毕召开。主席当选 [¶3]。"
    assert result.keys == ["HSP-HA-1:3"]
    assert result.dropped == ["9"]


def test_grouped_markers_are_normalised():
    assert normalise_markers("see [¶3, 4]") == "see [¶3][¶4]"
    assert normalise_markers("见[¶3，4、5]") == "见[¶3][¶4][¶5]"
    assert normalise_markers("see [¶ 3; ¶4]") == "see [¶3][¶4]"
    assert normalise_markers("see [¶3]") == "see [¶3]"


def test_grouped_marker_keeps_only_retrieved_members():
    result = validate("Also [¶3, 4].", ["HSP-HA-1:3"])
    assert result.text == "Also [¶3]."
    assert result.keys == ["HSP-HA-1:3"]
    assert result.dropped == ["4"]


def test_cited_numbers_in_order_each_once():
    assert cited_numbers("x [¶3, 4] y [¶3] z [¶HSP-HA-1:45]") == ["3", "4", "HSP-HA-1:45"]
    assert cited_numbers("no citations here") == []


def test_record_qualified_markers():
    retrieved = ["HSP-HA-1:2", "UNEP-EA-4:2"]
    result = validate("A [¶HSP-HA-1:2] B [¶UNEP-EA-4:2] C [¶OTHER:2].", retrieved, single_record=False)
    assert result.text == "A [¶HSP-HA-1:2] B [¶UNEP-EA-4:2] C."
    assert result.keys == ["HSP-HA-1:2", "UNEP-EA-4:2"]
    assert result.dropped == ["OTHER:2"]


def test_single_record_markers_are_rendered_bare():
    result = validate("Elected [¶HSP-HA-1:45].", ["HSP-HA-1:45"])
    assert result.text == "Elected [¶45]."
    assert result.keys == ["HSP-HA-1:45"]
    assert marker("HSP-HA-1:45") == "[¶45]"
    assert marker("HSP-HA-1:45", single_record=False) == "[¶HSP-HA-1:45]"


def test_extra_refs_are_validated_too():
    result = validate("The Assembly met [¶1].", ["HSP-HA-1:1", "HSP-HA-1:7"], extra_refs=["7", "12"])
    assert result.keys == ["HSP-HA-1:1", "HSP-HA-1:7"]
    assert result.dropped == ["12"]
    assert result.text == "The Assembly met [¶1]."


# --- reciprocal rank fusion ---------------------------------------------------------------------------


def test_rrf_hand_worked_example():
    # k=1: bm25 a=1/2 b=1/3 c=1/4; dense (duplicate b ignored) b=1/2 d=1/3 a=1/4.
    fused = reciprocal_rank_fusion({"bm25": ["a", "b", "c"], "dense": ["b", "d", "a", "b"]}, k=1)
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]
    assert [score for _, score in fused] == pytest.approx([5 / 6, 3 / 4, 1 / 3, 1 / 4])


def test_rrf_weights_and_default_k():
    fused = dict(reciprocal_rank_fusion({"bm25": ["a", "b"], "dense": ["b", "a"]}, weights={"dense": 2.0}))
    assert fused["a"] == pytest.approx(1 / 61 + 2 / 62)
    assert fused["b"] == pytest.approx(1 / 62 + 2 / 61)


def test_rrf_ties_keep_first_seen_order():
    fused = reciprocal_rank_fusion({"bm25": ["x", "y"], "dense": ["y", "x"]})
    assert [item for item, _ in fused] == ["x", "y"]
    assert fused[0][1] == fused[1][1]


def test_rrf_empty():
    assert reciprocal_rank_fusion({"bm25": [], "dense": []}) == []


# --- sentences ----------------------------------------------------------------------------------------


def test_chinese_sentences_split_on_full_stop_and_semicolon():
    text = "人居大会选举了主席。会议通过了议程；执行主任作了发言！代表们是否同意？"
    assert split_sentences(text, "zh") == [
        "人居大会选举了主席。",
        "会议通过了议程；",
        "执行主任作了发言！",
        "代表们是否同意？",
    ]


def test_chinese_short_fragments_merge_back():
    assert split_sentences("会议通过了以下议程。好。", "zh") == ["会议通过了以下议程。好。"]


def test_english_sentences_split():
    text = "The Assembly adopted the agenda. It then elected its officers; the vote was unanimous."
    assert split_sentences(text, "en") == [
        "The Assembly adopted the agenda.",
        "It then elected its officers; the vote was unanimous.",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "The session was opened at 10.10 a.m. on Monday, 27 May 2019, by Ms. Maimunah Mohd Sharif, "
        "Executive Director of UN-Habitat.",
        "In his keynote address, Mr. Kamil said that the purpose was to improve the quality of life.",
        "The meeting resumed at 10 a.m. Nairobi time and closed at 1 p.m. that day.",
    ],
)
def test_english_does_not_split_after_titles_or_times(sentence):
    assert split_sentences(sentence, "en") == [sentence]


def test_english_title_at_sentence_start_stays_with_its_sentence():
    text = "The President spoke. Ms. Sharif then replied. Mr. Kenyatta closed the meeting."
    assert split_sentences(text, "en") == [
        "The President spoke.",
        "Ms. Sharif then replied.",
        "Mr. Kenyatta closed the meeting.",
    ]


def test_list_lines_are_their_own_sentences():
    text = "The Assembly adopted the following agenda:\n1. Opening of the session.\n2. Election of officers."
    assert split_sentences(text, "en") == [
        "The Assembly adopted the following agenda:",
        "1. Opening of the session.",
        "2. Election of officers.",
    ]


def test_chinese_list_lines_are_their_own_sentences():
    text = "据此，人居大会选举下列会员国的代表为执行局成员：\n(c) 东欧国家：波兰、罗马尼亚、俄罗斯联邦和塞尔维亚；"
    assert split_sentences(text, "zh") == [
        "据此，人居大会选举下列会员国的代表为执行局成员：",
        "(c) 东欧国家：波兰、罗马尼亚、俄罗斯联邦和塞尔维亚；",
    ]


# --- coverage -----------------------------------------------------------------------------------------


def test_coverage_hand_computed():
    # weights x idf: a 1*2=2, b 1*1=1, c (unseen) 0.5*4=2; total 5; a present -> 2/5.
    query = {"a": 1.0, "b": 1.0, "c": 0.5}
    assert coverage(query, ["a", "x"], {"a": 2.0, "b": 1.0}, unseen=4.0) == pytest.approx(0.4)


def test_coverage_all_and_none():
    query = {"delgado": 1.0, "peralta": 1.0}
    idf = {"delgado": 3.0, "peralta": 3.0}
    assert coverage(query, ["peralta", "delgado"], idf, unseen=5.0) == 1.0
    assert coverage(query, ["sharif"], idf, unseen=5.0) == 0.0
    assert coverage({}, ["sharif"], idf, unseen=5.0) == 0.0


def test_weighted_terms_question_terms_outweigh_context():
    assert weighted_terms(["elect", "presid", ""], ["presid", "session"]) == {
        "presid": 1.0,
        "session": 0.3,
        "elect": 1.0,
    }


# --- glossary -----------------------------------------------------------------------------------------

GLOSSARY = Glossary(
    (
        ("执行主任", "Executive Director"),
        ("代理执行主任", "Acting Executive Director"),
        ("主任", "Director"),
        ("联合国", "United Nations"),
        ("大会", "General Assembly"),
        ("联合国人居大会", "UN-Habitat Assembly"),
        ("会员国", "Member State"),
        ("国家", "State"),
        ("主席", "President"),
        ("主席", "Chair"),
        ("选举", "election"),
    )
)


def test_glossary_zh_to_en_longest_match_wins():
    assert GLOSSARY.translate("代理执行主任姆苏亚女士", "zh") == ["Acting Executive Director"]
    assert GLOSSARY.translate("执行主任和主任", "zh") == ["Executive Director", "Director"]
    assert GLOSSARY.translate("联合国人居大会第一届会议", "zh") == ["UN-Habitat Assembly"]
    assert GLOSSARY.translate("选举主席", "zh") == ["election", "President", "Chair"]


def test_glossary_en_to_zh_longest_match_wins_case_insensitive():
    assert GLOSSARY.translate("the acting executive director of UNEP", "en") == ["代理执行主任"]
    assert GLOSSARY.translate("Executive Directors and the Director", "en") == ["执行主任", "主任"]


def test_glossary_en_whole_words_only():
    assert GLOSSARY.translate("a statement was made", "en") == []
    assert GLOSSARY.translate("the presidential elections", "en") == ["选举"]
    assert GLOSSARY.translate("each State and the Member States", "en") == ["国家", "会员国"]


def test_glossary_en_to_zh_each_target_once():
    assert GLOSSARY.translate("the President and the Chair", "en") == ["主席"]


def test_shipped_glossary_loads():
    glossary = load_glossary()
    assert ("执行局", "Executive Board") in glossary.pairs
    assert glossary.translate("Executive Board", "en") == ["执行局"]
    assert glossary.translate("the SDGs", "en") == ["可持续发展目标"]
    assert len(glossary.digest) == 12


def test_glossary_terms_are_matched_in_text_order_with_spans():
    assert GLOSSARY.matches("选举主席", "zh") == [(0, 2, ("election",)), (2, 4, ("President", "Chair"))]


def test_glossary_rejects_malformed_line(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text("# comment\nbody\t执行局\tExecutive Board\ntitle\t主席 President\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"terms\.tsv:3"):
        load_glossary(path)


# --- tokenizer ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jieba_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jieba")


@pytest.fixture(scope="module")
def tokenizer(jieba_dir):
    return Tokenizer(load_glossary(), cache_dir=jieba_dir)


def test_english_tokens_are_stemmed_without_stopwords(tokenizer):
    assert tokenizer.tokens("The Executive Board adopted the resolutions", "en") == [
        "execut",
        "board",
        "adopt",
        "resolut",
    ]
    assert tokenizer.tokens("meetings", "en") == tokenizer.tokens("meeting", "en") == ["meet"]


def test_numbers_are_tokens(tokenizer):
    assert tokenizer.tokens("on 27 May 2019 at 10.10", "en") == ["27", "may", "2019", "10.10"]


def test_document_symbol_is_also_one_token(tokenizer):
    assert tokenizer.tokens("document HSP/HA/1/8", "en") == ["document", "hsp", "ha", "1", "8", "hsp/ha/1/8"]
    assert "a/73/726" in tokenizer.tokens("report (A/73/726)", "en")


def test_document_symbol_and_names_match_across_languages(tokenizer):
    zh = tokenizer.tokens("载于 HSP/HA/1/8 号文件的议事规则；Delgado Peralta 女士", "zh")
    en = tokenizer.tokens("contained in document HSP/HA/1/8; Ms. Delgado Peralta", "en")
    for token in ("hsp/ha/1/8", "delgado", "peralta"):
        assert token in zh
        assert token in en


def test_chinese_un_terms_are_single_tokens(tokenizer):
    tokens = tokenizer.tokens("人居大会选举执行局成员", "zh")
    assert "执行局" in tokens
    assert "选举" in tokens
    assert "常驻代表委员会" in tokenizer.tokens("常驻代表委员会的报告", "zh")
    assert "代理执行主任" in tokenizer.tokens("环境署代理执行主任", "zh")


def test_chinese_stopwords_dropped(tokenizer):
    tokens = tokenizer.tokens("常驻代表委员会的报告", "zh")
    assert "的" not in tokens
    assert "报告" in tokens


def test_jieba_cache_goes_to_the_given_folder(tokenizer, jieba_dir):
    tokenizer.tokens("执行局", "zh")
    assert (jieba_dir / "jieba.cache").is_file()


# --- eval metrics -------------------------------------------------------------------------------------


def test_normalise():
    assert normalise("2019 年 5 月，Ｎａｉｒｏｂｉ! Ms. Sharif") == "2019年5月nairobimssharif"
    assert normalise("  ") == ""


def test_contains_accepted():
    assert contains_accepted("会议于 2019 年 5 月 27 日开幕 [¶1]。", ["2019年5月27日"]) is True
    assert contains_accepted("Ms. Delgado Peralta (Mexico) was elected.", ["delgado peralta"]) is True
    assert contains_accepted("Ms. Sharif opened it.", ["Delgado Peralta", "Kenyatta"]) is False


def test_contains_accepted_ignores_citation_markers_and_empty_answers():
    assert contains_accepted("See [¶27] only.", ["27"]) is False
    assert contains_accepted("anything", ["", " ", "。"]) is False


def test_hit_at():
    retrieved = ["R:3", "R:5", "R:9"]
    assert hit_at(retrieved, ["R:9"], 2) == 0.0
    assert hit_at(retrieved, ["R:9"], 3) == 1.0
    assert hit_at(retrieved, ["R:1", "R:3"], 1) == 1.0
    assert hit_at([], ["R:1"], 5) == 0.0


def test_percentile():
    values = [10, 1, 4, 7]
    assert percentile(values, 0.5) == 5.5
    assert percentile(values, 0.9) == 9.1
    assert percentile(values, 0.0) == 1
    assert percentile(values, 1.0) == 10
    assert percentile([5], 0.95) == 5
    assert percentile([1, 2, 3], 1 / 3) == 1.67
    assert percentile([], 0.5) is None


def test_mean():
    assert mean([1, 2, 2]) == 1.6667
    assert mean([]) is None


# --- clean_question -----------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t \u3000"])
def test_empty_question_rejected(question):
    with pytest.raises(QuestionError, match="empty"):
        clean_question(question, 100)


def test_whitespace_and_control_characters_between_words():
    assert clean_question("  Who\twas\n\nelected \x00 President?\x1b  ", 100) == "Who was elected President?"


@pytest.mark.parametrize(
    ("question", "cleaned"),
    [
        ("Who is Ms. Del\u00adgado Peralta?", "Who is Ms. Delgado Peralta?"),
        ("谁\u200b当选为主席？", "谁当选为主席？"),
        ("谁\x07当选为主席？", "谁当选为主席？"),
    ],
)
def test_control_characters_inside_words_are_removed(question, cleaned):
    assert clean_question(question, 100) == cleaned


def test_question_of_exactly_the_limit_is_accepted():
    assert clean_question("a" * 10, 10) == "a" * 10


def test_over_long_question_rejected_with_limit_in_message():
    with pytest.raises(QuestionError) as caught:
        clean_question("谁当选为人居大会主席？", 10)
    assert "10" in str(caught.value)
    assert "11" in str(caught.value)


def test_non_text_question_rejected():
    with pytest.raises(QuestionError):
        clean_question(None, 100)


# --- question types and what a question names -----------------------------------------------------------


@pytest.mark.parametrize("question, lang, kind", [
    ("Which country is Martha Delgado Peralta from?", "en", "country"),
    ("Which Latin American and Caribbean States were elected?", "en", "country"),
    ("哪些东欧国家进入了执行局？", "zh", "country"),
    ("拉丁美洲和加勒比国家在执行局中分到几个席位？", "zh", "count"),
    ("Which General Assembly resolution replaced the Governing Council?", "en", "reference"),
    ("本届会议的议程是依据议事规则哪一条通过的？", "zh", "reference"),
    ("人居大会是在第几次会议上决定设立起草委员会的？", "zh", "ordinal"),
    ("At which meeting was the drafting committee established?", "en", "ordinal"),
    ("Emma Stephens 女士今年多大年纪？", "zh", "count"),
    ("What did the Committee suggest should happen to the working group?", "en", None),
    ("Why was the first session held in Nairobi?", "en", "reason"),
    ("人居大会为什么决定设立起草委员会？", "zh", "reason"),
])
def test_expected_answer_kinds(question, lang, kind):
    assert expected_answer(question, lang) == kind


def test_country_answer_must_be_a_country_the_question_does_not_name():
    question = "Which country shares a seat with Indonesia?"
    assert holds("Bahrain and Indonesia would share one seat", "country", question)
    assert not holds("Indonesia would serve during the first two years", "country", question)
    assert holds("巴林和印度尼西亚将共享一个席位", "country", "哪个国家与印度尼西亚共用席位？")
    assert not holds("发展中国家的城市", "country", "哪个国家？")  # 发展中国家 is no mention of China


def test_countries_in_either_language():
    assert countries_in("Ms. Laurie Dando (United States of America) and Iran (Islamic Republic of)") == {
        "United States of America", "Iran"}
    assert countries_in("坦桑尼亚联合共和国和印度尼西亚") == {"Tanzania", "Indonesia"}


def test_rule_and_item_numbers_are_no_count():
    assert not holds("invoking rule 42 of the rules of procedure", "count")
    assert not holds("根据议事规则第 13 条通过了议程", "count")
    assert not holds("世界城市论坛第九届会议", "count")
    assert holds("36 members of the Executive Board", "count")


def test_reference_kind_wants_the_reference_asked_for():
    assert holds("invoking rule 42", "reference", "Which rule did she invoke?")
    assert not holds("contained in document HSP/HA/1/8", "reference", "Which rule did she invoke?")
    assert holds("its resolution 73/239", "reference", "Which resolution replaced it?")
    assert holds("《关于难民和移民的纽约宣言》", "reference", "是哪一份宣言？")


def test_question_anchors_names_numbers_countries_and_ordinals():
    anchors = {a.label: a.kind for a in question_anchors("Which country is Martha Delgado Peralta from?", "en")}
    assert anchors == {"Martha Delgado Peralta": "name"}
    anchors = {a.label: a.kind for a in question_anchors("2019 年 5 月 31 日的第 8 次全体会议通过了什么？", "zh")}
    assert anchors == {"第 8 次": "ordinal", "2019": "number", "5": "number", "31": "number"}
    assert {a.label for a in question_anchors("What did the Minister of Housing of France say?", "en")} == {"France"}
    assert {a.label for a in question_anchors("James Ohayo 先生是哪国人？", "zh")} == {"James Ohayo"}
    assert [(a.label, a.kind) for a in question_anchors("How did Mr. Kenyatta put it?", "en")] == [("Kenyatta", "name")]
    assert {a.label for a in question_anchors("按照姆苏亚女士的说法", "zh")} == {"苏亚"}
    # Titles, institutions and acronyms are not names.
    assert question_anchors("Whom did the Goodwill Ambassador want to turn into envoys?", "en") == []
    assert question_anchors("What did the Kenyan President ask the UN Secretary-General?", "en") == []


def test_anchor_found_in_text():
    [eighth] = question_anchors("the 8th plenary meeting", "en")
    assert eighth.found_in("第 8 次全体会议") and eighth.found_in("its 8th meeting")
    assert not eighth.found_in("its 18th meeting") and not eighth.found_in("8 seats")
    [name] = question_anchors("What did Ridwan Kamil say?", "en")
    assert name.found_in("Mr. Kamil said")  # a surname is enough
    [germany] = question_anchors("德国代表说了什么？", "zh")
    assert germany.found_in("Germany") and germany.found_in("德国") and germany.shown("zh") == "德国"


def test_vote_count_questions():
    assert asks_vote_count("How many votes did Serbia receive?", "en")
    assert asks_vote_count("How many delegations voted against the election?", "en")
    assert asks_vote_count("人居大会以多少票赞成通过了议事规则？", "zh")
    assert not asks_vote_count("大会主席是经过投票选出来的吗？", "zh")
    assert not asks_vote_count("How did the President respond when a delegate asked for a vote?", "en")


def test_outcome_terms_only_for_questions_about_a_final_outcome(tokenizer):
    assert outcome_terms("人居大会最终是否核准了战略计划？", "zh", tokenizer) == {"核准"}
    assert outcome_terms("Did the Assembly finally approve the plan?", "en", tokenizer) == {"approv"}
    assert outcome_terms("Did the Assembly approve the plan?", "en", tokenizer) == set()


def test_question_filler_and_chinese_question_words_are_no_terms():
    assert weighted_terms(["accord", "unep", "几点钟", "开幕"]) == {"unep": 1.0, "开幕": 1.0}


def test_unseen_ordinary_words_weigh_less_than_unseen_names():
    weights = term_idf(["envoy", "australia", "cultur"], {"cultur": 2.0}, unseen=4.0, named=["australia"])
    assert weights == {"envoy": UNSEEN_COMMON_SHARE * 4.0, "australia": 4.0, "cultur": 2.0}


def test_reason_kind_wants_a_reason():
    assert holds("In view of the exceptional circumstances, the Committee recommended", "reason")
    assert holds("鉴于特殊情况，委员会建议", "reason")
    assert not holds("The session was opened at 10.10 a.m.", "reason")


def test_placeholder_symbol_is_no_document_symbol():
    question = "Which document contains the list of participants?"
    assert not holds("the list of participants (HSP/HA/1/XX)", "reference", question)
    assert holds("the list of participants (HSP/HA/1/INF/2)", "reference", question)


def test_lone_capitalised_word_is_an_anchor_only_for_the_whole_record():
    assert [(a.label, a.kind) for a in question_anchors("Why did the Assembly meet in Vienna?", "en")] == [
        ("Vienna", "word")]
    assert question_anchors("What did the Kenyan President ask for?", "en") == []  # a demonym


def test_durations_answer_how_long():
    assert holds("a week-long interactive activity", "count")
    assert holds("为期一周的互动活动", "count")


def test_names_someone():
    assert names_someone("led by Ms. Shipra Narang Suri")
    assert names_someone("Jobarteh 女士说") and names_someone("迈穆娜·穆罕默德·谢里夫")
    assert not names_someone("XX Mr./Ms. (Ghana)") and not names_someone("the Assembly elected 36 members")


def test_a_roll_of_speakers_is_recognised_and_a_statement_is_not():
    from qa.extractive import _is_roll
    roll = ("Opening statements were delivered by Ms. Delgado Peralta (Mexico); Mr. António Guterres (by video); "
            "Ms. Joyce Msuya, Acting Executive Director of UNEP; Mr. Uhuru Kenyatta, President of Kenya.")
    assert _is_roll(roll)
    assert _is_roll("发言的有：墨西哥；巴西；肯尼亚；中国。")
    speech = ("Ms. Msuya noted that more than 70 per cent of people would live in cities; she stressed growth; "
              "she called for capacity-building; and she welcomed the Assembly.")
    assert not _is_roll(speech)
