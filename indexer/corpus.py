"""Records in several languages, their paragraphs aligned across the language versions.

A record is a folder; each text file in it is one language version of that record
(``zh.txt``, ``en.txt``; the language comes from the file name when it is a language code,
else from the text). A single file given on its own is a one-language record named after
the file. Dropping an official English text in place of the working translation needs no
other change.

Paragraphs are aligned by id where every version numbers its own paragraphs. Where a version
does not (its numbering was lost), the versions' paragraphs are aligned by content
(``indexer.version_alignment``: multilingual passage vectors when an embedder is given, shared
numbers and names, lengths) and each aligned group gets one shared id ``p1``, ``p2``, ...; a
paragraph with no counterpart keeps an id of its own and is shown in its language only.

A ``record.toml`` beside the text files gives or corrects the record's metadata (see
``indexer.record_meta``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from indexer.paragraph import GENERATED, OWN, Paragraph, Record, RecordMeta, generated_id
from indexer.parse_cache import ParseCache
from indexer.record import RecordError, read_record
from indexer.record_meta import apply_overrides, merged_meta, overrides_digest, read_overrides

LANGUAGE_CODES = {"zh", "en", "fr", "es", "ru", "ar"}
SHARED_IDS_REQUIRED = 0.8
"""Versions that both number their paragraphs must share this share of their ids; below it one of
the files is not the same document (or was misread), and loading stops."""


@dataclass(frozen=True)
class Corpus:
    records: tuple[Record, ...]
    warnings: tuple[str, ...] = field(default=())
    """What the loader had to decide about the versions (paragraphs in one language only)."""
    aligned: bool = True
    """False when read with ``align=False`` and some record needed content alignment: its versions
    are numbered each on its own, fit only to tell which files the index was built from, never to
    build or answer from."""

    @property
    def content_aligned(self) -> bool:
        """Some record has versions without their own numbering (aligned by content)."""
        return any(r.numbering == GENERATED for r in self.records) and any(
            len(self.versions(rid)) > 1 for rid in {r.id for r in self.records if r.numbering == GENERATED})

    # Computed once (the corpus is frozen): with a thousand records these were a fifth of a
    # question's time, read for every paragraph it looked at.
    @cached_property
    def _record_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r.id for r in self.records}))

    @cached_property
    def _languages(self) -> tuple[str, ...]:
        return tuple(sorted({r.lang for r in self.records}))

    @cached_property
    def _versions(self) -> dict[str, dict[str, Record]]:
        versions: dict[str, dict[str, Record]] = {}
        for r in self.records:
            versions.setdefault(r.id, {})[r.lang] = r
        return versions

    @property
    def record_ids(self) -> list[str]:
        return list(self._record_ids)

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    @property
    def sources(self) -> list[Path]:
        return [r.source for r in self.records if r.source]

    def versions(self, record_id: str) -> dict[str, Record]:
        return dict(self._versions.get(record_id, {}))

    def meta(self, record_id: str, lang: str | None = None) -> RecordMeta:
        """The record's metadata in ``lang`` (else the first language), what that version lacks
        (a symbol only the Chinese text states) taken from the other versions."""
        versions = self.versions(record_id)
        if not versions:
            return RecordMeta()
        first = versions.get(lang) if lang in versions else next(iter(versions.values()))
        return merged_meta(first.meta, [v.meta for v in versions.values() if v is not first])

    def paragraphs(self) -> Iterable[Paragraph]:
        for record in self.records:
            yield from record.paragraphs

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], Paragraph]:
        return {(p.key, p.lang): p for p in self.paragraphs()}

    def get(self, key: str, lang: str) -> Paragraph | None:
        """Paragraph by key ('HSP-HA-1:45', 'SDG:1.a', 'E-ICEF:p12') in one language, or None."""
        return self._by_key.get((key, lang))

    def in_language(self, key: str, lang: str) -> Paragraph | None:
        """The paragraph in ``lang`` if that version exists, else in any language."""
        found = self.get(key, lang)
        if found:
            return found
        record_id = key.rpartition(":")[0]
        return next((p for r in self.versions(record_id).values() if (p := self.get(key, r.lang))), None)

    @cached_property
    def _keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for record_id in dict.fromkeys(r.id for r in self.records):
            for key in _ordered_keys(list(self.versions(record_id).values())):
                seen.setdefault(key, None)
        return list(seen)

    def keys(self) -> list[str]:
        """Every paragraph key, in record then reading order, each once."""
        return list(self._keys)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self._keys)}

    def preceding(self, key: str, count: int) -> list[str]:
        """Up to ``count`` keys of the same record just before ``key``, nearest first."""
        at = self._positions.get(key)
        if at is None:
            return []
        record = key.rpartition(":")[0]
        before = [k for k in self._keys[max(0, at - count):at] if k.rpartition(":")[0] == record]
        return before[::-1]

    def resolve(self, paragraph_id: str) -> str | None:
        """Key for a paragraph id as users write it: '45', '1.a', 'p12' (when one record has it) or
        'HSP-HA-1:45'."""
        if ":" in paragraph_id:
            return paragraph_id if paragraph_id in self._positions else None
        matches = [k for k in self._keys if k.rpartition(":")[2] == paragraph_id]
        return matches[0] if len(matches) == 1 else None


def _ordered_keys(versions: list[Record]) -> list[str]:
    """The keys of a record's versions in reading order, a paragraph present in one version only
    at its place in that version."""
    if not versions:
        return []
    order: list[str] = [p.key for p in versions[0].paragraphs]
    for version in versions[1:]:
        known = set(order)
        for i, para in enumerate(version.paragraphs):
            if para.key in known:
                continue
            before = next((version.paragraphs[j].key for j in range(i - 1, -1, -1)
                           if version.paragraphs[j].key in known), None)
            at = order.index(before) + 1 if before else 0
            order.insert(at, para.key)
            known.add(para.key)
    return order


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


def load_corpus(paths: Iterable[Path], *, embedder=None, align: bool = True, vector_cache: Path | None = None,
                parse_cache: ParseCache | None = None) -> Corpus:
    """Read every record file, apply each record's ``record.toml``, and align the language versions
    of each record (by id where all number their paragraphs, else by content). ``embedder`` (an
    ``indexer.embedder.Embedder``, multilingual) gives the content alignment passage vectors;
    without it the alignment uses shared numbers, names and lengths only. ``align=False`` skips the
    content alignment: enough to compare the files with an index's (``Corpus.aligned`` is then False
    when a record needed it; versions that number their paragraphs are still paired, and refused
    when they differ badly).
    ``vector_cache`` keeps the alignment's passage vectors per version text and model, so a build
    after another record changed does not embed this one again; ``parse_cache`` keeps each file's
    parse, so it does not parse the files that did not change."""
    files = record_files(list(paths))
    by_record: dict[str, list[Record]] = {}
    for record_id, path in files:
        lang = path.stem if path.stem in LANGUAGE_CODES else None
        by_record.setdefault(record_id, []).append(read_record(path, record_id=record_id, lang=lang,
                                                               cache=parse_cache))
    records: list[Record] = []
    warnings: list[str] = []
    unaligned = False
    for record_id, versions in by_record.items():
        if len({v.lang for v in versions}) != len(versions):
            raise RecordError(f"record {record_id}: two files in the same language")
        folder = versions[0].source.parent if versions[0].source else None
        overrides = read_overrides(folder) if folder and folder.name == record_id else {}
        digest = overrides_digest(overrides)
        versions = [replace(v, meta=apply_overrides(v.meta, overrides, v.lang), meta_sha256=digest)
                    for v in versions]
        versions.sort(key=lambda v: v.lang)
        if len(versions) == 1 or all(v.numbering == OWN for v in versions):
            aligned, notes = _by_id(record_id, versions)  # cheap: also when only reading
        elif not align:
            aligned, notes, unaligned = versions, [], True
        else:
            aligned, notes = _by_content(record_id, versions, embedder, vector_cache)
        records.extend(aligned)
        warnings.extend(notes)
    # Aligned unless some record's versions were left to content alignment: a collection whose
    # versions all number their paragraphs is read once, not again before a build.
    return Corpus(tuple(records), tuple(warnings), aligned=not unaligned)


def _by_id(record_id: str, versions: list[Record]) -> tuple[list[Record], list[str]]:
    """Versions that number their paragraphs, paired by number: a number one version lacks is a
    paragraph shown in the other language only."""
    if len(versions) < 2:
        return versions, []
    ids = {v.lang: [p.number for p in v.paragraphs] for v in versions}
    reference = versions[0]
    warnings = []
    for version in versions[1:]:
        ours, theirs = set(ids[reference.lang]), set(ids[version.lang])
        shared = len(ours & theirs)
        if ours == theirs:
            continue
        if shared < SHARED_IDS_REQUIRED * max(len(ours), len(theirs)):
            raise RecordError(
                f"record {record_id}: the {version.lang} text has paragraphs {_span(ids[version.lang])} but the "
                f"{reference.lang} text has {_span(ids[reference.lang])}; language versions must align"
            )
        for lang, only in ((reference.lang, ours - theirs), (version.lang, theirs - ours)):
            if only:
                shown = ", ".join(sorted(only, key=_natural)[:8])
                warnings.append(f"record {record_id}: paragraph(s) {shown} only in the {lang} text; "
                                f"shown in {lang} only")
    return versions, warnings


def _by_content(record_id: str, versions: list[Record], embedder, vector_cache: Path | None = None
                ) -> tuple[list[Record], list[str]]:
    """Versions without (all) their own numbers, aligned by content against the first version;
    each aligned group becomes one paragraph with a shared generated id."""
    from indexer.version_alignment import align_versions

    pivot, others = versions[0], versions[1:]
    vectors = _vectors(versions, embedder, vector_cache)
    pivot_texts = [p.text for p in pivot.paragraphs]
    n = len(pivot_texts)
    # Pivot paragraphs that some version joins (a 2-1 group) become one paragraph.
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    groups = {}
    for other in others:
        groups[other.lang] = align_versions(
            pivot_texts, [p.text for p in other.paragraphs],
            left_vectors=vectors.get(pivot.lang), right_vectors=vectors.get(other.lang),
        )
        for left, _ in groups[other.lang]:
            for a, b in pairwise(left):
                parent[root(b)] = root(a)
    clusters: list[list[int]] = []
    cluster_of: dict[int, int] = {}
    for i in range(n):
        if root(i) == i or root(i) not in cluster_of:
            cluster_of[root(i)] = len(clusters)
            clusters.append([])
        cluster_of[i] = cluster_of[root(i)]
        clusters[cluster_of[i]].append(i)
    slots: list[dict[str, list[int]]] = [{pivot.lang: c} for c in clusters]
    alone: list[list[dict[str, list[int]]]] = [[] for _ in range(len(clusters) + 1)]
    for other in others:
        last = -1
        for left, right in groups[other.lang]:
            if left:
                last = cluster_of[left[0]]
                slots[last].setdefault(other.lang, []).extend(right)
            elif right:
                alone[last + 1].append({other.lang: list(right)})
    ordered: list[dict[str, list[int]]] = []
    for k in range(len(clusters) + 1):
        ordered.extend(alone[k])
        if k < len(clusters):
            ordered.append(slots[k])
    built: dict[str, list[Paragraph]] = {v.lang: [] for v in versions}
    by_lang = {v.lang: v for v in versions}
    one_language = {v.lang: 0 for v in versions}
    for position, slot in enumerate(ordered, 1):
        number = generated_id(position)
        for lang, indices in slot.items():
            if not indices:
                continue
            parts = [by_lang[lang].paragraphs[i] for i in indices]
            sep = "" if lang in ("zh", "ja") else " "
            built[lang].append(replace(parts[0], number=number, text=sep.join(p.text for p in parts),
                                       pending=any(p.pending for p in parts),
                                       missing_annex=any(p.missing_annex for p in parts),
                                       placeholder=any(p.placeholder for p in parts)))
        if len([lang for lang, indices in slot.items() if indices]) == 1:
            one_language[next(lang for lang, indices in slot.items() if indices)] += 1
    warnings = []
    if any(v.numbering == OWN for v in versions):
        warnings.append(f"record {record_id}: only some language versions number their paragraphs; "
                        f"all are numbered p1, p2, ... by content alignment")
    for lang, count in one_language.items():
        if count:
            warnings.append(f"record {record_id}: {count} paragraph(s) of the {lang} text have no counterpart "
                            f"in the other language(s); shown in {lang} only")
    aligned = [replace(v, paragraphs=tuple(built[v.lang]), numbering=GENERATED) for v in versions]
    return aligned, warnings


def _vectors(versions: list[Record], embedder, cache: Path | None = None) -> dict:
    """Passage vectors of every paragraph of the versions the embedder serves (none without one),
    read from ``cache`` when this model embedded these texts before."""
    if embedder is None:
        return {}
    served = getattr(embedder, "languages", None)
    if served is not None and not all(v.lang in served for v in versions):
        return {}
    return {v.lang: _cached_vectors([p.text for p in v.paragraphs], embedder, cache) for v in versions}


def _cached_vectors(texts: list[str], embedder, cache: Path | None):
    import numpy as np

    digest = hashlib.sha256("\x00".join([embedder.name, *texts]).encode()).hexdigest()
    path = cache / f"{digest}.npy" if cache else None
    if path is not None and path.is_file():
        try:
            found = np.load(path)
            if found.shape[0] == len(texts):
                return found
        except (OSError, ValueError):
            pass  # a damaged cache file is embedded again and replaced
    vectors = embedder.embed_documents(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full cache only costs the embedding next time
    return vectors


def _natural(number: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in number.lstrip("p").split("."))


def _span(numbers: Sequence[str]) -> str:
    return f"{numbers[0]}..{numbers[-1]} ({len(numbers)})" if numbers else "none"
