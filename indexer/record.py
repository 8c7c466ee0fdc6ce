"""Parse a UN proceedings text file (Chinese or English) into a ``Record``.

The rules, general enough for UN reports laid out the usual way:

* a line ``N. text`` starts paragraph N only when N is the next paragraph number; any other
  numbered line (an agenda list restarting at 1) belongs to the paragraph above it;
* chapter headings are ``一、…`` or ``I. …``, section headings ``A. …``; the agenda item in a
  heading (``（议程项目 9）`` / ``(agenda item 9)``) attaches to the paragraphs below it. A section
  without an item of its own inherits its chapter's item only when the chapter names a single
  item (a range such as 1-8 says nothing about which item a section belongs to);
* a line after a blank gap that is not a heading, a paragraph or a list item continues the paragraph
  above: when the text above stops mid-sentence it is a page break and the halves are rejoined;
* markdown emphasis (``**``) is dropped, the names inside it kept.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from indexer.dates import EN_DATE as _EN_DATE
from indexer.dates import ZH_DATE as _ZH_DATE
from indexer.dates import parse_dates as _parse_dates
from indexer.paragraph import GENERATED, OWN, Paragraph, Record, RecordMeta, generated_id
from indexer.parse_cache import ParseCache
from indexer.unnumbered import load_layout, meta_from_masthead, out_of_place, segment_lines


class RecordError(ValueError):
    """A record file that cannot be parsed; the message says which file and why."""


PENDING_MARKERS = ("[待补]", "[to be completed]")
_ANNEX_MISSING = re.compile(r"(附件\s*\[\s*\])|(annex\s*\[\s*\])", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"(?<![A-Za-z])XX(?![A-Za-z])")

_PARAGRAPH = re.compile(r"^(\d{1,4})\.\s*(.*)$")
_SUB_PARAGRAPH = re.compile(r"^(\d{1,3})\.(\d{1,3}|[a-z])\s+(\S.*)$")
_CHAPTER = re.compile(r"^(?:([一二三四五六七八九十]+)、|([IVXLC]+)\.\s)\s*(.+)$")
_SECTION = re.compile(r"^([A-Z])\.\s+(.+)$")
# A numeral alone on its line, its title on the next (documents converted one segment per line).
_LONE_NUMERAL = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[IVXLC]+\.|[A-Z]\.)$")
_LIST_ITEM = re.compile(r"^(\d{1,3}\.|\([a-z]{1,4}\)|[-•·–])\s*")
_AGENDA = re.compile(
    r"(?:议程项目|agenda items?)\s*(\d+(?:\s*(?:[-–、,，和至]|and|to)\s*\d+)*)", re.IGNORECASE
)
_SENTENCE_END = tuple("。！？；：.!?;:")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HEADING_MAX_CHARS = 160

_SESSION = re.compile(r"^(第.{1,6}届(?:特别)?会议|(?:\w+[- ])?\w+ (?:special )?session)$", re.IGNORECASE)
_NOTE = re.compile(r"translation|译文|unofficial|非正式", re.IGNORECASE)


def detect_language(text: str) -> str:
    """'zh' when CJK characters make up a good share of the letters, else 'en'."""
    cjk = len(_CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk * 3 >= latin else "en"


def is_cjk(char: str) -> bool:
    return bool(_CJK.match(char))


def parse_record(text: str, *, record_id: str, lang: str | None = None, source: Path | None = None) -> Record:
    """Parse the text of one language version of a record. Pure: no file access.

    A record that numbers its paragraphs (``1.`` lines, or ``1.`` + ``1.1``/``1.a`` targets) keeps its
    numbers as ids; one that does not (a converter lost them; one segment per line) gets ids ``p1``,
    ``p2``, ... in reading order, with mastheads, footnotes and stray symbols kept as notes."""
    name = str(source) if source else record_id
    text = text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = text.replace("**", "")
    if not text.strip():
        raise RecordError(f"{name}: the file is empty")
    lang = lang or detect_language(text)
    lines = text.split("\n")
    sha = hashlib.sha256(text.encode()).hexdigest()

    layout = load_layout(lang)
    # Footnotes and a repeated masthead a converter left among numbered paragraphs are notes, not text.
    aside = out_of_place(lines, layout)
    numbered_lines = ["" if i in aside else line for i, line in enumerate(lines)]
    header, paragraphs, warnings = _numbered_paragraphs(numbered_lines, name,
                                                        hierarchical=_is_hierarchical(numbered_lines))
    if paragraphs and _numbering_covers(numbered_lines, len(paragraphs)):
        return Record(
            id=record_id, lang=lang, meta=parse_header(header), paragraphs=_built(paragraphs, record_id, lang),
            source=source, sha256=sha, warnings=tuple(warnings), numbering=OWN,
            notes=tuple(lines[i].strip() for i in sorted(aside)),
        )
    segmented = segment_lines([line.strip() for line in lines if line.strip()], layout)
    if not segmented.paragraphs:
        raise RecordError(f"{name}: no paragraphs found (neither numbered lines like '1. ...' "
                          f"nor lines of text ending a sentence)")
    numbered = [{**p, "number": generated_id(i)} for i, p in enumerate(segmented.paragraphs, 1)]
    meta = meta_from_masthead(segmented.header, layout, lines=[line.strip() for line in lines])
    return Record(
        id=record_id, lang=lang, meta=meta, paragraphs=_built(numbered, record_id, lang), source=source,
        sha256=sha, warnings=tuple(warnings), numbering=GENERATED, notes=tuple(segmented.notes),
    )


def _built(paragraphs: list[dict], record_id: str, lang: str) -> tuple[Paragraph, ...]:
    return tuple(
        Paragraph(
            record=record_id,
            lang=lang,
            pending=any(marker in p["text"] for marker in PENDING_MARKERS),
            missing_annex=bool(_ANNEX_MISSING.search(p["text"])),
            placeholder=bool(_PLACEHOLDER.search(p["text"])),
            **p,
        )
        for p in paragraphs
    )


def _is_hierarchical(lines: list[str]) -> bool:
    """Targets numbered under their goal (``1.1``, ``1.a`` after ``1.``), not a flat 1..N."""
    subs = sum(1 for line in lines if _SUB_PARAGRAPH.match(line.strip()))
    return subs >= 2


def _numbering_covers(lines: list[str], count: int) -> bool:
    """The numbered paragraphs are the text's paragraphs, not a few numbers kept by chance in a text
    whose numbering was lost (one segment per line after three numbered ones)."""
    body = [line for line in lines if line.strip()]
    first = next((i for i, line in enumerate(body) if _PARAGRAPH.match(line.strip())), 0)
    return count * 4 >= len(body) - first


def _numbered_paragraphs(lines: list[str], name: str, *, hierarchical: bool
                         ) -> tuple[list[str], list[dict], list[str]]:
    """(header lines, paragraphs, warnings) by the record's own numbers."""
    header: list[str] = []
    paragraphs: list[dict] = []
    warnings: list[str] = []
    chapter = section = None
    chapter_item = section_item = None
    chapters_seen, section_letter = 0, ""
    top, goal = 0, None  # top-level paragraphs so far; the last one's line (heading of its targets)
    seen: set[str] = set()
    gap = False  # a blank line since the last content line
    titled = kind = None  # 'chapter'/'section' when the line above was a numeral alone

    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            gap = True
            continue
        expected = top + 1
        numbered = _PARAGRAPH.match(line)
        sub = _SUB_PARAGRAPH.match(line) if hierarchical else None
        item = section_item or (chapter_item if chapter_item and _is_single(chapter_item) else None)
        if sub and int(sub.group(1)) == top and f"{sub.group(1)}.{sub.group(2)}" not in seen:
            number = f"{sub.group(1)}.{sub.group(2)}"
            seen.add(number)
            paragraphs.append({"number": number, "text": sub.group(3).strip(), "chapter": goal or chapter,
                               "section": section, "agenda_item": item})
        elif (numbered and not sub and int(numbered.group(1)) == expected and numbered.group(2)
                and not (not gap and paragraphs and _continues_list(paragraphs[-1]["text"], expected))):
            top, number = expected, str(expected)
            seen.add(number)
            if hierarchical:
                goal = line
            paragraphs.append(
                {"number": number, "text": numbered.group(2).strip(), "chapter": chapter,
                 "section": section, "agenda_item": item}
            )
        elif titled and not numbered and _is_title(line):  # the title of a numeral heading above
            if titled == "chapter":
                chapter = f"{chapter} {line}"
                chapter_item = _agenda_item(chapter)
            else:
                section = f"{section} {line}"
                section_item = _agenda_item(section)
            titled, gap = None, False
            continue
        elif (kind := _heading_kind(line, chapters_seen, section_letter, gap or not paragraphs)) == "chapter":
            chapter, section, section_item, section_letter = line, None, None, ""
            chapter_item = _agenda_item(line)
            chapters_seen += 1
        elif kind == "section":
            section, section_letter = line, line[0]
            section_item = _agenda_item(line)
        elif not paragraphs:
            header.append(line)
        else:
            if numbered and int(numbered.group(1)) > expected and not _in_list(paragraphs[-1]["text"]):
                warnings.append(
                    f"{name}:{lineno}: number {numbered.group(1)} where paragraph {expected} was expected; "
                    f"kept inside paragraph {paragraphs[-1]['number']}"
                )
            paragraphs[-1]["text"] = _join(paragraphs[-1]["text"], line, gap)
        titled = kind if kind and _LONE_NUMERAL.match(line) else None
        gap = False
    return header, paragraphs, warnings


