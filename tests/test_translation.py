"""Translation: the English working translation is aligned with the Chinese record, paragraph by
paragraph; and language and record knowledge as data (the gazetteer, the glossary built from it,
the CC-CEDICT dictionary and translate_terms, which combines them)."""

import re
import warnings
from collections import Counter
from pathlib import Path

import pytest

from indexer.corpus import load_corpus
from indexer.dictionary import clean_gloss, content_words, lemma, load_dictionary
from indexer.gazetteer import TermMatcher, load_gazetteer
from indexer.glossary import DICTIONARY_WEIGHT, GLOSSARY_WEIGHT, Glossary, load_glossary, translate_terms

RECORD_DIR = Path(__file__).resolve().parents[1] / "data" / "records" / "HSP-HA-1"

MONTHS = "January February March April May June July August September October November December".split()
ZH_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九", 1)}
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}

# Documented conversions of amounts: paragraph -> English digit runs allowed without a Chinese counterpart.
CONVERTED = {"53": {"100"}}  # 1 亿美元 = $100 million

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
    assert zh_numbers == [str(n) for n in range(1, 70)]
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


# --- language and record knowledge as data ----------------------------------------------------------


@pytest.fixture(scope="module")
def gazetteer():
    return load_gazetteer()


@pytest.fixture(scope="module")
def glossary():
    return load_glossary()


@pytest.fixture(scope="module")
def cedict_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cedict")


@pytest.fixture(scope="module")
def dictionary(cedict_cache):
    return load_dictionary(cache_dir=cedict_cache)  # built here, then kept in the cache


# --- gazetteer ----------------------------------------------------------------------------------------


def test_countries_in_both_languages(gazetteer):
    assert gazetteer.countries_in("Statements were made by Kenya, China and the Russian Federation.") == {
        "Kenya", "China", "Russian Federation"}
    assert gazetteer.countries_in("肯尼亚、中国和俄罗斯联邦的代表发了言。") == {"Kenya", "China", "Russian Federation"}
    assert gazetteer.countries_in("the United States and the USA") == {"United States of America"}
    assert gazetteer.countries_in("美国和美利坚合众国") == {"United States of America"}
    assert gazetteer.countries_in("Côte d’Ivoire") == {"Côte d'Ivoire"}
    assert gazetteer.countries_in("nothing here, chad or china in lower case") == set()


def test_developing_countries_are_not_china(gazetteer):
    assert gazetteer.countries_in("发展中国家的城市化") == set()
    assert gazetteer.countries_in("小岛屿发展中国家和中国") == {"China"}
    assert gazetteer.countries_in("七十七国集团和中国") == set()
    assert gazetteer.countries_in("the Group of 77 and China") == set()


def test_longest_country_name_wins(gazetteer):
    assert gazetteer.countries_in("Papua New Guinea and Equatorial Guinea") == {"Papua New Guinea", "Equatorial Guinea"}
    assert gazetteer.countries_in("Guinea-Bissau, Guinea") == {"Guinea-Bissau", "Guinea"}
    assert gazetteer.countries_in("巴布亚新几内亚和赤道几内亚") == {"Papua New Guinea", "Equatorial Guinea"}
    assert gazetteer.countries_in("几内亚") == {"Guinea"}
    assert gazetteer.countries_in("South Sudan, Niger") == {"South Sudan", "Niger"}
    assert gazetteer.countries_in("索马里、印度尼西亚") == {"Somalia", "Indonesia"}


def test_both_record_versions_name_the_same_countries(gazetteer):
    en = gazetteer.countries_in((RECORD_DIR / "en.txt").read_text(encoding="utf-8"))
    zh = gazetteer.countries_in((RECORD_DIR / "zh.txt").read_text(encoding="utf-8"))
    assert en == zh
    assert {"Kenya", "Mexico", "Indonesia", "United States of America"} <= en


def test_name_both_ways(gazetteer):
    assert gazetteer.name("China", "zh") == "中国"
    assert gazetteer.name("中国", "en") == "China"
    assert gazetteer.name("Republic of Korea", "zh") == "大韩民国"
    assert gazetteer.name("USA", "zh") == "美利坚合众国"
    assert gazetteer.name("United Republic of Tanzania", "en") == "Tanzania"
    assert gazetteer.name("UNEP", "zh") == "环境署"
    assert gazetteer.name("人居署", "en") == "UN-Habitat"
    with pytest.raises(KeyError):
        gazetteer.name("Atlantis", "zh")


def test_entries_by_kind(gazetteer):
    kinds = Counter(e.kind for e in gazetteer.entries())
    assert kinds["country"] >= 193
    assert {e.en for e in gazetteer.entries("group")} >= {
        "African States", "Asia-Pacific States", "Eastern European States",
        "Latin American and Caribbean States", "Western European and other States"}
    acronyms = {e.en: e for e in gazetteer.entries("acronym")}
    assert acronyms["SDGs"].zh == "可持续发展目标"
    assert "Sustainable Development Goals" in acronyms["SDGs"].aliases
    assert acronyms["NUA"].zh == "新城市议程"


def test_every_old_country_and_term_is_kept(gazetteer):
    pairs = set(gazetteer.pairs())
    for pair in [("坦桑尼亚联合共和国", "United Republic of Tanzania"), ("执行局", "Executive Board"),
                 ("主席", "Chair"), ("会期", "session"), ("大韩民国", "Republic of Korea")]:
        assert pair in pairs


