"""Lexical tokens for BM25 and for evidence scoring.

Latin-script runs (English text, and the names, numbers and document symbols inside Chinese
text) go through one regex tokenizer with Snowball stemming; only CJK runs go to jieba, which
is both correct and much faster than feeding jieba whole mixed lines. Both languages share the
Latin path, so a Latin-script name or a document symbol such as 'A/RES/70/1' matches across languages.
"""

from __future__ import annotations

import logging
import re
import warnings
from functools import cached_property
from pathlib import Path

import Stemmer

from indexer.glossary import Glossary

TOKENIZER_VERSION = "2"

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:\.\d+)?")
_SYMBOL = re.compile(r"\b(?:[A-Z]{1,6}|\d+)(?:/[A-Z0-9.]+)+\b")

STOPWORD_DIR = Path(__file__).with_name("stopwords")


def load_stopwords(lang: str, folder: Path = STOPWORD_DIR) -> frozenset[str]:
    """Per-language stopwords as data (``indexer/stopwords/<code>.txt``); none for a language without a file."""
    path = folder / f"{lang}.txt"
    if not path.exists():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))


EN_STOPWORDS = load_stopwords("en")
ZH_STOPWORDS = load_stopwords("zh")


class Tokenizer:
    """Language-aware tokenizer. jieba is loaded on first Chinese text, with its cache kept in
    ``cache_dir`` (jieba's default is /tmp)."""

    def __init__(self, glossary: Glossary, cache_dir: Path | None = None) -> None:
        self.glossary = glossary
        self.cache_dir = cache_dir
        self._stemmer = Stemmer.Stemmer("english")

    @cached_property
    def _jieba(self):
        with warnings.catch_warnings():
            # jieba imports pkg_resources, which warns on current setuptools.
            warnings.simplefilter("ignore")
            import jieba
        logging.getLogger("jieba").setLevel(logging.ERROR)
        tokenizer = jieba.Tokenizer()
        if self.cache_dir:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(self.cache_dir)
        for term in self.glossary.chinese_terms:
            tokenizer.add_word(term, freq=20000)
        return tokenizer

    def tokens(self, text: str, lang: str) -> list[str]:
        """Search tokens of ``text``: stemmed Latin words, numbers, document symbols and Chinese words."""
        out: list[str] = []
        pos = 0
        for m in _CJK_RUN.finditer(text):
            out.extend(self._latin(text[pos : m.start()]))
            out.extend(self._chinese(m.group()))
            pos = m.end()
        out.extend(self._latin(text[pos:]))
        return out

    def _latin(self, text: str) -> list[str]:
        if not text.strip():
            return []
        words = [w.lower() for w in _WORD.findall(text)]
        stems = self._stemmer.stemWords([w for w in words if w not in EN_STOPWORDS])
        symbols = [s.lower() for s in _SYMBOL.findall(text)]
        return stems + symbols

    def _chinese(self, run: str) -> list[str]:
        return [t for t in self._jieba.cut_for_search(run, HMM=True) if t not in ZH_STOPWORDS]