def _is_title(line: str) -> bool:
    return len(line) <= _HEADING_MAX_CHARS and not line.endswith(_SENTENCE_END)


def read_record(path: Path, *, record_id: str | None = None, lang: str | None = None,
                cache: ParseCache | None = None) -> Record:
    """Read and parse a record file; a missing, binary or unparseable file raises RecordError.
    The record's ``sha256`` is the digest of the file's bytes; ``cache`` gives the kept parse of
    bytes parsed before."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecordError(f"{path}: cannot read the file ({exc.strerror})") from exc
    record_id = record_id or path.stem
    sha = hashlib.sha256(data).hexdigest()
    kept = cache.get(path, record_id=record_id, lang=lang, sha256=sha) if cache else None
    if kept is not None:
        return kept
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"{path}: not UTF-8 text (byte {exc.start}); save the record as UTF-8") from exc
    if "\x00" in text:
        raise RecordError(f"{path}: binary data, not a text record")
    record = replace(parse_record(text, record_id=record_id, lang=lang, source=path), sha256=sha)
    if cache is not None:
        cache.put(path, record, record_id=record_id, lang=lang)
    return record


def parse_header(lines: list[str]) -> RecordMeta:
    """Read body, session, place, dates and title from the lines above the first heading."""
    fields: dict[str, str | None] = {}
    session_at = next((i for i, line in enumerate(lines) if _SESSION.match(line)), None)
    if session_at is not None:
        fields["session"] = lines[session_at]
        if session_at >= 1:
            fields["body"] = lines[session_at - 1]
        if session_at >= 2:
            fields["organization"] = lines[session_at - 2]
    date_at = None
    for i, line in enumerate(lines):
        dates = _parse_dates(line)
        if dates:
            date_at = i
            fields["start_date"], fields["end_date"] = dates
            place = _ZH_DATE.sub("", line)
            place = _EN_DATE.sub("", place)
            fields["place"] = place.strip(" ，,、.") or None
            break
    rest = lines[(date_at + 1) if date_at is not None else (session_at or -1) + 1 :]
    notes = [line for line in rest if _NOTE.search(line)]
    titles = [line for line in rest if line not in notes]
    if titles:
        fields["title"] = " ".join(titles) if lines and detect_language(" ".join(titles)) == "en" else "".join(
            titles
        )
    if notes:
        fields["note"] = " ".join(notes)
    return RecordMeta(**fields)


def _heading_kind(line: str, chapters_seen: int, section_letter: str, after_gap: bool) -> str | None:
    """'chapter', 'section' or None. Letters such as C, I and L read as both a Roman numeral and a
    section letter, so the one that continues the current sequence wins."""
    if _LONE_NUMERAL.match(line):
        letter = line[:-1]
        next_letter = chr(ord(section_letter) + 1) if section_letter else "A"
        if len(letter) == 1 and "A" <= letter <= "Z" and (letter == next_letter or letter not in "IVXLC"):
            return "section"
        return "chapter"
    chapter = _is_heading(line, _CHAPTER)
    section = after_gap and _is_heading(line, _SECTION)
    if chapter and section:
        next_letter = chr(ord(section_letter) + 1) if section_letter else "A"
        if line[0] == next_letter:
            return "section"
        return "chapter" if line.startswith(_roman(chapters_seen + 1) + ".") else "section"
    return "chapter" if chapter else "section" if section else None


def _roman(number: int) -> str:
    out = ""
    for value, digits in ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while number >= value:
            out, number = out + digits, number - value
    return out


def _is_heading(line: str, pattern: re.Pattern) -> bool:
    return bool(pattern.match(line)) and len(line) <= _HEADING_MAX_CHARS and not line.endswith(("。", ";", "；"))


def _agenda_item(heading: str) -> str | None:
    m = _AGENDA.search(heading)
    if not m:
        return None
    numbers = re.findall(r"\d+", m.group(1))
    if len(numbers) == 2 and re.search(r"[-–至]|to", m.group(1)):
        return f"{numbers[0]}-{numbers[1]}"
    return ",".join(numbers)


def _is_single(item: str) -> bool:
    return item.isdigit()


def _continues_list(text: str, number: int) -> bool:
    """The paragraph ends with list item number-1, so an unbroken line 'number.' continues that list."""
    last = text.rsplit("\n", 1)[-1] if "\n" in text else ""
    return bool(re.match(rf"{number - 1}\.\s", last))


def _in_list(text: str) -> bool:
    last = text.rsplit("\n", 1)[-1]
    return bool(_LIST_ITEM.match(last)) and "\n" in text


def _join(previous: str, line: str, gap: bool) -> str:
    """Join a continuation line: a new line for lists and line breaks, rejoined for page breaks."""
    if not gap or _LIST_ITEM.match(line) or previous.endswith(_SENTENCE_END):
        return f"{previous}\n{line}"
    # A blank gap mid-sentence is a page break: rejoin the halves of the sentence.
    sep = "" if is_cjk(previous[-1]) or is_cjk(line[0]) else " "
    return previous + sep + line
