"""LLM text made plain before anyone sees it: no HTML, no markdown links or images, no URLs.

The model's words reach JSON clients that may render them as HTML or markdown; a reply that
carries ``<img onerror=...>`` or ``[click](javascript:...)`` must arrive as inert text. Citation
markers ``[¶N]`` are plain text and stay. Pure.
"""

from __future__ import annotations

import html
import re

_SCRIPT = re.compile(r"<\s*(script|style|iframe|object|embed|svg|math)\b.*?(?:<\s*/\s*\1\s*>|$)",
                     re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")
# A '<' that opens a tag never closed: dropping it leaves the rest as harmless words.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\s*\([^()]*(?:\([^()]*\)[^()]*)*\)")
_LINK = re.compile(r"\[([^\[\]]*)\]\s*\([^()]*(?:\([^()]*\)[^()]*)*\)")
_REFERENCE_LINK = re.compile(r"\[([^\[\]]*)\]\s*\[[^\[\]]*\]")
_LINK_DEFINITION = re.compile(r"^\s*\[[^\[\]]+\]:\s*\S+.*$", re.MULTILINE)
# Schemes a renderer would follow. Script schemes go however written; the others only when a
# link follows the colon, so prose such as "the following data: ..." keeps its words.
_URL = re.compile(r"(?:\b(?:javascript|vbscript)\s*:|\b(?:https?|ftp|file|data|mailto|tel):(?=\S)|\bwww\.(?=\w))"
                  r"(?:[^\s<>\"'()（）\[\]]|\([^\s()]*\))*", re.IGNORECASE)
_TRAILING_PUNCT = re.compile(r"[.,;:!?]*$")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?。，；：！？、）)])")


def strip_markup(text: str) -> str:
    """``text`` without HTML tags, markdown images/links (their words stay), bare URLs and
    script-like schemes; entities are decoded first so an escaped tag cannot slip through."""
    text = html.unescape(text)
    text = _SCRIPT.sub("", text)
    text = _TAG.sub("", text)
    text = _TAG_START.sub("", text)
    text = _LINK_DEFINITION.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(lambda m: _link_words(m.group(1)), text)
    text = _REFERENCE_LINK.sub(lambda m: _link_words(m.group(1)), text)
    # Punctuation that ends the sentence around a URL is not part of it.
    text = _URL.sub(lambda m: _TRAILING_PUNCT.search(m.group()).group(), text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACES.sub(" ", text)
    return text.strip()


def _link_words(words: str) -> str:
    # A citation written as a link ('[¶3](#p3)') stays a citation marker.
    return f"[{words}]" if words.lstrip().startswith("¶") else words


_OPEN_TAG_TAIL = re.compile(r"<[^>]*$")
_OPEN_ENTITY_TAIL = re.compile(r"&[#A-Za-z0-9]{0,12}$")
_ASCII_RUN_TAIL = re.compile(r"[!-~]+$")


_SCHEMES = ("javascript:", "vbscript:", "http://", "https://", "ftp://", "file:", "data:", "mailto:", "tel:", "www.")
_WORD_START = re.compile(r"\b\w")


def settled_length(text: str) -> int:
    """How much of a growing ``text`` no later text can change once stripped: the tail that may
    still become a tag, an entity, a link, an image or a URL is held back. For streaming."""
    cut = len(text)
    for pattern in (_OPEN_TAG_TAIL, _OPEN_ENTITY_TAIL):
        match = pattern.search(text)
        if match:
            cut = min(cut, match.start())
    for start in (_open_bracket(text), _open_url(text)):
        if start is not None:
            cut = min(cut, start)
    return cut


def _open_url(text: str) -> int | None:
    """Start of a URL still being written at the end of ``text``, or of a word that may yet
    become one ('java' before 'script:'); ordinary words are settled at once."""
    run = _ASCII_RUN_TAIL.search(text)
    if run is None:
        return None
    for word in _WORD_START.finditer(run.group()):
        tail = run.group()[word.start():]
        lowered = tail.lower()
        if _URL.match(tail) or any(scheme.startswith(lowered) or lowered.startswith(scheme) for scheme in _SCHEMES):
            return run.start() + word.start()
    return None


def _open_bracket(text: str) -> int | None:
    """Start of the last '[' when its link is not finished: unclosed, closed at the very end (a
    '(' or '[' may follow), or followed by a '(' / '[' not yet closed."""
    start = text.rfind("[")
    if start < 0:
        return None
    close = text.find("]", start)
    rest = text[close + 1:].lstrip() if close >= 0 else ""
    if close == -1 or not rest or (rest[0] in "([" and (")" if rest[0] == "(" else "]") not in rest):
        return start - 1 if start > 0 and text[start - 1] == "!" else start
    return None
