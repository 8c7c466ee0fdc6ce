"""Paragraphs of a record whose own numbering was lost: one segment per line, as sentence-aligned
corpora and converters give UN documents.

Each line is a paragraph unless it is part of the masthead (symbol, organization, body, session,
dates, agenda item; placeholder artefacts such as ``<<ODS DOC SYMBOL2>>``), a heading (a section
numeral, a short line without final punctuation, "Summary"), a footnote (a reference line, or the
block of notes a converter puts after the text) or a stray symbol. What is not a paragraph is kept
as a note of the record. The vocabulary and line shapes are per language in ``record_layout.toml``;
this module holds the rules only. Pure: the layout file is the only file read.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from indexer.dates import EN_DATE, ZH_DATE, parse_dates
from indexer.paragraph import RecordMeta

LAYOUT_FILE = Path(__file__).with_name("record_layout.toml")
_LETTER = re.compile(r"[A-Za-z\u3400-\u9fff]")
_DATE_LEFTOVER = re.compile(r"[\s,，、.–—\-至]+")
_TAIL_MISSES = 2
"""Consecutive long lines that are no footnote which end a block of footnotes, walking back from the end."""


@dataclass(frozen=True)
class Layout:
    lang: str
    heading_max_chars: int
    final_punctuation: re.Pattern
    heading_words: frozenset[str]
    organization: re.Pattern
    body: re.Pattern
    session: re.Pattern
    agenda: re.Pattern
    agenda_number: re.Pattern
    meeting: re.Pattern
    masthead: tuple[re.Pattern, ...]
    footnote: tuple[re.Pattern, ...]
    caption: re.Pattern
    symbol: re.Pattern
    symbol_in_text: re.Pattern
    enumerator: re.Pattern
    chapter: tuple[re.Pattern, ...]
    section: re.Pattern

    def is_masthead(self, line: str) -> bool:
        return any(p.search(line) for p in (self.organization, self.body, self.session, self.agenda,
                                            self.meeting, self.symbol, *self.masthead)) or is_date_line(line)

    def is_footnote(self, line: str) -> bool:
        return any(p.search(line) for p in self.footnote)

    def ends_sentence(self, line: str) -> bool:
        return bool(self.final_punctuation.search(line))

    def is_heading_word(self, line: str) -> bool:
        return line.casefold() in self.heading_words


@functools.cache
def load_layout(lang: str) -> Layout:
    """The layout of ``lang`` (English's for a language the file does not describe)."""
    with LAYOUT_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    common, own = data["any"], data.get(lang) or data["en"]

    def one(name: str) -> re.Pattern:
        return re.compile(own.get(name) or common[name])

    def many(name: str) -> tuple[re.Pattern, ...]:
        values = [*common.get(name, []), *own.get(name, [])]
        return tuple(re.compile(v) for v in ([values] if isinstance(values, str) else values))

    chapters = [own["chapter"]] if "chapter" in own else []
    return Layout(
        lang=lang, heading_max_chars=int(own["heading_max_chars"]), final_punctuation=one("final_punctuation"),
        heading_words=frozenset(w.casefold() for w in own["heading_words"]), organization=one("organization"),
        body=one("body"), session=one("session"), agenda=one("agenda"), agenda_number=one("agenda_number"),
        meeting=one("meeting"), masthead=many("masthead"), footnote=many("footnote"), caption=one("caption"),
        symbol=re.compile(common["symbol"]), symbol_in_text=re.compile(common["symbol_in_text"]),
        enumerator=re.compile(common["enumerator"]),
        chapter=tuple(re.compile(p) for p in [common["chapter"], *chapters]), section=re.compile(common["section"]),
    )


def is_date_line(line: str) -> bool:
    """The line is only a date or a range of dates ("13–16 June 2023", "2022年7月25日至2023年7月26日")."""
    if not (EN_DATE.search(line) or ZH_DATE.search(line)):
        return False
    return not _DATE_LEFTOVER.sub("", EN_DATE.sub("", ZH_DATE.sub("", line)))


@dataclass
class Segmented:
    header: list[str] = field(default_factory=list)
    paragraphs: list[dict] = field(default_factory=list)
    """Each {"text", "chapter", "section", "agenda_item"}, in reading order."""
    notes: list[str] = field(default_factory=list)


def segment_lines(lines: list[str], layout: Layout) -> Segmented:
    """Header, paragraphs and notes of the stripped, non-empty lines of an unnumbered record."""
    out = Segmented()
    start = _body_start(lines, layout)
    out.header = lines[:start]
    title = _title(out.header, layout)
    end = _tail_start(lines, start, layout)
    agenda = _agenda_number(out.header, layout)
    chapter = section = None
    chapters_seen, section_letter = 0, ""
    prefix = ""
    i = start
    while i < end:
        line = lines[i]
        following = lines[i + 1] if i + 1 < end else None
        i += 1
        if not _LETTER.search(line):  # a stray symbol: '*', '—', a page number
            out.notes.append(line)
            continue
        if layout.enumerator.match(line):  # '(g)' lost from the start of its item
            prefix = f"{prefix}{line} "
            continue
        numeral = _numeral(line, layout, chapters_seen, section_letter)
        if numeral:
            kind, label, rest = numeral
            if not rest and following and _is_heading_line(following, layout) \
                    and not layout.enumerator.match(following):
                rest, i = following, i + 1  # "I." then "Introduction" on the next line
            heading = f"{label} {rest}".strip() if rest else label
            if kind == "chapter":
                chapter, section, section_letter = heading, None, ""
                chapters_seen += 1
            else:
                section, section_letter = heading, label[0]
            continue
        if layout.caption.match(line):  # "Figure I" and the caption lines after it
            out.notes.append(line)
            while i < end and _is_heading_line(lines[i], layout) and not layout.is_heading_word(lines[i]):
                out.notes.append(lines[i])
                i += 1
            continue
        if layout.is_masthead(line) or (title and line.casefold() == title.casefold()):
            out.notes.append(line)
            continue
        if layout.is_footnote(line) and len(line) <= layout.heading_max_chars * 2:
            out.notes.append(line)
            continue
        if layout.is_heading_word(line):
            chapter, section = line, None
            continue
        if _is_heading_line(line, layout):
            section = line
            continue
        out.paragraphs.append({"text": prefix + line, "chapter": chapter, "section": section, "agenda_item": agenda})
        prefix = ""
    out.notes.extend(lines[end:])
    return out


def _is_heading_line(line: str, layout: Layout) -> bool:
    return (len(line) <= layout.heading_max_chars and not layout.ends_sentence(line)
            and bool(_LETTER.search(line)))


def _body_start(lines: list[str], layout: Layout) -> int:
    """Index of the first line of the text: the masthead and title come before it."""
    for i, line in enumerate(lines):
        if layout.is_masthead(line) or (layout.is_footnote(line) and len(line) < 40):
            continue
        if layout.is_heading_word(line) or any(p.match(line) for p in layout.chapter):
            return i
        if layout.ends_sentence(line) or len(line) > layout.heading_max_chars:
            return i
    return len(lines)


def _tail_start(lines: list[str], start: int, layout: Layout) -> int:
    """Where the block of footnotes (and the masthead repeated after the text) begins, or len(lines).

    Converters put a document's footnotes after its text, often after a second masthead
    ("United Nations", the body, the title again, a ``<<ODS ...>>`` artefact): after such a line
    in the last third, everything is notes. Without one, the notes are the longest run at the end
    in which footnote lines keep coming (at most two long lines in a row that are none)."""
    n = len(lines)
    tail = n
    third = start + (n - start) * 2 // 3
    for j in range(n - 1, third - 1, -1):
        if lines[j] and (any(p.search(lines[j]) for p in layout.masthead) or layout.organization.search(lines[j])
                         or layout.body.search(lines[j])):
            if not any(any(p.match(line) for p in layout.chapter) for line in lines[j + 1:]):
                tail = j + 1
            break
    found, misses, hits = n, 0, 0
    short = layout.heading_max_chars * 2 // 3
    for j in range(n - 1, start - 1, -1):
        line = lines[j]
        if layout.is_footnote(line) or layout.is_masthead(line):
            found, misses, hits = j, 0, hits + 1
        elif len(line) > short:
            misses += 1
            if misses > _TAIL_MISSES:
                break
    if hits >= 3:
        tail = min(tail, found)
    return max(tail, start)


def _numeral(line: str, layout: Layout, chapters_seen: int, section_letter: str
             ) -> tuple[str, str, str] | None:
    """("chapter" | "section", the numeral with its dot, the heading text after it) for a numeral
    heading. A letter that is both a Roman numeral and a section letter (C, I, L) is the one that
    continues its sequence."""
    if len(line) > layout.heading_max_chars:
        return None
    chapter = next((m for p in layout.chapter if (m := p.match(line))), None)
    section = layout.section.match(line)
    if section and (not chapter or line[0] == (chr(ord(section_letter) + 1) if section_letter else "A")):
        found = ("section", line.split(".", 1)[0] + ".", (section.group(2) or "").strip())
    elif chapter:
        found = ("chapter", line[:chapter.end(1) + 1], (chapter.group(2) or "").strip())
    else:
        return None
    # "A. The Council adopted ..." is a sentence that starts with a letter, not a heading.
    return None if found[2] and layout.ends_sentence(found[2]) else found


def _title(header: list[str], layout: Layout) -> str | None:
    """The last header line that is neither masthead nor a bracketed note."""
    for line in reversed(header):
        if not layout.is_masthead(line) and not line.startswith(("[", "【")) and not layout.is_footnote(line):
            return line
    return None


def _agenda_number(header: list[str], layout: Layout) -> str | None:
    for line in header:
        m = layout.agenda_number.search(line)
        if m:
            return re.sub(r"\s+", "", m.group(1)).replace("（", "(").replace("）", ")")
    return None


def meta_from_masthead(header: list[str], layout: Layout, *, lines: list[str] = ()) -> RecordMeta:
    """Symbol, organization, body, session, dates, agenda item and title from the masthead lines;
    a symbol the masthead lacks is taken from a line of the text naming the record's title with its
    symbol ("... annual report on humanitarian action (E/ICEF/2023/14)")."""
    fields: dict[str, str | None] = {}
    bodies = [line for line in header if layout.organization.search(line) or layout.body.search(line)]
    if len(bodies) >= 2:
        fields["organization"], fields["body"] = bodies[0], bodies[-1]
    elif bodies:
        fields["body"] = bodies[0]
    for line in header:
        if layout.symbol.match(line) and "symbol" not in fields:
            fields["symbol"] = line
        elif layout.session.search(line) and "session" not in fields:
            fields["session"] = line
        elif layout.agenda.search(line) and "agenda" not in fields:
            fields["agenda"] = line
    dated = [line for line in header if is_date_line(line)] or [line for line in header if parse_dates(line)]
    if dated:
        found = [d for m in (*EN_DATE.finditer(dated[0]), *ZH_DATE.finditer(dated[0]))
                 if (d := parse_dates(m.group()))]
        if found:
            fields["start_date"], fields["end_date"] = min(d[0] for d in found), max(d[1] for d in found)
    title = _title(header, layout)
    if title:
        fields["title"] = title
        if "symbol" not in fields:
            fields["symbol"] = symbol_named_with(title, lines, layout)
    return RecordMeta(**fields)


def symbol_named_with(title: str, lines: list[str], layout: Layout) -> str | None:
    """The symbol in parentheses right after ``title`` in one of ``lines``: how a decision names the
    report it takes note of."""
    wanted = title.casefold()
    for line in lines:
        at = line.casefold().find(wanted)
        if at < 0:
            continue
        m = layout.symbol_in_text.match(line, at + len(title))
        if m:
            return m.group(1)
    return None


_NUMBERED = re.compile(r"^\d{1,4}\.\s*\S")


def out_of_place(lines: list[str], layout: Layout) -> set[int]:
    """Indices of ``lines`` (a numbered text, blank lines included) that a converter put among the
    numbered paragraphs but are no text: the block of footnotes after the text, a masthead repeated
    (``<<ODS DOC SYMBOL2>>``, a lone symbol, "United Nations") and lone references such as
    ``E/ICEF/2023/9.``. Lines before the first numbered paragraph are the header: never counted."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    first = next((k for k, i in enumerate(filled) if _NUMBERED.match(lines[i].strip())), None)
    if first is None:
        return set()
    text = [lines[i].strip() for i in filled]
    # A numbered line is text whatever it says ("2. ... 第2段。" is no footnote): the notes come after the last.
    last = max(k for k, line in enumerate(text) if _NUMBERED.match(line))
    tail = max(_tail_start(text, first + 1, layout), last + 1)
    dropped = {filled[k] for k in range(tail, len(text))}
    strong = (*layout.masthead, layout.symbol, layout.organization, layout.footnote[0] if layout.footnote else None)
    for k in range(first + 1, tail):
        if not _NUMBERED.match(text[k]) and any(p is not None and p.search(text[k]) for p in strong):
            dropped.add(filled[k])
    return dropped

