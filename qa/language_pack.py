"""Per-language knowledge as data: the question words, answer-kind cues, premise cues and messages of
one language live in ``qa/lang/<code>.json``; the shapes an answer takes in any script (dates,
numbers, names, document symbols) in ``qa/lang/shapes.json``. A third language is a new pack and a
tokenizer, not edits in the answer code.

Packs are read and their patterns compiled once, at load, and checked for every key the answer
path reads, so a broken pack fails at start in one line rather than on some question.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

PACK_DIR = Path(__file__).with_name("lang")

REQUIRED = ("kinds", "vote_count", "final_outcome", "decision_verbs", "agenda_itself", "continuation",
            "reported_speech", "messages", "what")
MESSAGE_NAMES = ("nothing", "weak", "pending", "annex", "slot", "placeholder", "unmentioned", "absent",
                 "no_tally", "outcome", "indirect", "unstated")
SHAPES_REQUIRED = ("date", "place", "ordinal", "reason", "number_words", "reference_number", "symbol",
                   "placeholder_symbol", "placeholder", "person", "capitalised_run", "reference_kinds", "vote_tally",
                   "without_vote", "annex_pointer", "enumeration_start", "list_line", "agenda_item_named",
                   "symbol_anchor", "ordinal_mention",
                   "ordinal_anchor", "digits", "latin_run", "demonym")


class PackError(RuntimeError):
    """A language pack is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class LanguagePack:
    code: str
    kinds: tuple[tuple[str, re.Pattern], ...]
    """Answer kinds in priority order, each with the cue that asks for it ('how many' -> count)."""
    patterns: dict[str, re.Pattern]
    words: dict[str, frozenset[str]]
    messages: dict[str, str]
    what: dict[str, str]
    limits: dict[str, int]
    """Numbers of the language: short_chars / short_words (a question this short may be a follow-up)."""
    record_card: dict
    """Templates describing a record and example questions about it (ui/record_card.py)."""

    def message(self, name: str, **values) -> str:
        return self.messages[name].format(**values)


@dataclass(frozen=True)
class Shapes:
    """What an answer looks like in any script: UN documents mix Latin names and numbers into Chinese."""

    patterns: dict[str, re.Pattern]
    any_of: dict[str, tuple[re.Pattern, ...]]
    reference_kinds: tuple[tuple[re.Pattern, re.Pattern], ...]
    agenda_item_named: tuple[re.Pattern, re.Pattern]


def _compile(value: str, where: str, flags: int = re.IGNORECASE) -> re.Pattern:
    try:
        return re.compile(value, flags)
    except re.error as exc:
        raise PackError(f"{where}: bad pattern ({exc})") from exc


def load_pack(code: str, folder: Path = PACK_DIR) -> LanguagePack:
    path = folder / f"{code}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackError(f"{path}: cannot read language pack ({exc})") from exc
    missing = [key for key in REQUIRED if key not in data]
    missing += [f"messages.{m}" for m in MESSAGE_NAMES if m not in data.get("messages", {})]
    if missing:
        raise PackError(f"{path}: missing {', '.join(missing)}")
    kinds = tuple((kind, _compile(p, f"{path}: kinds.{kind}")) for kind, p in data["kinds"])
    patterns = {key: _compile(value, f"{path}: {key}") for key, value in data.items()
                if isinstance(value, str) and key not in ("language",)}
    # Names are case-sensitive (capitalised runs); cues are not.
    for key in ("titled_name", "name", "titled_name", "focus"):
        if key in data:
            patterns[key] = _compile(data[key], f"{path}: {key}", 0 if key != "focus" else re.IGNORECASE)
    words = {key: frozenset(value) for key, value in data.items()
             if isinstance(value, list) and key != "kinds" and all(isinstance(v, str) for v in value)}
    limits = {key: value for key, value in data.items() if isinstance(value, int) and not isinstance(value, bool)}
    return LanguagePack(code, kinds, patterns, words, dict(data["messages"]), dict(data["what"]), limits,
                        dict(data.get("record_card", {})))


def load_shapes(folder: Path = PACK_DIR) -> Shapes:
    path = folder / "shapes.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackError(f"{path}: cannot read answer shapes ({exc})") from exc
    missing = [key for key in SHAPES_REQUIRED if key not in data]
    if missing:
        raise PackError(f"{path}: missing {', '.join(missing)}")
    case_sensitive = {"person", "capitalised_run", "symbol", "placeholder_symbol", "placeholder", "symbol_anchor",
                      "latin_run"}
    patterns, any_of = {}, {}
    for key, value in data.items():
        if isinstance(value, str):
            patterns[key] = _compile(value, f"{path}: {key}", 0 if key in case_sensitive else re.IGNORECASE)
        elif key in ("date", "ordinal", "reason", "place"):
            # A place is a capitalised name: case matters there.
            any_of[key] = tuple(_compile(v, f"{path}: {key}", 0 if key == "place" else re.IGNORECASE) for v in value)
    reference_kinds = tuple((_compile(a, f"{path}: reference_kinds"), _compile(b, f"{path}: reference_kinds", 0))
                            for a, b in data["reference_kinds"])
    named = data["agenda_item_named"]
    return Shapes(patterns, any_of, reference_kinds,
                  (_compile(named[0], f"{path}: agenda_item_named"), _compile(named[1], f"{path}: agenda_item_named")))


@dataclass(frozen=True)
class Packs:
    """Every language's pack plus the shared answer shapes: loaded once, passed down."""

    by_code: dict[str, LanguagePack]
    shapes: Shapes

    def __getitem__(self, code: str) -> LanguagePack:
        return self.by_code.get(code) or self.by_code["en"]


def load_packs(codes: tuple[str, ...] = ("zh", "en"), folder: Path = PACK_DIR) -> Packs:
    return Packs({code: load_pack(code, folder) for code in codes}, load_shapes(folder))
