"""The record parser on the real Chinese record, on small synthetic records, and on bad input."""

from pathlib import Path

import pytest

from indexer.corpus import load_corpus
from indexer.record import RecordError, parse_record, read_record

RECORD_DIR = Path(__file__).resolve().parents[1] / "data" / "records" / "HSP-HA-1"


@pytest.fixture(scope="module")
def zh():
    return read_record(RECORD_DIR / "zh.txt", record_id="HSP-HA-1", lang="zh")


def para(record, number):
    found = record.paragraph(number)
    assert found is not None, f"paragraph {number} missing"
    return found


# --- the real Chinese record -------------------------------------------------------------------------


def test_paragraphs_1_to_69_each_once_in_order(zh):
    assert [p.number for p in zh.paragraphs] == [str(n) for n in range(1, 70)]
    assert zh.lang == "zh"
    assert zh.warnings == ()


def test_agenda_list_is_inside_paragraph_36(zh):
    text = para(zh, 36).text
    assert text.startswith("在第 2 次全体会议上，人居署根据议事规则第 13 条")
    items = text.split("\n")[1:]
    assert len(items) == 18
    assert [item.split(".")[0] for item in items] == [str(n) for n in range(1, 19)]
    assert items[0] == "1. 会议开幕。"
    assert "18. 会议闭幕。" in text
    assert para(zh, 37).text.startswith("在 2019 年 5 月 27 日星期一下午的第 2 次全体会议上")


def test_lettered_list_is_inside_paragraph_45(zh):
    lines = para(zh, 45).text.split("\n")
    assert lines[0] == "据此，人居大会选举下列会员国的代表为执行局成员："
    assert [line[:3] for line in lines[1:]] == ["(a)", "(b)", "(c)", "(d)", "(e)"]
    assert lines[5] == "(e) 西欧和其他国家：加拿大、法国、德国、西班牙、瑞典、土耳其和美利坚合众国。"
    assert para(zh, 46).text.startswith("在第 2 次全体会议上，人居大会还决定")


def test_paragraphs_25_26_27_are_separate(zh):
    assert para(zh, 25).text == "[待补]驻人居署观察员也出席了会议。"
    assert para(zh, 26).text == "下列联合国机构和专门机构派代表出席了会议：[待补]"
    assert para(zh, 27).text == "下列政府间组织也派代表出席了会议：[待补]"


@pytest.mark.parametrize(
    ("number", "joined"),
    [
        (5, "代理执行主任乔伊丝·姆苏亚女士"),
        (17, "而这愈发取决于对城市增长的成功管理"),
        (53, "国家以下各级主管部门以及其他主要合作伙伴"),
        (59, "第十一届会议将于 2022年在波兰卡托维兹举行"),
        (63, "四个相辅相成的目标，并指出，计划草案格外宏大"),
    ],
)
def test_page_broken_paragraphs_are_rejoined(zh, number, joined):
    text = para(zh, number).text
    assert joined in text
    assert "\n" not in text


def test_no_paragraph_contains_a_blank_line(zh):
    assert [p.number for p in zh.paragraphs if "\n\n" in p.text or "\n \n" in p.text] == []


def test_paragraphs_after_page_breaks_start_where_they_should(zh):
    assert para(zh, 60).text.startswith("人居大会在 2019 年 5 月 27 日星期一下午的第 2 次全体会议上")
    assert para(zh, 18).text.startswith("最后，她提请注意供人居大会审议")


@pytest.mark.parametrize(
    ("number", "item"),
    [
        (1, "1"),
        (3, "2"),
        (4, None),
        (22, None),
        (29, "3"),
        (36, "5"),
        (44, "9"),
        (45, "9"),
        (46, "9"),
        (47, "9"),
        (48, None),
        (49, "10"),
        (60, "13"),
        (61, "13"),
        (62, "14"),
        (69, "18"),
    ],
)
def test_agenda_items_attach_to_paragraphs(zh, number, item):
    assert para(zh, number).agenda_item == item


def test_sections_and_chapters_attach(zh):
    assert para(zh, 3).section == "B. 选举联合国人居大会主席（议程项目 2）"
    assert para(zh, 4).section == "C. 开幕式"
    assert para(zh, 4).chapter == "一、会议安排（议程项目 1-8）"
    # "I." here is section I of chapter 一, not a Roman-numeral chapter.
    assert para(zh, 37).section == "I. 选举主席团成员（议程项目 6）"
    assert para(zh, 37).chapter == "一、会议安排（议程项目 1-8）"
    assert para(zh, 49).section is None
    assert para(zh, 49).chapter == "二、联合国人类住区规划署的活动，包括协调事项 (议程项目 10)"
    assert para(zh, 60).section == "A. 高级别会议"
    assert para(zh, 61).section == "B. 高级别互动式对话"
    assert para(zh, 61).chapter.startswith("五、高级别会议")


def test_pending_flags(zh):
    pending = (23, 24, 25, 26, 27, 40, 43, 48, 65, 66, 67, 68, 69)
    assert {p.number for p in zh.paragraphs if p.pending} == {str(n) for n in pending}


