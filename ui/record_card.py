"""What the chat says about the loaded records: its subtitle, example questions and the server's
warm-up questions, all from the records' metadata and text (templates in the language packs'
``record_card``), never from code. Pure."""

from __future__ import annotations

from collections import Counter
from datetime import date

from indexer.corpus import Corpus
from indexer.paragraph import RecordMeta
from qa.language_pack import Packs


def describe_records(corpus: Corpus, lang: str, packs: Packs) -> str:
    """'the <session> of the <body> (<place>, <dates>)' from each record's metadata, in the pack's
    template for ``lang``, else its title, else its id; several records joined."""
    card = packs[lang].record_card
    parts = []
    for record_id in corpus.record_ids:
        versions = corpus.versions(record_id)
        meta = (versions.get(lang) or next(iter(versions.values()))).meta
        parts.append(_describe(meta, card, lang) or record_id)
    return ("；" if lang == "zh" else "; ").join(parts)


def example_questions(corpus: Corpus, packs: Packs, languages: tuple[str, ...] = ("zh", "en")) -> list[str]:
    """Questions a delegate might ask of the first record, in each language: from its metadata (body,
    session) and its most discussed agenda item. Templates whose fields the record lacks are skipped."""
    if not corpus.record_ids:
        return []
    versions = corpus.versions(corpus.record_ids[0])
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
    return out


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
