"""Records in several languages, aligned by paragraph number.

A record is a folder; each text file in it is one language version of that record
(``zh.txt``, ``en.txt``; the language comes from the file name when it is a language code,
else from the text). A single file given on its own is a one-language record named after
the file. Dropping an official English text in place of the working translation needs no
other change: alignment is by paragraph number only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from indexer.paragraph import Paragraph, Record
from indexer.record import RecordError, read_record

LANGUAGE_CODES = {"zh", "en", "fr", "es", "ru", "ar"}


@dataclass(frozen=True)
class Corpus:
    records: tuple[Record, ...]

    @property
    def record_ids(self) -> list[str]:
        return sorted({r.id for r in self.records})

    @property
    def languages(self) -> list[str]:
        return sorted({r.lang for r in self.records})

    @property
    def sources(self) -> list[Path]:
        return [r.source for r in self.records if r.source]

    def versions(self, record_id: str) -> dict[str, Record]:
        return {r.lang: r for r in self.records if r.id == record_id}

    def paragraphs(self) -> Iterable[Paragraph]:
        for record in self.records:
            yield from record.paragraphs

    def get(self, key: str, lang: str) -> Paragraph | None:
        """Paragraph by key ('HSP-HA-1:45') in one language, or None."""
        record_id, _, number = key.rpartition(":")
        version = self.versions(record_id).get(lang)
        return version.paragraph(int(number)) if version and number.isdigit() else None

    def in_language(self, key: str, lang: str) -> Paragraph | None:
        """The paragraph in ``lang`` if that version exists, else in any language."""
        found = self.get(key, lang)
        if found:
            return found
        record_id = key.rpartition(":")[0]
        return next((p for r in self.versions(record_id).values() if (p := self.get(key, r.lang))), None)

    def keys(self) -> list[str]:
        """Every paragraph key, in record then paragraph order, each once."""
        seen: dict[str, None] = {}
        for para in self.paragraphs():
            seen.setdefault(para.key, None)
        return list(seen)

    def resolve(self, paragraph_id: str) -> str | None:
        """Key for a paragraph id as users write it: '45' (when one record) or 'HSP-HA-1:45'."""
        if ":" in paragraph_id:
            return paragraph_id if paragraph_id in set(self.keys()) else None
        matches = [k for k in self.keys() if k.rpartition(":")[2] == paragraph_id]
        return matches[0] if len(matches) == 1 else None


def record_files(paths: Iterable[Path]) -> list[tuple[str, Path]]:
    """(record id, file) pairs for files and record folders given by the user."""
    found: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            subdirs = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.txt")))
            if subdirs:
                found.extend(record_files(subdirs))
            else:
                found.extend((path.name, f) for f in sorted(path.glob("*.txt")))
        elif path.exists():
            record_id = path.parent.name if path.stem in LANGUAGE_CODES else path.stem
            found.append((record_id, path))
        else:
            raise RecordError(f"{path}: no such file or folder")
    if not found:
        raise RecordError("no record files found in " + ", ".join(str(p) for p in paths))
    return found


def load_corpus(paths: Iterable[Path]) -> Corpus:
    """Read every record file and check that language versions align paragraph for paragraph."""
    records = []
    for record_id, path in record_files(list(paths)):
        lang = path.stem if path.stem in LANGUAGE_CODES else None
        records.append(read_record(path, record_id=record_id, lang=lang))
    corpus = Corpus(tuple(records))
    for record_id in corpus.record_ids:
        versions = corpus.versions(record_id)
        numbering = {lang: [p.number for p in r.paragraphs] for lang, r in versions.items()}
        reference_lang, reference = next(iter(numbering.items()))
        for lang, numbers in numbering.items():
            if numbers != reference:
                raise RecordError(
                    f"record {record_id}: the {lang} text has paragraphs {_span(numbers)} but the "
                    f"{reference_lang} text has {_span(reference)}; language versions must align"
                )
        if len([r for r in records if r.id == record_id]) != len(versions):
            raise RecordError(f"record {record_id}: two files in the same language")
    return corpus


def _span(numbers: list[int]) -> str:
    return f"{numbers[0]}..{numbers[-1]} ({len(numbers)})" if numbers else "none"