def test_malformed_gazetteer_lines_are_rejected(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_text("# comment\ncountry\t中国\tChina\n中国\tChina\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"g\.tsv:3"):
        load_gazetteer(path)
    path.write_text("planet\t火星\tMars\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kind"):
        load_gazetteer(path)


def test_matcher_plural_case_and_acronyms():
    matcher = TermMatcher(["Member State", "UN", "SDGs", "Chair"], ignore_case=True)
    found = [form for _, _, form in matcher.find("Member States, the UN, un-related, SDG 11, the chairs")]
    assert found == ["Member State", "UN", "SDGs", "Chair"]
    assert matcher.find("a statement, the sun") == []


# --- glossary from the gazetteer --------------------------------------------------------------------------


def test_glossary_carries_acronyms_both_ways(glossary):
    assert glossary.translate("How do the SDGs relate to the NUA?", "en") == ["可持续发展目标", "新城市议程"]
    assert "SDGs" in glossary.translate("可持续发展目标", "zh")
    assert "Sustainable Development Goals" in glossary.translate("可持续发展目标", "zh")
    assert glossary.translate("UNEP and UN-Habitat", "en")[:1] == ["环境署"]
    assert "人居署" in glossary.translate("UNEP and UN-Habitat", "en")
    carried = glossary.translate("Which Latin American and Caribbean States won the election?", "en")
    assert carried[0] == "拉丁美洲和加勒比国家" and carried[-1] == "选举"


def test_glossary_chinese_terms_cover_every_zh_form(glossary, gazetteer):
    terms = set(glossary.chinese_terms)
    assert all(form in terms for e in gazetteer.entries() for form in e.zh_forms)


# --- dictionary -------------------------------------------------------------------------------------------


def test_gloss_cleaning():
    assert content_words("to hold a meeting") == ["hold", "meeting"]
    assert content_words("meeting (a formal gathering)") == ["meeting"]
    assert content_words("CL:個|个[ge4]") == []
    assert content_words("surname Zhang") == []
    assert content_words("variant of 瞭|了[liao3]") == []
    assert clean_gloss("(completed action marker)") is None
    assert lemma("Settlements") == "settlement" and lemma("cities") == "city" and lemma("women") == "woman"


def test_dictionary_both_directions(dictionary):
    assert "housing" in dictionary.en_for("住房")
    assert "youth" in dictionary.en_for("青年")
    assert "住房" in dictionary.zh_for("housing")
    assert dictionary.zh_for("Housing")[0] == "住房"
    assert "青年" in dictionary.zh_for("youths")
    assert "当选" in dictionary.zh_for("elected")
    assert all(len(w) >= 2 for w in dictionary.zh_for("water"))
    assert len(dictionary.zh_for("development")) <= 8


def test_dictionary_translate(dictionary):
    assert "气候变化" in dictionary.translate("climate change", "en")
    assert "青年" in dictionary.translate(["youth"], "en")
    en = dictionary.translate("肯尼亚代表关于青年和住房说了什么？", "zh")
    assert {"youth", "housing", "kenya"} <= set(en)
    assert "pertaining" not in en  # 关于 is question filler


def test_english_question_reaches_the_chinese_record(glossary, dictionary):
    zh = (RECORD_DIR / "zh.txt").read_text(encoding="utf-8")
    terms = translate_terms("What did the Assembly say about youth and the SDGs?", "en", glossary, dictionary)
    assert terms["可持续发展目标"] == GLOSSARY_WEIGHT
    assert terms["青年"] == DICTIONARY_WEIGHT
    assert "青年" in zh
    reached = [t for t in terms if t in zh]
    assert {"可持续发展目标", "青年"} <= set(reached)


def test_translate_terms_glossary_first(glossary, dictionary):
    # 执行主任 is one glossary term: the dictionary does not also translate 执行 and 主任.
    terms = translate_terms("执行主任谈到了住房", "zh", glossary, dictionary)
    assert terms["Executive Director"] == GLOSSARY_WEIGHT
    assert terms["housing"] == DICTIONARY_WEIGHT
    assert "execute" not in terms and "director" not in terms
    legacy = Glossary((("执行局", "Executive Board"),))
    assert translate_terms("Executive Board housing", "en", legacy, dictionary)["执行局"] == GLOSSARY_WEIGHT


def test_cache_gives_the_same_dictionary(cedict_cache, dictionary):
    cached = load_dictionary(cache_dir=cedict_cache)
    assert [p.name.startswith("cedict-") for p in cedict_cache.iterdir()] == [True]
    assert cached.glosses == dictionary.glosses
    for word in ("housing", "youth", "resolution", "elected"):
        assert cached.zh_for(word) == dictionary.zh_for(word)
    assert cached.translate("climate change and youth", "en") == dictionary.translate("climate change and youth", "en")


def test_unwritable_cache_folder_still_loads_the_dictionary(tmp_path, dictionary):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    loaded = load_dictionary(cache_dir=blocker / "cedict")  # the cache cannot be created
    assert blocker.read_text() == "not a folder"
    # a stem-only English word ('urbanisation' -> the stem group of 'urban...') still translates
    assert loaded.zh_for("urbanisations") == dictionary.zh_for("urbanisations")
    assert loaded.en_for("住房") == ["housing"]


def test_loading_raises_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_gazetteer()
        load_glossary().translate("SDGs", "en")
        load_dictionary().en_for("住房")
