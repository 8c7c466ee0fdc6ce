from indexer.live import LiveIndex
from indexer.sentences import split_sentences
from qa.alignment import in_language
from qa.extractive import Draft


def test_an_answer_quoted_from_chinese_is_moved_to_the_english_sentence_at_the_same_place(built_index):
    corpus = LiveIndex.open(built_index.index_dir).corpus
    zh = corpus.get("HSP-HA-1:3", "zh").text
    draft = Draft(f"{zh} [¶3]", False, None, {"HSP-HA-1:3": zh})

    moved = in_language(draft, corpus, "zh", "en")

    en = corpus.get("HSP-HA-1:3", "en").text
    assert moved == Draft(f"{en} [¶3]", False, None, {"HSP-HA-1:3": en})
    assert in_language(moved, corpus, "en", "zh") == draft


def test_when_the_versions_split_differently_the_whole_paragraph_is_quoted_once(built_index):
    corpus = LiveIndex.open(built_index.index_dir).corpus
    key = next(k for k in corpus.keys() if len(split_sentences(corpus.get(k, "zh").text, "zh"))  # noqa: SIM118
               != len(split_sentences(corpus.get(k, "en").text, "en")))
    first, second = split_sentences(corpus.get(key, "zh").text, "zh")[:2]
    number = key.rpartition(":")[2]
    draft = Draft(f"{first} [¶{number}]{second} [¶{number}]", False, None, {key: f"{first} {second}"})

    moved = in_language(draft, corpus, "zh", "en")

    assert moved.text == f"{corpus.get(key, 'en').text} [¶{number}]"


def test_abstentions_are_left_alone(built_index):
    corpus = LiveIndex.open(built_index.index_dir).corpus
    draft = Draft("记录没有说明。", True, "记录没有说明。", {})

    assert in_language(draft, corpus, "zh", "en") is draft
