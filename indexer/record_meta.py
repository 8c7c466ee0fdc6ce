"""A record's metadata given or corrected by hand: ``record.toml`` beside its text files.

The masthead gives symbol, body, session, dates and title where the text has them; a record
whose masthead is lost, or read wrongly, names them in ``record.toml``::

    symbol = "E/ICEF/2023/14"
    body = "UNICEF Executive Board"
    session = "Annual session 2023"
    date = "2023-06-13/2023-06-16"      # one day, or first/last day
    title = "Annual report on UNICEF humanitarian action"

    [zh]                                 # optional: values for one language version
    title = "儿基会人道主义行动年度报告"

Values in the file win over the masthead's; a language table wins over the top level.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import fields, replace
from pathlib import Path

from indexer.paragraph import RecordMeta
from indexer.record import RecordError

META_FILE = "record.toml"
KEYS = ("symbol", "body", "session", "date", "title", "organization", "place", "agenda", "note")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_overrides(folder: Path) -> dict:
    """The record.toml of a record folder, checked; {} when there is none."""
    path = folder / META_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecordError(f"{path}: not a readable TOML file ({exc})") from exc
    for scope, values in [("", data), *((f"[{k}] ", v) for k, v in data.items() if isinstance(v, dict))]:
        for key, value in values.items():
            if isinstance(value, dict) and not scope:
                continue
            if key not in KEYS:
                raise RecordError(f"{path}: unknown key {scope}{key} (known: {', '.join(KEYS)})")
            if not isinstance(value, str):
                raise RecordError(f"{path}: {scope}{key} must be a string")
            if key == "date" and not all(_DAY.match(d.strip()) for d in value.split("/")):
                raise RecordError(f"{path}: {scope}date must be YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD")
    return data


def overrides_digest(overrides: dict) -> str:
    """What ``Record.meta_sha256`` holds for these record.toml values: "" for none."""
    if not overrides:
        return ""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def apply_overrides(meta: RecordMeta, overrides: dict, lang: str) -> RecordMeta:
    """``meta`` with the values of record.toml for ``lang``."""
    values = {k: v for k, v in overrides.items() if not isinstance(v, dict)}
    values.update(overrides.get(lang) or {})
    if not values:
        return meta
    changes = {k: v for k, v in values.items() if k != "date"}
    if "date" in values:
        days = [d.strip() for d in values["date"].split("/")]
        changes["start_date"], changes["end_date"] = days[0], days[-1]
    return replace(meta, **changes)


def merged_meta(first: RecordMeta, others: list[RecordMeta]) -> RecordMeta:
    """``first`` with the fields it lacks taken from ``others`` in order, for fields that do not
    depend on the language (the symbol, the dates)."""
    changes = {}
    for name in ("symbol", "start_date", "end_date"):
        if getattr(first, name) is None:
            changes[name] = next((getattr(o, name) for o in others if getattr(o, name)), None)
    return replace(first, **{k: v for k, v in changes.items() if v is not None}) if changes else first


META_FIELDS = tuple(f.name for f in fields(RecordMeta))
