"""A bilingual glossary of UN terms: jieba's extra dictionary and the bridge that carries
query terms from one language into the other for lexical search."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GLOSSARY = Path(__file__).with_name("un_terms.tsv")


@dataclass(frozen=True)
class Glossary:
    pairs: tuple[tuple[str, str], ...]
    """(zh, en) pairs."""

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(self.pairs).encode()).hexdigest()[:12]

    @property
    def chinese_terms(self) -> list[str]:
        return sorted({zh for zh, _ in self.pairs})

    def translate(self, text: str, source: str) -> list[str]:
        """Target-language terms for the glossary terms found in ``text``.

        Longer terms win over the terms they contain, so 执行主任 does not also yield 主任's term.
        """
        if source == "zh":
            found = _longest_matches(text, [(zh, en) for zh, en in self.pairs], ignore_case=False)
        else:
            found = _longest_matches(text, [(en, zh) for zh, en in self.pairs], ignore_case=True)
        return list(dict.fromkeys(found))


def _longest_matches(text: str, pairs: list[tuple[str, str]], *, ignore_case: bool) -> list[str]:
    haystack = text.lower() if ignore_case else text
    taken = [False] * len(haystack)
    out: list[str] = []
    targets: dict[str, list[str]] = {}
    for source, target in pairs:
        targets.setdefault(source.lower() if ignore_case else source, []).append(target)
    for needle in sorted(targets, key=len, reverse=True):
        pattern = re.escape(needle)
        if needle.isascii():
            # Whole words only, allowing a plural s: 'Member State' must not match 'statement'.
            pattern = rf"(?<![a-z0-9]){pattern}s?(?![a-z0-9])"
        for m in re.finditer(pattern, haystack):
            if not any(taken[m.start() : m.end()]):
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                out.extend(targets[needle])
    return out


def load_glossary(path: Path = DEFAULT_GLOSSARY) -> Glossary:
    pairs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"{path}:{lineno}: expected 'chinese<TAB>english'")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return Glossary(tuple(pairs))
