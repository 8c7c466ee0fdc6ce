"""The parsed shape of a record: its metadata and its paragraphs.

A paragraph's ``number`` is its id as a string. Where the document numbers its paragraphs the id
is the printed number ("12", "1.1", "1.a"); where it does not, RecordQA numbers the paragraphs
itself in reading order with a ``p`` prefix ("p1", "p2", ...), so a citation ``[¶p12]`` is never
taken for the document's own paragraph 12 (``Record.numbering`` says which).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

OWN = "own"
GENERATED = "generated"
GENERATED_PREFIX = "p"


def generated_id(position: int) -> str:
    """The id RecordQA gives the ``position``-th (1-based) paragraph of an unnumbered record."""
    return f"{GENERATED_PREFIX}{position}"


@dataclass(frozen=True)
class Paragraph:
    record: str
    number: str
    """The id as the document prints it ("12", "1.a"), or "p12" when RecordQA numbered it."""
    lang: str
    text: str
    chapter: str | None = None
    section: str | None = None
    agenda_item: str | None = None
    pending: bool = False
    """The paragraph's content is still to be completed ([待补] / [to be completed])."""
    missing_annex: bool = False
    """The paragraph points to an annex this record does not include."""
    placeholder: bool = False
    """The paragraph holds XX placeholders for names or symbols not yet filled in."""

    def __post_init__(self) -> None:
        # Records parsed before ids became strings (records.json of an older build) hold ints.
        if not isinstance(self.number, str):
            object.__setattr__(self, "number", str(self.number))

    @property
    def id(self) -> str:
        return self.number

    @property
    def key(self) -> str:
        """Unique across records: several records can share one index."""
        return f"{self.record}:{self.number}"

    @property
    def heading(self) -> str:
        return " ".join(part for part in (self.chapter, self.section) if part)


@dataclass(frozen=True)
class RecordMeta:
    organization: str | None = None
    body: str | None = None
    session: str | None = None
    place: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    title: str | None = None
    note: str | None = None
    """Status line of the text, e.g. that it is an unofficial translation."""
    symbol: str | None = None
    """The document symbol (E/2023/74), from the masthead, the text naming the report, or record.toml."""
    agenda: str | None = None
    """The agenda item line of the masthead ("Agenda item 19 (f)")."""


@dataclass(frozen=True)
class Record:
    """One language version of one record."""

    id: str
    lang: str
    meta: RecordMeta
    paragraphs: tuple[Paragraph, ...]
    source: Path | None = None
    sha256: str = ""
    warnings: tuple[str, ...] = field(default=())
    numbering: str = OWN
    """"own" when the ids are the document's numbers, "generated" when RecordQA gave them (p1, p2, ...)."""
    notes: tuple[str, ...] = field(default=())
    """Masthead lines, footnotes and stray symbols: kept with the record, never paragraphs."""
    meta_sha256: str = ""
    """Digest of the record.toml values applied to ``meta`` ("" when none): editing record.toml
    makes the index stale as editing the text does."""

    def paragraph(self, number: str | int) -> Paragraph | None:
        wanted = str(number)
        for para in self.paragraphs:
            if para.number == wanted:
                return para
        return None


def record_to_json(record: Record) -> dict:
    """The record as JSON data (records.json, the parse cache); ``record_from_json`` reads it back."""
    return {"id": record.id, "lang": record.lang, "meta": asdict(record.meta),
            "source": str(record.source) if record.source else None, "sha256": record.sha256,
            "numbering": record.numbering, "notes": list(record.notes), "meta_sha256": record.meta_sha256,
            "warnings": list(record.warnings),
            # vars, not asdict: paragraphs are flat, and asdict's deep copy took 15 s of a 10,000-paragraph build.
            "paragraphs": [dict(vars(p)) for p in record.paragraphs]}


def record_from_json(data: dict) -> Record:
    return Record(
        id=data["id"], lang=data["lang"], meta=RecordMeta(**data["meta"]),
        paragraphs=tuple(Paragraph(**p) for p in data["paragraphs"]),
        source=Path(data["source"]) if data["source"] else None, sha256=data["sha256"],
        # Builds from before generated ids have neither: their records numbered their own paragraphs.
        numbering=data.get("numbering", OWN), notes=tuple(data.get("notes", ())),
        meta_sha256=data.get("meta_sha256", ""), warnings=tuple(data.get("warnings", ())),
    )
