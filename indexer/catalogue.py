"""What a collection holds, record by record: id, symbol, title, languages, paragraph count and
whether the paragraph numbers are the record's own; how a citation names its record; and the
example questions a record's folder supplies. Read from the built corpus, so listing the
records (`recordqa records`, `/api/records`, the chat's selector) loads no model. Pure, except
``folder_examples``, which reads one small file beside the record.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from indexer.corpus import Corpus
from indexer.paragraph import Record

EXAMPLES_FILE = "examples.json"
"""Beside a record's language files (and its record.toml): a JSON list of example questions, in
either language. Not a .txt file, which would be read as one more language version. Read when the
chat is built, so editing it needs a restart, not a re-index."""
_GENERATED_ID = re.compile(r"^p\d+$")
LISTED = 20
"""Loaded record ids an unknown-record message names (a collection may hold thousands)."""


class UnknownRecord(ValueError):
    """A record id that is not in the index; the message lists the loaded ids."""


@dataclass(frozen=True)
class RecordInfo:
    id: str
    symbol: str | None
    title: str | None
    languages: tuple[str, ...]
    paragraphs: int
    numbering: str
    """'own' (the record's printed numbers) or 'generated' (numbered by RecordQA: ids 'p1', 'p2', ...)."""
    files: tuple[str, ...] = ()
    """The record's language files, as indexed."""

    @property
    def name(self) -> str:
        """How a citation names the record: its symbol when it has one, else its id."""
        return self.symbol or self.id

    def as_json(self) -> dict:
        data = asdict(self)
        data["languages"] = list(self.languages)
        data["files"] = list(self.files)
        return data


def record_info(corpus: Corpus, record_id: str, lang: str = "en") -> RecordInfo:
    versions = corpus.versions(record_id)
    first = versions.get(lang) or next(iter(versions.values()))
    keys = {p.key for version in versions.values() for p in version.paragraphs}
    return RecordInfo(
        id=record_id,
        symbol=_meta(versions, "symbol", lang),
        title=_meta(versions, "title", lang),
        languages=tuple(sorted(versions)),
        paragraphs=len(keys),
        numbering=_numbering(first),
        files=tuple(str(r.source) for _, r in sorted(versions.items()) if r.source),
    )


def catalogue(corpus: Corpus, lang: str = "en") -> list[RecordInfo]:
    """Every record of the corpus, in id order; titles in ``lang`` where that version exists."""
    return [record_info(corpus, record_id, lang) for record_id in corpus.record_ids]


def choose_records(chosen, loaded: list[str]) -> tuple[str, ...]:
    """The record ids a question is restricted to: () for all. ``chosen`` is None, one id or a list of
    them; an id not loaded raises UnknownRecord naming the loaded ones."""
    if chosen is None or chosen == "" or chosen == []:
        return ()
    ids = [chosen] if isinstance(chosen, str) else list(chosen)
    if not all(isinstance(i, str) for i in ids):
        raise UnknownRecord("record ids must be strings")
    unknown = [i for i in ids if i not in loaded]
    if unknown:
        # A few of them, each cut short: the message echoes what a client sent.
        named = ", ".join(repr(i[:80]) for i in unknown[:3]) + (f" (and {len(unknown) - 3} more)" if len(unknown) > 3
                                                                else "")
        listed = ", ".join(loaded[:LISTED]) + (f" and {len(loaded) - LISTED} more (`recordqa records`)"
                                               if len(loaded) > LISTED else "")
        raise UnknownRecord(f"unknown record {named}; loaded records: {listed}")
    if set(ids) == set(loaded):
        return ()
    return tuple(dict.fromkeys(ids))


def citation_label(record: str, paragraph: str, names: dict[str, str] | None) -> str:
    """'¶12' with one record loaded (``names`` None or of one record); 'E/ICEF/2023/14 ¶12' (the
    record's symbol, else its id) when several are."""
    if not names or len(names) <= 1:
        return f"¶{paragraph}"
    return f"{names.get(record, record)} ¶{paragraph}"


def record_names(corpus: Corpus) -> dict[str, str]:
    """Record id -> how citations name it (symbol, else id)."""
    return {info.id: info.name for info in catalogue(corpus)}


def folder_examples(record: Record) -> list[str]:
    """Example questions kept beside the record's files (EXAMPLES_FILE), in file order; [] when there
    are none or the file cannot be read."""
    if record.source is None:
        return []
    try:
        listed = json.loads((Path(record.source).parent / EXAMPLES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = [q.strip() for q in listed if isinstance(q, str) and q.strip()] if isinstance(listed, list) else []
    return list(dict.fromkeys(found))


def _meta(versions: dict[str, Record], name: str, lang: str) -> str | None:
    ordered = [versions[lang]] if lang in versions else []
    ordered += [r for code, r in sorted(versions.items()) if code != lang]
    return next((value for r in ordered if (value := getattr(r.meta, name, None))), None)


def _numbering(record: Record) -> str:
    stated = getattr(record, "numbering", None)
    if stated in ("own", "generated"):
        return stated
    ids = [str(p.id) for p in record.paragraphs]
    return "generated" if ids and all(_GENERATED_ID.match(i) for i in ids) else "own"
