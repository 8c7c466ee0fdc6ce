"""Split paragraph text into sentences (and list lines) for quoting. Pure."""

from __future__ import annotations

import re

_ZH_END = re.compile(r"(?<=[。！？；])")
_EN_END = re.compile(
    r"(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bDr)(?<!\bNo)(?<!\bp\.m)(?<!\ba\.m)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)"
    r"(?<=[.!?;])\s+(?=[A-Z(\"“‘'0-9\[])"
)
MIN_CHARS = 6


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences in order; list lines are their own sentences; fragments too short to quote merge back."""
    pieces: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        parts = _ZH_END.split(line) if lang == "zh" else _EN_END.split(line)
        pieces.extend(p.strip() for p in parts if p.strip())
    merged: list[str] = []
    for piece in pieces:
        if merged and len(piece) < MIN_CHARS:
            merged[-1] = f"{merged[-1]}{'' if lang == 'zh' else ' '}{piece}"
        else:
            merged.append(piece)
    return merged
