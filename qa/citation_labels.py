"""Citation markers as people read them. Answer text keeps the machine marker ``[¶RECORD:12]``
(unambiguous, what clients parse); with several records loaded, what a person sees names the
record by its symbol: ``[E/ICEF/2023/14 ¶12]``. With one record markers stay ``[¶12]``. Pure."""

from __future__ import annotations

from indexer.catalogue import citation_label
from qa.citation import MARKER


def shown_markers(text: str, names: dict[str, str]) -> str:
    """``text`` with every record-qualified marker written as its label (``names``: record id ->
    symbol or id, every loaded record)."""
    if len(names) <= 1:
        return text

    def label(match) -> str:
        record, number = match.group(1), match.group(2)
        return f"[{citation_label(record, number, names)}]" if record else match.group()

    return MARKER.sub(label, text)