def test_missing_annex_flags(zh):
    assert {p.number for p in zh.paragraphs if p.missing_annex} == {"8", "60", "61"}


def test_placeholder_flags(zh):
    assert {p.number for p in zh.paragraphs if p.placeholder} == {"28", "37", "38"}


def test_emphasis_removed_names_kept(zh):
    assert [p.number for p in zh.paragraphs if "*" in p.text] == []
    assert "印度尼西亚西爪哇省省长 Ridwan Kamil 先生" in para(zh, 5).text
    assert "人居署亲善大使 Sona Jobarteh 女士" in para(zh, 5).text
    assert para(zh, 6).text.startswith("Delgado Peralta 女士在致开幕词时说")


def test_header_metadata(zh):
    meta = zh.meta
    assert meta.organization == "联合国人类住区规划署"
    assert meta.body == "联合国人居大会"
    assert meta.session == "第一届会议"
    assert meta.place == "内罗毕"
    assert (meta.start_date, meta.end_date) == ("2019-05-27", "2019-05-31")
    assert "会议记录草案" in meta.title
    assert meta.note is None


def test_paragraph_keys_name_the_record(zh):
    assert para(zh, 45).key == "HSP-HA-1:45"
    assert para(zh, 45).record == "HSP-HA-1"


# --- synthetic records --------------------------------------------------------------------------------

HEADER = """United Nations Environment Programme
United Nations Environment Assembly
Fourth session

Nairobi, 11-15 March 2019

Proceedings of the Assembly

"""

# Chapter I with sections A..I: C and I read as Roman numerals as well as section letters.
SECTIONS_TEXT = HEADER + """I. Organization of the session (agenda item 1)

A. Opening of the session

1. The session was opened by Ms. Leila Benali.

B. Attendance

2. Representatives of 150 States attended.

C. Credentials (agenda item 2)

3. The Bureau examined the credentials.

D. Adoption of the agenda

4. The agenda was adopted.

E. Organization of work

5. The Assembly approved its programme of work.

F. Committee of the Whole

6. A committee of the whole was established.

G. Drafting group

7. A drafting group was established.

H. Consultations

8. Informal consultations were held.

I. Election of officers (agenda item 3)

9. The Assembly elected its officers.

II. Closure of the session (agenda item 4)

10. The session was closed.
"""


def test_roman_numeral_chapters_and_section_letters_are_told_apart():
    record = parse_record(SECTIONS_TEXT, record_id="UNEP-EA-4")
    assert record.lang == "en"
    assert [p.number for p in record.paragraphs] == [str(n) for n in range(1, 11)]
    chapter_1 = "I. Organization of the session (agenda item 1)"
    assert [p.chapter for p in record.paragraphs[:9]] == [chapter_1] * 9
    assert [p.section[0] for p in record.paragraphs[:9]] == list("ABCDEFGHI")
    assert record.paragraph(3).section == "C. Credentials (agenda item 2)"
    assert record.paragraph(9).section == "I. Election of officers (agenda item 3)"
    assert record.paragraph(10).chapter == "II. Closure of the session (agenda item 4)"
    assert record.paragraph(10).section is None


def test_agenda_items_from_sections_and_single_item_chapters():
    record = parse_record(SECTIONS_TEXT, record_id="UNEP-EA-4")
    assert [p.agenda_item for p in record.paragraphs] == ["1", "1", "2", "1", "1", "1", "1", "1", "3", "4"]


def test_english_header_metadata():
    meta = parse_record(SECTIONS_TEXT, record_id="UNEP-EA-4").meta
    assert meta.organization == "United Nations Environment Programme"
    assert meta.body == "United Nations Environment Assembly"
    assert meta.session == "Fourth session"
    assert meta.place == "Nairobi"
    assert (meta.start_date, meta.end_date) == ("2019-03-11", "2019-03-15")
    assert meta.title == "Proceedings of the Assembly"


def test_crlf_and_byte_order_mark(tmp_path):
    path = tmp_path / "unep.txt"
    path.write_bytes(("\ufeff" + SECTIONS_TEXT.replace("\n", "\r\n")).encode("utf-8"))
    record = read_record(path)
    assert record.id == "unep"
    assert record.meta.organization == "United Nations Environment Programme"
    assert [p.number for p in record.paragraphs] == [str(n) for n in range(1, 11)]
    assert record.paragraph(1).text == "The session was opened by Ms. Leila Benali."
    assert all("\r" not in p.text and "\ufeff" not in p.text for p in record.paragraphs)
    assert record.paragraph(9).section == "I. Election of officers (agenda item 3)"


LIST_TEXT = HEADER + """I. Organization of the session (agenda item 1)

A. Opening of the session

1. The session was opened by Ms. Leila Benali.

2. The Assembly adopted the following agenda:

1. Opening of the session.
2. Adoption of the agenda.
3. Closure of the session.

B. Attendance

3. Representatives of 150 States attended.
"""


