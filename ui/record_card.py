"""What the chat says about the loaded records: its subtitle, example questions and the server's
warm-up questions, all from the records' metadata and text (templates in the language packs'
``record_card``), never from code. Pure."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from indexer.catalogue import folder_examples, record_info
from indexer.corpus import Corpus
from indexer.paragraph import RecordMeta
from qa.language_pack import Packs
from ui.labels import label

MANY_RECORDS = 3
"""Past this many records the subtitle names each by its symbol or title only."""
PER_RECORD = 2
"""Example questions shown per record when several are loaded."""
TITLE_CHARS = 60
HEADING_CHARS = 100
"""Longer headings make no readable example question."""
_HEADING_NUMBER = re.compile(r"^\s*(?:[IVXLC]+\.|[A-Z]\.|\d+(?:\.\d+)*\.?|[一二三四五六七八九十]+[、.．])\s*")


def describe_records(corpus: Corpus, lang: str, packs: Packs, records: tuple[str, ...] = ()) -> str:
    """'the <session> of the <body> (<place>, <dates>)' from each record's metadata, in the pack's
    template for ``lang``, else its title, else its symbol or id; several records joined. Past
    MANY_RECORDS records, each is named by its symbol or title alone, so the line stays readable."""
    card = packs[lang].record_card
    chosen = [r for r in corpus.record_ids if not records or r in records]
    parts = []
    for record_id in chosen:
        versions = corpus.versions(record_id)
        meta = (versions.get(lang) or next(iter(versions.values()))).meta
        info = record_info(corpus, record_id, lang)  # symbol and title from any language version
        short = info.title or info.symbol
        described = short if len(chosen) > MANY_RECORDS and short else _describe(meta, card, lang)
        parts.append(described or info.title or info.symbol or record_id)
    return ("；" if lang == "zh" else "; ").join(parts)


def widget_title(corpus: Corpus, lang: str, records: tuple[str, ...] = ()) -> str:
    """The widget panel's default title: the one record's body and session (else its title, symbol or
    id), cut to TITLE_CHARS; with several records, how many there are."""
    chosen = [r for r in corpus.record_ids if not records or r in records]
    if len(chosen) != 1:
        return label(lang, "widget_title_many", count=len(chosen))
    versions = corpus.versions(chosen[0])
    meta = (versions.get(lang) or next(iter(versions.values()))).meta
    sep = "" if lang == "zh" else " "
    named = sep.join(part for part in (meta.body, meta.session) if part) if meta.body else ""
    title = named or meta.title or getattr(meta, "symbol", None) or chosen[0]
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def example_questions(corpus: Corpus, packs: Packs, languages: tuple[str, ...] = ("zh", "en"),
                      records: tuple[str, ...] = ()) -> list[str]:
    """Questions a delegate might ask, record by record (all records, or ``records``): those kept
    beside the record (``indexer.catalogue.folder_examples``) when there are any, else ones made from
    its metadata (body, session), its most discussed agenda item and its longest-running heading.
    Templates whose fields the record lacks are skipped. With several records, a few of each."""
    chosen = [r for r in corpus.record_ids if not records or r in records]
    each = None if len(chosen) <= 1 else PER_RECORD
    out: list[str] = []
    for record_id in chosen:
        found = _record_examples(corpus, record_id, packs, languages)
        out += found[:each] if each else found
    return list(dict.fromkeys(out))


def _record_examples(corpus: Corpus, record_id: str, packs: Packs, languages: tuple[str, ...]) -> list[str]:
    versions = corpus.versions(record_id)
    kept = next((found for record in versions.values() if (found := folder_examples(record))), [])
    if kept:
        return kept
    items = Counter(p.agenda_item for record in versions.values() for p in record.paragraphs
                    if p.agenda_item and p.agenda_item.isdigit() and not p.pending)
    item = items.most_common(1)[0][0] if items else None
    out = []
    for template_index in range(2):
        for lang in languages:
            record = versions.get(lang)
            if record is None:
                continue
            fields = {"body": record.meta.body, "session": _lower_first(record.meta.session, lang), "item": item}
            templates = packs[lang].record_card.get("examples", [])
            if template_index < len(templates):
                try:
                    text = templates[template_index].format(**fields)
                except (KeyError, IndexError):
                    continue
                if "None" not in text:
                    out.append(text)
    if len(out) < len(languages):
        # A record without a body, session or agenda items (a report, a resolution): ask about its
        # longest-running heading, the same one in every language.
        key = _main_heading_key(versions)
        for lang in languages:
            paragraph = corpus.get(key, lang) if key else None
            template = packs[lang].record_card.get("example_heading")
            heading = _clean_heading(paragraph.section or paragraph.chapter) if paragraph else None
            if template and heading:
                out.append(template.format(heading=heading))
    return out


def _main_heading_key(versions: dict) -> str | None:
    """A paragraph under the heading over the most paragraphs (of those short enough to ask about)."""
    for record in versions.values():
        counts = Counter(p.section or p.chapter for p in record.paragraphs if p.section or p.chapter)
        for heading, _ in counts.most_common():
            if _clean_heading(heading):
                return next(p.key for p in record.paragraphs if (p.section or p.chapter) == heading)
    return None


def _clean_heading(heading: str | None) -> str | None:
    """The heading without its numbering ('II.', '二、', 'A.', '17.'), when short enough to ask about."""
    heading = _HEADING_NUMBER.sub("", heading or "").strip()
    return heading if 0 < len(heading) <= HEADING_CHARS else None


def _describe(meta: RecordMeta, card: dict, lang: str) -> str | None:
    if meta.body and meta.session and meta.place and meta.start_date:
        return card["describe"].format(session=_lower_first(meta.session, lang), body=meta.body, place=meta.place,
                                       dates=_dates(meta.start_date, meta.end_date or meta.start_date, card))
    return card["describe_title"].format(title=meta.title) if meta.title else None


def _dates(start: str, end: str, card: dict) -> str:
    try:
        a, b = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return start if start == end else f"{start} - {end}"
    months = card.get("months") or [str(m) for m in range(1, 13)]
    if (a.year, a.month) == (b.year, b.month):
        return card["dates_one_month"].format(d1=a.day, d2=b.day, month=months[a.month - 1], m=a.month, year=a.year)
    return card["dates"].format(d1=a.day, d2=b.day, month1=months[a.month - 1], month2=months[b.month - 1],
                                m1=a.month, m2=b.month, year1=a.year, year2=b.year)


def _lower_first(text: str | None, lang: str) -> str | None:
    # 'First session' reads 'the first session of ...' inside an English sentence.
    return text[:1].lower() + text[1:] if text and lang == "en" else text
