"""What kind of answer a question expects, and whether a sentence holds one. Pure.

Used two ways: a sentence that holds the expected kind of answer (a number for 'how many', a
date for 'when', a person for 'who') ranks higher, and when none of the chosen sentences holds
one the record does not state the answer, so the answerer abstains instead of quoting a
sentence that only shares words with the question.
"""

from __future__ import annotations

import re

_EXPECT = {
    "count": (
        re.compile(r"\bhow (?:many|much)\b|\bwhat (?:share|percentage|proportion|amount)\b|\bnumber of\b"
                   r"|\bhow long\b", re.IGNORECASE),
        re.compile(r"多少|几个|几名|几项|几次|几位|几场|几年|百分之|比例|数量|人数|金额"),
    ),
    "date": (
        re.compile(r"\bwhen\b|\bwhat (?:date|day|time|year|month)\b|\bwhich (?:date|day|year|month)\b"
                   r"|\bon what (?:date|day)\b|\bwhat time\b", re.IGNORECASE),
        re.compile(r"何时|什么时候|哪一天|哪天|哪几天|几点|日期|哪一年|哪年|几月|什么时间|会期|几号"),
    ),
    "person": (
        re.compile(r"^\s*(?:who|whom)\b|\bwho (?:was|is|were|did|made|gave|chaired|opened|spoke|announced)\b"
                   r"|\bname of\b|\bwhich (?:official|person|delegate|speaker)\b", re.IGNORECASE),
        re.compile(r"谁|哪位|哪一位|何人|姓名|名字"),
    ),
}

_ORDINAL = re.compile(r"第\s*\d+|\d+(?:st|nd|rd|th)\b")
_DATE_EN = re.compile(
    r"\b\d{1,2}(?:\s*(?:-|to)\s*\d{1,2})?\s+(?:January|February|March|April|May|June|July|August|September|"
    r"October|November|December)(?:\s+\d{4})?|\b(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December)\s+\d{4}|\b\d{1,2}[.:]\d{2}\s*[ap]\.m\.|\b(?:19|20)\d{2}\b"
)
_DATE_ZH = re.compile(r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月|\d{1,2}\s*日|[上下]午\s*\d{1,2}\s*时")
_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|"
    r"hundred|thousand|million|billion|trillion|dozens?|per cent|percent)\b|%|[一二三四五六七八九十两百千万亿]+"
    r"\s*(?:个|项|名|次|场|年|届|位|种|类|份|条|方|组|席)", re.IGNORECASE,
)
_SYMBOL = re.compile(r"\b[A-Z]{1,6}(?:/[A-Z0-9.]+)+|\b\d+/\d+\b")
# Capitalised words that make institutions, regions and titles rather than people's names.
_NOT_NAME = frozenset(
    """States State Nations United Assembly Agenda Programme Office Committee Board Council Group Forum Goals
    Declaration Day Development European Eastern Western Latin American African Asia Asia-Pacific Pacific Plan
    Habitat Executive Director Government Republic Federation Kingdom Session Meeting City Cities Communities
    Urban New General Secretary Acting Innovation Better Quality Life Sustainable Agreement Paris Foundation
    Human Settlements Environment Permanent Representatives Caribbean Other Islamic Democratic Strategic
    World October Award Framework Action International Conference Third Chief Executives Coordination The
    In At On Of And For By To A An It He She They This That""".split()
)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-zà-ÿ'’]+(?:\s+[A-Z][a-zà-ÿ'’]+)+")
_PERSON = re.compile(
    r"\b(?:Mr|Ms|Mrs|Dr)\.?\s+[A-Z][a-zA-Z'’-]+"
    r"|[\u4e00-\u9fff]{1,8}(?:·[\u4e00-\u9fff]{1,8})+|[\u4e00-\u9fff]{2,4}(?:女士|先生)"
    r"|[A-Z][a-z]+\s*(?:女士|先生)"
)
PLACEHOLDER = re.compile(r"(?<![A-Za-z])XX(?![A-Za-z])")


def expected_answer(question: str, lang: str) -> str | None:
    """'count', 'date', 'person' or None when the question does not call for one kind of answer."""
    for kind, (english, chinese) in _EXPECT.items():
        if (chinese if lang == "zh" else english).search(question):
            return kind
    return None


def holds(sentence: str, kind: str | None) -> bool:
    """Whether the sentence contains an answer of the expected kind."""
    if kind is None:
        return True
    if kind == "date":
        return bool(_DATE_EN.search(sentence) or _DATE_ZH.search(sentence))
    if kind == "count":
        rest = _ORDINAL.sub(" ", _DATE_ZH.sub(" ", _DATE_EN.sub(" ", _SYMBOL.sub(" ", sentence))))
        return bool(re.search(r"\d", rest) or _NUMBER_WORDS.search(rest))
    if kind == "person":
        cleaned = PLACEHOLDER.sub(" ", sentence)
        if _PERSON.search(cleaned):
            return True
        return any(not set(run.split()) & _NOT_NAME for run in _CAPITALISED_RUN.findall(cleaned))
    return True


def agenda_reference(question: str) -> tuple[int, bool] | None:
    """(item number, asks what the item was) for 'agenda item 9' / 'item 12 of the agenda' /
    '议程项目 9' / '议程第 12 项'; None otherwise."""
    m = re.search(r"\bitem\s+(\d+)\s+(?:of|on)\s+the\s+agenda|议程第\s*(\d+)\s*项", question, re.IGNORECASE)
    if m:
        return int(m.group(1) or m.group(2)), True
    m = re.search(r"agenda\s+item\s+(\d+)|议程项目\s*(\d+)", question, re.IGNORECASE)
    if m:
        return int(m.group(1) or m.group(2)), False
    return None
