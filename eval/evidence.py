"""Gold paragraphs from evidence strings. Pure.

A question on a record whose paragraphs RecordQA numbers itself (p1, p2, ...) cannot name its gold
paragraph before the record is parsed, and the ids move whenever the parser forms paragraphs
differently. Such a question names its gold by ``gold_evidence``: short passages copied verbatim
from the record in the question's language. Each passage is looked up in the built index's
paragraphs (whitespace ignored, so line breaks and the odd space the converter left do not
matter) and becomes the id of every paragraph that contains it. A passage found nowhere is a
dataset error, reported with the run; it is never dropped in silence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.paragraph import Paragraph

_SPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    """The text without any whitespace: what evidence and paragraphs are compared on."""
    return _SPACE.sub("", text)


@dataclass(frozen=True)
class EvidenceIssue:
    id: str
    evidence: str
    problem: str

    def describe(self) -> str:
        return f"{self.id}: {self.problem}: {self.evidence!r}"


def paragraph_id(paragraph: Paragraph, single_record: bool) -> str:
    """The id a run's ``retrieved`` list uses: the number alone when one record is indexed, the
    key (``RECORD:number``) when several are (as ``export_beir`` writes them)."""
    return paragraph.number if single_record else paragraph.key


def resolve_evidence(dataset: Sequence[dict], paragraphs: Iterable[Paragraph], *,
                     record_names: dict[str, str] | None = None
                     ) -> tuple[list[dict], list[EvidenceIssue], list[EvidenceIssue]]:
    """(dataset with ``gold_paragraphs`` set from ``gold_evidence``, errors, warnings).

    An item's passages are searched in its ``record`` when the index holds that record, in every
    record otherwise, and only in the question's language. ``record_names`` maps other names of a
    record (its folder) to its id in the index, so a dataset may name a record by its folder.
    Items without ``gold_evidence`` pass unchanged. Errors: a passage found in no paragraph, a
    ``record`` the index does not hold. Warnings: the dataset's own ``gold_paragraphs`` (e.g. SDG
    target numbers) disagree with where the evidence was found (the parser did not keep the
    record's numbering)."""
    paragraphs = list(paragraphs)
    records = {p.record for p in paragraphs}
    single = len(records) == 1
    squeezed = [(p, squeeze(p.text)) for p in paragraphs]
    out: list[dict] = []
    errors: list[EvidenceIssue] = []
    warnings: list[EvidenceIssue] = []
    for item in dataset:
        evidence = item.get("gold_evidence")
        if not evidence:
            out.append(item)
            continue
        record = item.get("record")
        record = (record_names or {}).get(record, record)
        if record and record not in records:
            errors.append(EvidenceIssue(item["id"], record, "the index holds no record of that name"))
        gold: list[str] = []
        for passage in evidence:
            needle = squeeze(passage)
            found = [paragraph_id(p, single) for p, text in squeezed
                     if p.lang == item["lang"] and (not record or p.record == record or record not in records)
                     and needle and needle in text]
            if not found:
                errors.append(EvidenceIssue(item["id"], passage, f"evidence not found in any {item['lang']} paragraph"))
            gold.extend(g for g in found if g not in gold)
        given = [str(g) for g in item.get("gold_paragraphs") or []]
        if given and gold and {g.rpartition(":")[2] for g in gold} != set(given):
            warnings.append(EvidenceIssue(item["id"], ", ".join(given),
                                          f"the evidence is in {', '.join(gold)}, the dataset names"))
        out.append({**item, "gold_paragraphs": gold, "gold_given": given})
    return out, errors, warnings
