"""The English working translation is aligned with the Chinese record, paragraph by paragraph."""

import re
from pathlib import Path

import pytest

from indexer.corpus import load_corpus

RECORD_DIR = Path(__file__).resolve().parents[1] / "data" / "records" / "HSP-HA-1"

MONTHS = "January February March April May June July August September October November December".split()
ZH_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九", 1)}
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}

# Documented conversions of amounts: paragraph -> English digit runs allowed without a Chinese counterpart.
CONVERTED = {53: {"100"}}  # 1 亿美元 = $100 million

# Latin-script names and document symbols: 'Martha Delgado Peralta', 'HSP/HA/1/INF/3', 'A/73/83-E/2018/62'.
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[/-][A-Za-z0-9]+)*(?: [A-Z][A-Za-z]*)*")
ZH_MONTH = re.compile(r"(\d{1,2})\s*月")


@pytest.fixture(scope="module")
def versions():
    corpus = load_corpus([RECORD_DIR])
    assert corpus.record_ids == ["HSP-HA-1"]
    found = corpus.versions("HSP-HA-1")
    assert sorted(found) == ["en", "zh"]
    return found


@pytest.fixture(scope="module")
def pairs(versions):
    return list(zip(versions["zh"].paragraphs, versions["en"].paragraphs, strict=True))


def chinese_number(text):
    """'一' -> 1, '十' -> 10, '十二' -> 12, '二十一' -> 21."""
    if "十" not in text:
        return ZH_NUMERALS[text]
    tens, _, units = text.partition("十")
    return (ZH_NUMERALS[tens] if tens else 1) * 10 + (ZH_NUMERALS[units] if units else 0)


def roman_number(text):
    values = [ROMAN[c] for c in text]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def chapter_number(heading):
    if heading is None:
        return None
    zh = re.match(r"([一二三四五六七八九十]+)、", heading)
    if zh:
        return chinese_number(zh.group(1))
    en = re.match(r"([IVXLC]+)\.\s", heading)
    assert en, f"unrecognised chapter heading {heading!r}"
    return roman_number(en.group(1))


def digit_runs(text):
    return set(re.findall(r"\d{2,}", text))


def test_helpers():
    assert [chinese_number(t) for t in ("一", "九", "十", "十二", "二十一")] == [1, 9, 10, 12, 21]
    assert [roman_number(t) for t in ("I", "IV", "IX", "X", "XIV")] == [1, 4, 9, 10, 14]


def test_same_paragraph_numbers(versions):
    zh_numbers = [p.number for p in versions["zh"].paragraphs]
    assert zh_numbers == list(range(1, 70))
    assert [p.number for p in versions["en"].paragraphs] == zh_numbers


def test_same_chapters(pairs):
    mismatched = {
        zh.number: (zh.chapter, en.chapter)
        for zh, en in pairs
        if chapter_number(zh.chapter) != chapter_number(en.chapter)
    }
    assert mismatched == {}
    assert chapter_number(pairs[68][1].chapter) == 10


def test_same_section_letters(pairs):
    def letter(p):
        return p.section[0] if p.section else None

    mismatched = {zh.number: (zh.section, en.section) for zh, en in pairs if letter(zh) != letter(en)}
    assert mismatched == {}


def test_same_agenda_items(pairs):
    mismatched = {zh.number: (zh.agenda_item, en.agenda_item) for zh, en in pairs if zh.agenda_item != en.agenda_item}
    assert mismatched == {}


@pytest.mark.parametrize("flag", ["pending", "missing_annex", "placeholder"])
def test_same_flags(pairs, flag):
    mismatched = [zh.number for zh, en in pairs if getattr(zh, flag) != getattr(en, flag)]
    assert mismatched == []
    assert any(getattr(zh, flag) for zh, _ in pairs)


def test_agenda_list_in_paragraph_36_has_18_lines_in_both(pairs):
    zh, en = pairs[35]
    assert len(zh.text.split("\n")) == len(en.text.split("\n")) == 19
    assert en.text.split("\n")[-1] == "18. Closure of the session."


def test_chinese_numbers_appear_in_english(pairs):
    missing = {}
    for zh, en in pairs:
        months_removed = ZH_MONTH.sub(" ", zh.text)
        lost = digit_runs(months_removed) - digit_runs(en.text)
        if lost:
            missing[zh.number] = sorted(lost)
    assert missing == {}


def test_chinese_months_appear_as_english_month_names(pairs):
    missing = {}
    checked = 0
    for zh, en in pairs:
        for month in ZH_MONTH.findall(zh.text):
            checked += 1
            name = MONTHS[int(month) - 1]
            if name not in en.text:
                missing.setdefault(zh.number, []).append(name)
    assert missing == {}
    assert checked > 20


def test_english_numbers_appear_in_chinese(pairs):
    extra = {}
    for zh, en in pairs:
        added = digit_runs(en.text) - digit_runs(zh.text) - CONVERTED.get(zh.number, set())
        if added:
            extra[zh.number] = sorted(added)
    assert extra == {}


def test_documented_conversion_is_still_needed(pairs):
    zh, en = pairs[52]
    assert "1 亿美元" in zh.text
    assert "$100 million" in en.text
    assert "100" not in digit_runs(zh.text)


def test_latin_names_and_symbols_appear_verbatim(pairs):
    missing = {}
    for zh, en in pairs:
        lost = [name for name in LATIN.findall(zh.text) if name not in en.text]
        if lost:
            missing[zh.number] = lost
    assert missing == {}


def test_latin_extraction_finds_names_and_symbols(pairs):
    assert LATIN.findall(pairs[2][0].text) == ["Martha Delgado Peralta"]
    assert LATIN.findall(pairs[49][0].text) == ["HSP/HA/1/2", "A/73/83-E/2018/62"]
    assert LATIN.findall(pairs[48][0].text) == ["HSP/HA/1/2", "HSP/HA/1/INF/3"]


def test_english_header_says_unofficial_working_translation(versions):
    zh_meta, en_meta = versions["zh"].meta, versions["en"].meta
    assert en_meta.note is not None
    assert "Unofficial working translation" in en_meta.note
    assert "not an official United Nations text" in en_meta.note
    assert zh_meta.note is None
    assert "translation" not in (en_meta.title or "").lower()


def test_english_header_has_same_dates_and_place(versions):
    zh_meta, en_meta = versions["zh"].meta, versions["en"].meta
    assert (en_meta.start_date, en_meta.end_date) == (zh_meta.start_date, zh_meta.end_date)
    assert (en_meta.start_date, en_meta.end_date) == ("2019-05-27", "2019-05-31")
    assert en_meta.place == "Nairobi"
    assert zh_meta.place == "内罗毕"
    assert en_meta.session == "First session"
    assert en_meta.body == "UN-Habitat Assembly"


def test_corpus_finds_a_paragraph_in_either_language(versions):
    corpus = load_corpus([RECORD_DIR])
    assert corpus.resolve("45") == "HSP-HA-1:45"
    assert corpus.get("HSP-HA-1:45", "en").text.startswith("Accordingly, the Assembly elected")
    assert corpus.get("HSP-HA-1:45", "zh").text.startswith("据此，人居大会选举")
    assert corpus.get("HSP-HA-1:70", "en") is None
