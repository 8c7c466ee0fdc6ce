"""Citation markers in answer text: parsing, rendering and validation. Pure.

The marker is ``[¶45]`` (``[¶1.a]`` for a target numbered under its goal, ``[¶p12]`` for the twelfth
paragraph of a record that does not number its own). With several records in one index a marker may name its record:
``[¶HSP-HA-1:45]``; bare numbers are resolved against the paragraphs retrieved for the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A paragraph id as the document prints it ("12", "1.1", "1.a"), or as RecordQA numbers an
# unnumbered record's paragraphs ("p12").
PARAGRAPH_ID = r"(?:\d+(?:\.(?:\d+|[a-z]))*|p\d+)"
MARKER = re.compile(r"\[\s*¶\s*(?:([A-Za-z0-9_.-]+):)?(" + PARAGRAPH_ID + r")\s*\]")
# Models write lists of paragraphs in several ways; all are normalised to single markers.
# Anything a reader would take for a marker, valid or not ('[¶-1]', '[¶ 3a]', '[¶]').
_ANY_MARKER = re.compile(r"\[\s*¶[^\[\]\n]{0,60}\]")
_REF = r"(?:[A-Za-z0-9_.-]+:)?" + PARAGRAPH_ID
_GROUP = re.compile(r"\[\s*¶\s*(" + _REF + r"(?:\s*[,，、;]\s*¶?\s*" + _REF + r")+)\s*\]")


def marker(key: str, *, single_record: bool = True) -> str:
    record, _, number = key.rpartition(":")
    return f"[¶{number}]" if single_record or not record else f"[¶{record}:{number}]"


def normalise_markers(text: str) -> str:
    """'[¶3, 4]' -> '[¶3][¶4]'."""
    def split(m: re.Match) -> str:
        return "".join(f"[¶{part.strip().lstrip('¶').strip()}]" for part in re.split(r"[,，、;]", m.group(1)))
    return _GROUP.sub(split, text)


def cited_numbers(text: str) -> list[str]:
    """Paragraph references in the order they appear, each once: '45' or 'REC:45'."""
    found = [f"{rec}:{num}" if rec else num for rec, num in MARKER.findall(normalise_markers(text))]
    return list(dict.fromkeys(found))


def resolve(reference: str, retrieved: list[str]) -> str | None:
    """The retrieved key a reference points to, or None when it points outside what was retrieved,
    or when a bare number is ambiguous: with several records, the retrieved paragraphs of two of them
    may share it, and a citation must not be given to the wrong one (the model is shown qualified
    markers, ``[¶RECORD:12]``, so it has no need to write bare ones)."""
    if ":" in reference:
        return reference if reference in retrieved else None
    matches = [key for key in retrieved if key.rpartition(":")[2] == reference]
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class Validated:
    text: str
    keys: list[str]
    dropped: list[str]


def validate(text: str, retrieved: list[str], *, extra_refs: list[str] = (), single_record: bool = True) -> Validated:
    """Keep only citations of retrieved paragraphs; remove every other marker (malformed ones
    such as '[¶-1]' too) from the text."""
    text = normalise_markers(text)
    valid: list[str] = []
    dropped: list[str] = []

    def keep(found: re.Match) -> str:
        m = MARKER.fullmatch(found.group())
        if m is None:  # not a paragraph reference at all: it cannot point to a retrieved paragraph
            dropped.append(found.group()[1:-1].strip().lstrip("¶").strip())
            return ""
        ref = f"{m.group(1)}:{m.group(2)}" if m.group(1) else m.group(2)
        key = resolve(ref, retrieved)
        if key is None:
            dropped.append(ref)
            return ""
        valid.append(key)
        return marker(key, single_record=single_record)

    cleaned = _ANY_MARKER.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:。，；：])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    for ref in extra_refs:
        key = resolve(ref, retrieved)
        if key is None:
            dropped.append(ref)
        else:
            valid.append(key)
    return Validated(cleaned, list(dict.fromkeys(valid)), list(dict.fromkeys(dropped)))
