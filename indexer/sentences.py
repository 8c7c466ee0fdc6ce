"""Split paragraph text into sentences (and list lines): what answers quote and what the index
embeds one by one (``sentences.npy``). Pure.

The splitter's own source is hashed into the index (``splitter_digest``), so changing how text
is cut marks a dense index stale instead of misaligning stored sentence vectors.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

_ZH_END = re.compile(r"(?<=[。！？；])")
_EN_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bNo\.)(?<!\bp\.m\.)(?<!\ba\.m\.)(?<!\be\.g\.)"
    r"(?<!\bi\.e\.)(?<!\bvs\.)(?<!\bSt\.)(?<=[.!?;])\s+(?=[A-Z(\"“‘'0-9\[])"
)
MIN_CHARS = 6
# A list item's own number is not the end of a sentence.
_LIST_MARKER = re.compile(r"^(?:\d{1,3}\.|\([a-z]{1,4}\)|[-•·])\s*")


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences in order; list lines are their own sentences; fragments too short to quote merge back."""
    pieces: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        marker = _LIST_MARKER.match(line)
        prefix = marker.group() if marker else ""
        body = line[len(prefix):]
        parts = [p.strip() for p in (_ZH_END.split(body) if lang == "zh" else _EN_END.split(body)) if p.strip()]
        if parts and prefix:
            parts[0] = prefix + parts[0]
        pieces.extend(parts)
    merged: list[str] = []
    for piece in pieces:
        if merged and len(piece) < MIN_CHARS:
            merged[-1] = f"{merged[-1]}{'' if lang == 'zh' else ' '}{piece}"
        else:
            merged.append(piece)
    return merged


@cache
def splitter_digest() -> str:
    """Hash of this module's source: the sentences an index stored are the ones this code cuts."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
