"""An extractive answer moved into the other language version of the record. Pure.

Used when the answer language is set explicitly and differs from the question's: the
question is matched against the record in its own language, then each quoted sentence is
replaced by the sentence at the same position of the same paragraph in the requested
language (or by the whole paragraph when the two versions split into different numbers of
sentences, as position then proves nothing).
"""

from __future__ import annotations

import re
from dataclasses import replace

from indexer.corpus import Corpus
from indexer.sentences import split_sentences
from qa.citation import marker
from qa.extractive import Draft

_SEGMENT = re.compile(r"(.+?)\s*(\[¶[^\]]+\])", re.S)


def aligned_sentence(corpus: Corpus, key: str, sentence: str, source: str, target: str) -> str | None:
    """The target-language sentence at the position of ``sentence`` in paragraph ``key``."""
    src, dst = corpus.get(key, source), corpus.get(key, target)
    if src is None or dst is None:
        return None
    src_sentences, dst_sentences = split_sentences(src.text, source), split_sentences(dst.text, target)
    if sentence in src_sentences and len(src_sentences) == len(dst_sentences):
        return dst_sentences[src_sentences.index(sentence)]
    return dst.text


def in_language(draft: Draft, corpus: Corpus, source: str, target: str) -> Draft:
    """``draft`` (written from the ``source`` version) quoting the ``target`` version instead.
    Abstentions are returned unchanged (their reason stays in the question's language)."""
    if draft.abstained or source == target or not draft.quotes:
        return draft
    single = len(corpus.record_ids) <= 1
    by_marker = {marker(key, single_record=single): key for key in draft.quotes}
    pieces: list[tuple[str, str]] = []
    for sentence, mark in _SEGMENT.findall(draft.text):
        key = by_marker.get(mark)
        moved = aligned_sentence(corpus, key, sentence.strip(), source, target) if key else None
        if moved is None:
            return draft
        if (moved, key) not in pieces:  # a whole paragraph stands in for each of its sentences once
            pieces.append((moved, key))
    sep = "" if target == "zh" else " "
    text = sep.join(f"{sentence} {marker(key, single_record=single)}" for sentence, key in pieces)
    quotes: dict[str, str] = {}
    for sentence, key in pieces:
        quotes[key] = f"{quotes[key]} {sentence}" if key in quotes else sentence
    return replace(draft, text=text, quotes=quotes)