def test_numbered_list_inside_paragraph_2_stays_in_paragraph_2():
    record = parse_record(LIST_TEXT, record_id="UNEP-EA-4")
    assert [p.number for p in record.paragraphs] == ["1", "2", "3"]
    assert record.paragraph(2).text == (
        "The Assembly adopted the following agenda:\n"
        "1. Opening of the session.\n"
        "2. Adoption of the agenda.\n"
        "3. Closure of the session."
    )
    assert record.paragraph(3).text == "Representatives of 150 States attended."
    assert record.paragraph(3).section == "B. Attendance"


PAGE_BREAK_TEXT = HEADER + """I. Organization of the session (agenda item 1)

1. The session was opened by Ms. Leila Benali, President of the

Assembly, who welcomed participants.

2. The Assembly adopted its agenda.
"""


def test_page_break_mid_sentence_is_rejoined():
    record = parse_record(PAGE_BREAK_TEXT, record_id="UNEP-EA-4")
    assert [p.number for p in record.paragraphs] == ["1", "2"]
    assert record.paragraph(1).text == (
        "The session was opened by Ms. Leila Benali, President of the Assembly, who welcomed participants."
    )


def test_chinese_page_break_after_a_number_is_rejoined_without_a_space():
    text = "一、会议安排（议程项目 1）\n\n1. 第十一届会议将于 2022\n\n年在波兰卡托维兹举行。\n\n2. 会议闭幕。\n"
    record = parse_record(text, record_id="ZH")
    assert record.lang == "zh"
    assert record.paragraph(1).text == "第十一届会议将于 2022年在波兰卡托维兹举行。"
    assert record.paragraph(2).agenda_item == "1"


# --- bad input ----------------------------------------------------------------------------------------


def record_error(path):
    with pytest.raises(RecordError) as caught:
        read_record(path)
    message = str(caught.value)
    assert path.name in message
    return message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert "empty" in record_error(path)


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n  \n\t\n", encoding="utf-8")
    assert "empty" in record_error(path)


def test_file_without_paragraphs(tmp_path):
    # Only masthead and title lines: neither numbered paragraphs nor lines of text.
    path = tmp_path / "notes.txt"
    path.write_text("联合国人居大会\n第一届会议\n\n会议记录草案\n", encoding="utf-8")
    assert "no paragraphs found" in record_error(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("1. 会议于内罗毕召开。\n".encode("gbk"))
    assert "UTF-8" in record_error(path)


def test_binary_file(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00word/document.xml")
    assert "binary" in record_error(path)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.txt"
    assert "cannot read" in record_error(path)


def test_load_corpus_rejects_versions_with_different_paragraph_counts(tmp_path):
    folder = tmp_path / "REC-7"
    folder.mkdir()
    (folder / "zh.txt").write_text("1. 会议开幕。\n\n2. 通过议程。\n\n3. 会议闭幕。\n", encoding="utf-8")
    (folder / "en.txt").write_text("1. Opening of the session.\n\n2. Adoption of the agenda.\n", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        load_corpus([folder])
    message = str(caught.value)
    assert "REC-7" in message
    assert "align" in message


def test_load_corpus_on_a_missing_folder_names_it(tmp_path):
    with pytest.raises(RecordError) as caught:
        load_corpus([tmp_path / "REC-9"])
    assert "REC-9" in str(caught.value)


def test_kept_parses_serve_only_the_bytes_they_were_parsed_from(tmp_path):
    from indexer.parse_cache import ParseCache

    folder = tmp_path / "records" / "REC-1"
    folder.mkdir(parents=True)
    (folder / "en.txt").write_text("Board\n\n1. The Board met in Rome.\n\n2. It adopted its agenda.\n",
                                   encoding="utf-8")
    (folder / "zh.txt").write_text("理事会\n\n1. 理事会在罗马举行会议。\n\n2. 理事会通过了议程。\n", encoding="utf-8")
    cache = ParseCache(tmp_path / "cache" / "records")
    fresh = load_corpus([folder.parent])
    assert load_corpus([folder.parent], parse_cache=cache) == fresh  # parsed, then kept
    assert len(list(cache.folder.glob("*.json"))) == 2
    assert load_corpus([folder.parent], parse_cache=cache) == fresh  # read from what was kept

    # A changed file is parsed again; its entry is replaced, not added to.
    (folder / "en.txt").write_text("Board\n\n1. The Board met in Nairobi.\n\n2. It adopted its agenda.\n",
                                   encoding="utf-8")
    changed = load_corpus([folder.parent], parse_cache=cache)
    assert changed.get("REC-1:1", "en").text == "The Board met in Nairobi."
    assert changed.get("REC-1:1", "en").record == "REC-1" and len(list(cache.folder.glob("*.json"))) == 2

    # Damaged entries are parsed again; a cache that cannot be written costs only the parse.
    for entry in cache.folder.glob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert load_corpus([folder.parent], parse_cache=cache) == changed
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")  # a folder that cannot be made, even by root
    assert load_corpus([folder.parent], parse_cache=ParseCache(blocked / "records")) == changed
