"""Pure helpers: citations, rank fusion, sentence splitting, coverage, glossary, tokenizer, metrics and
question cleaning."""

import pytest

from eval.metrics import contains_accepted, hit_at, mean, normalise, percentile
from indexer.glossary import Glossary, load_glossary
from indexer.lexical import top_k
from indexer.sentences import split_sentences
from indexer.tokenize import Tokenizer
from qa.answer import QuestionError
from qa.citation import cited_numbers, marker, normalise_markers, validate
from qa.evidence import UNSEEN_COMMON_SHARE, coverage, term_idf
from qa.fusion import reciprocal_rank_fusion
from qa.pipeline import clean_question

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




def test_unseen_ordinary_words_weigh_less_than_unseen_names():
    weights = term_idf(["envoy", "australia", "cultur"], {"cultur": 2.0}, unseen=4.0, named=["australia"])
    assert weights == {"envoy": UNSEEN_COMMON_SHARE * 4.0, "australia": 4.0, "cultur": 2.0}


@pytest.mark.parametrize("scores, k, expected", [
    ([0.5, 2.0, 1.0, 2.0, 0.0], 3, [1, 3, 2]),  # highest first, ties in index order
    ([1.0, 1.0, 1.0, 1.0], 2, [0, 1]),  # a tie across the cut keeps the earliest
    ([3.0, 1.0], 5, [0, 1]),  # k beyond the scores
    ([3.0, 1.0], 0, []),
    ([], 3, []),
])
def test_top_k_is_a_stable_sort_cut_at_k(scores, k, expected):
    import numpy as np

    assert top_k(np.array(scores), k).tolist() == expected
