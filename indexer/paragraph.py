"""The parsed shape of a record: its metadata and its numbered paragraphs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Paragraph:
    record: str
    number: int
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

    @property
    def id(self) -> str:
        return str(self.number)

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

    def paragraph(self, number: int) -> Paragraph | None:
        for para in self.paragraphs:
            if para.number == number:
                return para
        return None
