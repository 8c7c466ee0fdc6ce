"""Answers as chat markdown: escaped text, clickable citations, abstentions marked. Pure."""

from __future__ import annotations

import html
import re

from qa.answer import Answer
from qa.citation import MARKER
from ui.labels import label

# Characters that would let record or user text turn into markdown structure or links.
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]()#|~!])")


def escape_text(text: str) -> str:
    """User or record text shown literally: no HTML, no markdown links or emphasis."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", html.escape(text, quote=False))


# In a downloaded document: what could start emphasis, code, links, headings, tables or tags.
# Parentheses stay readable: without an unescaped ']' before them they make no link.
_DOCUMENT_ACTIVE = re.compile(r"([\\`*_\[\]<>#|~])")


def document_text(text: str) -> str:
    """Record or user text for a Markdown file people also read raw: shown literally, lightly escaped."""
    return _DOCUMENT_ACTIVE.sub(r"\\\1", text)


def citation_anchor(record: str, paragraph: str) -> str:
    return f"#para={record}:{paragraph}"


def answer_markdown(answer: Answer, ui_lang: str, default_record: str = "") -> str:
    """The answer text with each [¶N] as a link the page opens in the paragraph viewer.

    ``default_record`` resolves markers that are not citations (an abstention naming the
    paragraph the record has not filled in); a follow-up shows the question as searched."""
    records = {c.paragraph: c.record for c in answer.citations}
    # With several records loaded a citation's label names its record ('E/ICEF/2023/14 ¶12').
    labels = {(c.record, c.paragraph): c.label for c in answer.citations if c.label}
    default_record = answer.citations[0].record if answer.citations else default_record
    pieces: list[str] = []
    last = 0
    for match in MARKER.finditer(answer.answer):
        pieces.append(escape_text(answer.answer[last:match.start()]))
        record = match.group(1) or records.get(match.group(2), default_record)
        number = match.group(2)
        shown = labels.get((record, number)) or (f"{match.group(1)} ¶{number}" if match.group(1) else f"¶{number}")
        shown = escape_text(shown)
        pieces.append(f"[\\[{shown}\\]]({citation_anchor(record, number)})" if record else f"\\[{shown}\\]")
        last = match.end()
    pieces.append(escape_text(answer.answer[last:]))
    body = "".join(pieces)
    if answer.outcome == "indirect":
        # No claim is made: the closest passages are shown for the reader to judge.
        body = f"**{label(ui_lang, 'indirect')}** · {body}"
    elif answer.abstained:
        body = f"**{label(ui_lang, 'no_answer')}** · {body}"
    notes = [n for n in answer.notices if not n.startswith("dense retrieval")]
    if answer.standalone_question:
        notes.insert(0, label(ui_lang, "searched", question=answer.standalone_question))
    if notes:
        body += "\n\n" + "\n".join(f"> {escape_text(n)}" for n in notes)
    return body


def conversation_markdown(answers: list[Answer], ui_lang: str) -> str:
    """A conversation as a Markdown document: each question, its answer and the sentences it cites
    with their paragraph and record, in the interface language's headings. Record and user text
    is escaped (document_text), so the document shows it literally."""
    lines = [f"# {label(ui_lang, 'conversation_title')}", ""]
    for number, answer in enumerate(answers, 1):
        lines += [f"## {number}. {document_text(answer.question)}", ""]
        if answer.standalone_question:
            lines += [f"*{label(ui_lang, 'searched', question=document_text(answer.standalone_question))}*", ""]
        lead = ("indirect" if answer.outcome == "indirect" else "no_answer") if answer.abstained else None
        lines += [(f"**{label(ui_lang, lead)}** · " if lead else "") + document_text(answer.answer), ""]
        if answer.citations:
            lines += [f"**{label(ui_lang, 'citations_heading')}**", ""]
            lines += [f"- \\[{document_text(c.label or '¶' + c.paragraph)}\\] {document_text(c.record)}: "
                      f"{document_text(c.quote)}"
                      for c in answer.citations]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def pieces(text: str, size: int = 12) -> list[str]:
    """``text`` cut every few words (or CJK characters) for streaming; the pieces join back to
    ``text``. A citation link is never cut in half, so every prefix renders."""
    tokens = re.findall(r"\[\\\[[^\]()]*?¶[^\]()]*?\\\]\]\([^)]*\)|\s*[^\s\u4e00-\u9fff]+|[\u4e00-\u9fff]|\s+", text)
    out = ["".join(tokens[i:i + size]) for i in range(0, len(tokens), size)]
    rest = text[len("".join(out)):]  # whatever the pattern skipped (nothing, but never lose text)
    if rest:
        out.append(rest)
    return out or [""]
