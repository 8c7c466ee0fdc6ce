"""Lexical tokens for BM25 and for evidence scoring.

Latin-script runs (English text, and the names, numbers and document symbols inside Chinese
text) go through one regex tokenizer with Snowball stemming; only CJK runs go to jieba, which
is both correct and much faster than feeding jieba whole mixed lines. Both languages share the
Latin path, so 'Delgado Peralta' or 'HSP/HA/1/8' match across languages.
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

EN_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves did does tell please say said mr ms mrs""".split()
)
ZH_STOPWORDS = frozenset(
    """的 了 在 是 和 与 及 以及 或 并 其 该 这 那 这些 那些 之 于 对 为 由 被 将 把 从 向
    也 都 而 但 就 等 个 些 上 下 中 有 没有 吗 呢 吧 啊 哪 哪些 什么 谁 何 如何 怎样
    怎么 多少 几 是否 请问 请 问 记录 会议记录 哪一天 哪天 哪几天 哪个 哪位 哪一位 哪里
    几点 为什么 分别 一共 是不是 有没有 什么样""".split()
)


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
