"""Real UN records nobody on the project wrote (../shared/records): what a user sees once they are
loaded. The SDG goals and targets keep their own numbers ("1", "1.1", "1.a"); the three records
whose numbering was lost get ids "p1", "p2", ... shared by their Chinese and English versions,
and their mastheads and footnotes are not paragraphs.

Content alignment here runs without vectors (no model is loaded in tests); built indexes align
with the multilingual model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from indexer.corpus import load_corpus
from indexer.record import RecordError
from qa.citation import cited_numbers, validate

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared" / "records").resolve()
SDG = "sdg-goals-targets-a-res-70-1"
UNICEF = "unicef-eb-2023-annual-humanitarian-action"
OHCHR = "ohchr-e-2023-74-access-to-medicines"
ECOSOC = "ecosoc-2023-res-humanitarian-coordination"
UNNUMBERED = (UNICEF, OHCHR, ECOSOC)

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the shared records folder {SHARED} is absent")


@pytest.fixture(scope="module")
def corpus():
    return load_corpus([SHARED])


def texts(corpus, record_id: str, lang: str) -> list[str]:
    return [p.text for p in corpus.versions(record_id)[lang].paragraphs]


# --------------------------------------------------------------------------- own numbering


def test_sdg_goals_and_targets_keep_their_numbers(corpus):
    for lang in ("zh", "en"):
        version = corpus.versions(SDG)[lang]
        ids = [p.number for p in version.paragraphs]
        assert version.numbering == "own"
        assert len(ids) == 186  # 17 goals + 169 targets
        assert ids[:8] == ["1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.a", "1.b"]
        assert ids[-1] == "17.19"
        assert len(set(ids)) == 186


def test_sdg_chinese_and_english_targets_pair_by_number(corpus):
    keys = [k for k in corpus.keys() if k.startswith(SDG + ":")]  # noqa: SIM118 - ours
    assert len(keys) == 186
    assert all(corpus.get(k, "zh") and corpus.get(k, "en") for k in keys)
    target = f"{SDG}:3.1"
    assert "70" in corpus.get(target, "zh").text and "70 per 100,000" in corpus.get(target, "en").text
    # A target is read under its goal.
    assert corpus.get(f"{SDG}:1.a", "en").chapter.startswith("1. End poverty")


def test_numbered_records_read_without_alignment_are_ready_to_build(corpus):
    # A collection whose versions all number their paragraphs needs no second, aligning read
    # before a build; one record without numbers does.
    quick = load_corpus([SHARED / SDG], align=False)
    assert quick.aligned and quick.keys() == [k for k in corpus.keys() if k.startswith(SDG + ":")]  # noqa: SIM118
    assert not load_corpus([SHARED / SDG, SHARED / UNICEF], align=False).aligned


# --------------------------------------------------------------------------- records without numbers


@pytest.mark.parametrize("record_id", UNNUMBERED)
def test_unnumbered_records_get_generated_ids_shared_by_both_languages(corpus, record_id):
    versions = corpus.versions(record_id)
    assert {v.numbering for v in versions.values()} == {"generated"}
    keys = [k for k in corpus.keys() if k.rpartition(":")[0] == record_id]  # noqa: SIM118 - ours
    assert all(re.fullmatch(r"p\d+", k.rpartition(":")[2]) for k in keys)
    assert keys[:3] == [f"{record_id}:p1", f"{record_id}:p2", f"{record_id}:p3"]
    # Most paragraphs pair; a segment one version lacks is a paragraph in one language only (without
    # vectors, as here, more of them stay alone in OHCHR's report, whose versions drift most).
    both = [k for k in keys if corpus.get(k, "zh") and corpus.get(k, "en")]
    assert len(both) >= 0.75 * len(keys)


def chinese_forms(figure: str) -> list[str]:
    """How a Chinese text writes an English figure: 30,000 as 30,000, 30000 or 3万; 274,000,000 as 2.74亿."""
    value = int(figure.replace(",", ""))
    return [figure, str(value), f"{value / 10_000:g}万", f"{value / 100_000_000:g}亿"]


@pytest.mark.parametrize("record_id", UNNUMBERED)
def test_paired_paragraphs_state_the_same_figures(corpus, record_id):
    """Position alone pairs everything after a missing line wrongly; a figure such as 764,474,387
    or 1,080,852 stated in an English paragraph is in its Chinese counterpart too."""
    checked = wrong = 0
    for key in corpus.keys():  # noqa: SIM118 - Corpus.keys() is ours
        en, zh = corpus.get(key, "en"), corpus.get(key, "zh")
        if key.rpartition(":")[0] != record_id or not (en and zh):
            continue
        for figure in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", en.text):
            checked += 1
            wrong += not any(form in zh.text for form in chinese_forms(figure))
    if record_id == ECOSOC:
        return  # a resolution's figures are dates and symbols, not counts
    assert checked >= 3
    assert wrong <= checked // 10


def test_unicef_masthead_is_metadata_not_paragraphs(corpus):
    paragraphs = set(texts(corpus, UNICEF, "en")) | set(texts(corpus, UNICEF, "zh"))
    masthead = ["United Nations Children’s Fund", "Executive Board", "Annual session 2023", "13–16 June 2023",
                "Item 4 of the provisional agenda*", "Annual report on UNICEF humanitarian action",
                "<<ODS DOC SYMBOL2>><<ODS DOC SYMBOL2>>", "执行局", "2023年年会", "2023年6月13日至16日"]
    assert not paragraphs & set(masthead)
    meta = corpus.meta(UNICEF, "en")
    assert (meta.session, meta.start_date, meta.end_date) == ("Annual session 2023", "2023-06-13", "2023-06-16")
    assert meta.title == "Annual report on UNICEF humanitarian action"
    assert corpus.meta(UNICEF, "zh").title == "儿基会人道主义行动年度报告"
    assert "<<ODS DOC SYMBOL2>><<ODS DOC SYMBOL2>>" in corpus.versions(UNICEF)["en"].notes


def test_unicef_symbol_is_the_one_its_decision_states(corpus):
    # The masthead lost the symbol; the draft decision names the report "(E/ICEF/2023/14)", in
    # Chinese only, and the English version shares it. E/ICEF/2023/9 is the agenda's footnote.
    assert corpus.meta(UNICEF, "zh").symbol == "E/ICEF/2023/14"
    assert corpus.meta(UNICEF, "en").symbol == "E/ICEF/2023/14"


def test_footnotes_and_captions_are_not_paragraphs(corpus):
    en = texts(corpus, UNICEF, "en")
    assert "E/ICEF/2023/9." not in en
    assert not [t for t in en if t.startswith(("Ibid", "Figure ", "*Thematic"))]
    assert "Ibid., p. 4." in corpus.versions(UNICEF)["en"].notes
    ohchr = texts(corpus, OHCHR, "en") + texts(corpus, OHCHR, "zh")
    assert not [t for t in ohchr if t.startswith(("Ibid", "同上", "Guiding principle 4", "A/HRC/20/26"))]
    # The text's last paragraph is the conclusion's, not a footnote after it.
    assert texts(corpus, OHCHR, "en")[-1].startswith("The way forward requires proactive State action")


def test_ohchr_symbol_and_section_numerals(corpus):
    assert corpus.meta(OHCHR, "en").symbol == "E/2023/74"
    assert corpus.meta(OHCHR, "zh").symbol == "E/2023/74"  # the Chinese masthead lacks it
    assert corpus.meta(OHCHR, "en").title == "Report of the United Nations High Commissioner for Human Rights"
    en, zh = corpus.versions(OHCHR)["en"], corpus.versions(OHCHR)["zh"]
    assert not {"I.", "II.", "A.", "一.", "二."} & {p.text for p in (*en.paragraphs, *zh.paragraphs)}
    assert {p.chapter for p in en.paragraphs} >= {"Summary", "I.", "II.", "IV. Conclusion"}
    assert {p.chapter for p in zh.paragraphs} >= {"概要", "一. 导言", "四. 结论"}
    assert any(p.chapter == "II." and p.section == "A." for p in en.paragraphs)


def test_resolution_preamble_and_operative_lines_are_paragraphs(corpus):
    en = corpus.versions(ECOSOC)["en"]
    starts = [p.text.split()[0] for p in en.paragraphs]
    assert "Reaffirming" in starts and "Requests" in starts and "Urges" in starts
    assert en.paragraphs[-1].text.startswith("Requests the Presidents of the Economic and Social Council")
    assert not {"United Nations", "Economic and Social Council", "35th plenary meeting", "23 June 2023"} & {
        p.text for p in en.paragraphs}
    meta = corpus.meta(ECOSOC, "en")
    assert meta.title.startswith("Strengthening of the coordination of emergency humanitarian assistance")
    assert (meta.session, meta.start_date) == ("2023 session", "2023-06-23")


# --------------------------------------------------------------------------- record.toml


def copy_record(tmp_path: Path, record_id: str) -> Path:
    folder = tmp_path / record_id
    shutil.copytree(SHARED / record_id, folder)
    return folder


def test_record_toml_gives_title_and_symbol(tmp_path):
    folder = copy_record(tmp_path, ECOSOC)
    (folder / "record.toml").write_text(
        'symbol = "E/RES/2023/31"\ntitle = "Coordination of emergency humanitarian assistance"\n'
        'date = "2023-06-23"\n\n[zh]\ntitle = "紧急人道主义援助的协调"\n', encoding="utf-8")
    corpus = load_corpus([folder])
    assert corpus.meta(ECOSOC, "en").title == "Coordination of emergency humanitarian assistance"
    assert corpus.meta(ECOSOC, "zh").title == "紧急人道主义援助的协调"
    assert corpus.meta(ECOSOC, "zh").symbol == "E/RES/2023/31"
    assert corpus.meta(ECOSOC, "en").session == "2023 session"  # not in the file: still the masthead's


def test_record_toml_with_an_unknown_key_is_refused_in_one_line(tmp_path):
    folder = copy_record(tmp_path, SDG)
    (folder / "record.toml").write_text('name = "SDGs"\n', encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        load_corpus([folder])
    assert "record.toml" in str(caught.value) and "unknown key name" in str(caught.value)
    assert "\n" not in str(caught.value)



def test_index_says_which_paragraphs_are_in_one_language_only(tmp_path, jieba_cache, cli):
    folder = tmp_path / "REC-9"
    folder.mkdir()
    (folder / "en.txt").write_text("".join(f"{n}. Paragraph {n} of the record.\n\n" for n in range(1, 11)),
                                   encoding="utf-8")
    (folder / "zh.txt").write_text("".join(f"{n}. 记录的第{n}段。\n\n" for n in range(1, 10)), encoding="utf-8")
    env = cli.env(tmp_path, jieba_cache)
    built = cli.run(["index", "--quiet", str(folder)], env)
    assert built.returncode == 0, built.stderr
    assert "note: record REC-9: paragraph(s) 10 only in the en text; shown in en only" in built.stderr.splitlines()
    again = cli.run(["index", "--quiet", str(folder)], env)  # nothing changed: nothing to say
    assert again.returncode == 0 and "only in the en text" not in again.stderr

# --------------------------------------------------------------------------- own numbers that differ


def test_numbered_versions_missing_one_paragraph_show_it_in_one_language(tmp_path):
    folder = tmp_path / "REC-8"
    folder.mkdir()
    (folder / "en.txt").write_text("".join(f"{n}. Paragraph {n} of the record.\n\n" for n in range(1, 11)),
                                   encoding="utf-8")
    (folder / "zh.txt").write_text("".join(f"{n}. 记录的第{n}段。\n\n" for n in range(1, 10)), encoding="utf-8")
    corpus = load_corpus([folder])
    assert corpus.get("REC-8:10", "en") is not None and corpus.get("REC-8:10", "zh") is None
    assert corpus.in_language("REC-8:10", "zh").lang == "en"
    assert [k.rpartition(":")[2] for k in corpus.keys()] == [str(n) for n in range(1, 11)]  # noqa: SIM118
    assert any("paragraph(s) 10 only in the en text" in w for w in corpus.warnings)


# --------------------------------------------------------------------------- citations


def test_citations_of_generated_and_hierarchical_ids():
    retrieved = [f"{UNICEF}:p12", f"{SDG}:1.a", f"{SDG}:17.19", f"{UNICEF}:p3"]
    text = "A [¶p12]. B [¶1.a]. C [¶17.19, p3]. D [¶12]."
    assert cited_numbers(text) == ["p12", "1.a", "17.19", "p3", "12"]
    checked = validate(text, retrieved)
    # '12' is the document's paragraph 12, which this unnumbered record does not have: dropped.
    assert checked.keys == retrieved
    assert checked.dropped == ["12"]
    assert "[¶p12]" in checked.text and "[¶12]" not in checked.text


# --------------------------------------------------------------------------- through the command


def test_index_then_show_a_generated_paragraph_in_both_languages(tmp_path, jieba_cache, cli):
    folder = copy_record(tmp_path, UNICEF)
    env = cli.env(tmp_path, jieba_cache)
    built = cli.run(["index", "--quiet", str(folder)], env)
    assert built.returncode == 0, built.stderr
    assert re.match(r"indexed \d+ paragraphs in en, zh", built.stdout)

    for ref in ("p3", f"{UNICEF}:p3"):
        shown = cli.run(["show", ref], env)
        assert shown.returncode == 0, shown.stderr
        assert "[en] ¶p3" in shown.stdout and "[zh] ¶p3" in shown.stdout
        assert "CLARE II" in shown.stdout.split("[zh]")[0] and "CLARE II" in shown.stdout.split("[zh]")[1]

    missing = cli.run(["show", "3"], env)  # the document's own paragraph 3 does not exist
    assert missing.returncode == 2
    assert "p3" in missing.stderr


# --------------------------------------------------------------------------- alignment vectors


class CountingEmbedder:
    """A stand-in for the multilingual model: one vector per text, from the figures it states."""

    name = "counting-test-embedder"
    languages = None

    def __init__(self) -> None:
        self.embedded = 0

    def embed_documents(self, texts, *, progress=False):
        import numpy as np

        self.embedded += len(texts)
        vectors = np.zeros((len(texts), 16), dtype=np.float32)
        for row, text in enumerate(texts):
            for figure in re.findall(r"\d+", text):
                vectors[row, int(figure) % 16] += 1.0
            vectors[row, 0] += 0.1
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_alignment_vectors_are_embedded_once_per_text_and_model(tmp_path):
    folder = tmp_path / "REC-U"
    folder.mkdir()
    (folder / "en.txt").write_text(
        "Executive Board\nAnnual session 2023\nSummary\n"
        + "".join(f"In 20{n:02d}, {n * 7} projects reached {n * 1000} people.\n" for n in range(1, 9)),
        encoding="utf-8")
    (folder / "zh.txt").write_text(
        "执行局\n2023年年会\n概要\n"
        + "".join(f"20{n:02d}年，{n * 7}个项目惠及{n * 1000}人。\n" for n in range(1, 9) if n != 4),
        encoding="utf-8")
    embedder, cache = CountingEmbedder(), tmp_path / "cache"
    first = load_corpus([folder], embedder=embedder, vector_cache=cache)
    assert embedder.embedded == 8 + 7
    again = load_corpus([folder], embedder=embedder, vector_cache=cache)
    assert embedder.embedded == 8 + 7  # read from the cache
    assert [p.text for p in again.paragraphs()] == [p.text for p in first.paragraphs()]
    # The sentence the Chinese text lacks is shown in English only; the others pair by their figures.
    keys = first.keys()
    assert len(keys) == 8
    alone = [k for k in keys if first.get(k, "zh") is None]
    assert [first.get(k, "en").text for k in alone] == ["In 2004, 28 projects reached 4000 people."]
    for key in keys:
        en, zh = first.get(key, "en"), first.get(key, "zh")
        assert zh is None or re.search(r"(\d+) people", en.text).group(1) + "人" in zh.text


def test_numbered_record_keeps_footnotes_and_a_repeated_masthead_out_of_its_paragraphs(tmp_path):
    """A numbered report converted one segment per line: footnotes and the masthead repeated after
    the text are notes, not the end of the last paragraph."""
    path = tmp_path / "en.txt"
    body = "".join(f"{n}. The Board reviewed item {n} and took note of the report.\n" for n in range(1, 7))
    path.write_text("Executive Board\nAnnual session 2023\n" + body.replace("3. The", "E/ICEF/2023/9.\n3. The")
                    + "United Nations\n<<ODS DOC SYMBOL2>>\nIbid., p. 4.\nOCHA, Global Humanitarian Overview 2023, "
                    "p. 22.\nSee www.unicef.org/reports.\nIbid., para. 11.\n", encoding="utf-8")
    corpus = load_corpus([path])
    [record] = corpus.records
    assert record.numbering == "own"
    assert [p.number for p in record.paragraphs] == ["1", "2", "3", "4", "5", "6"]
    assert record.paragraphs[-1].text == "The Board reviewed item 6 and took note of the report."
    assert record.paragraphs[1].text == "The Board reviewed item 2 and took note of the report."
    assert {"E/ICEF/2023/9.", "<<ODS DOC SYMBOL2>>", "Ibid., p. 4.", "Ibid., para. 11."} <= set(record.notes)


def test_numbered_record_with_numerals_alone_on_their_lines(tmp_path):
    """'I.' / '一.' alone and the heading's title on the next line head the paragraphs below them;
    neither is glued to the paragraph above."""
    path = tmp_path / "zh.txt"
    path.write_text("执行局\n一.\n导言\n1. 会议开幕。\n2. 通过议程。\n二.\n选举主席团成员\n3. 选举主席。\n"
                    "A.\n4. 会议闭幕。\n", encoding="utf-8")
    [record] = load_corpus([path]).records
    assert [(p.number, p.chapter, p.section, p.text) for p in record.paragraphs] == [
        ("1", "一. 导言", None, "会议开幕。"), ("2", "一. 导言", None, "通过议程。"),
        ("3", "二. 选举主席团成员", None, "选举主席。"), ("4", "二. 选举主席团成员", "A.", "会议闭幕。")]
