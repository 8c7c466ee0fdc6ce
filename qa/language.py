"""Which language a question is in, and the answer language that follows from it."""

from __future__ import annotations

from indexer.record import detect_language

SUPPORTED = ("zh", "en")


def question_language(question: str, override: str | None = None) -> str:
    """'zh' or 'en'. An explicit override wins; otherwise the script of the question decides."""
    if override:
        if override not in SUPPORTED:
            raise ValueError(f"unsupported language '{override}'; use one of {', '.join(SUPPORTED)}")
        return override
    return detect_language(question)
