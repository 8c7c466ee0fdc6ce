"""Parsed record files kept on disk, so that a build after one record changed does not parse the
thousand that did not (parsing was 10 s of the 76 s it took to add one record to a collection of
100,000 paragraphs; reading a kept parse is a JSON load).

One file per record file (named by the record id, language and path, so the folder holds one
entry per record file however often each changes), holding the parse with the digest of the
bytes it was parsed from and of the parser's own code: a changed file or a changed parser is
parsed again. What ``record.toml`` adds is applied after, so it is never kept here. The folder
is a cache: a damaged entry is parsed again and replaced, and one that cannot be written (a
read-only or full disk) only costs the parse next time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path

from indexer.paragraph import Record, record_from_json, record_to_json

PARSER_FILES = ("record.py", "unnumbered.py", "record_layout.toml", "paragraph.py", "dates.py")
"""The code and data a parse depends on (indexer/): changing any of them parses every file again."""


@functools.cache
def parser_digest() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in PARSER_FILES:
        digest.update(name.encode())
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


class ParseCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _entry(self, path: Path, record_id: str, lang: str | None) -> Path:
        name = hashlib.sha256(f"{record_id}\x00{lang or ''}\x00{path.resolve()}".encode()).hexdigest()[:32]
        return self.folder / f"{name}.json"

    def get(self, path: Path, *, record_id: str, lang: str | None, sha256: str) -> Record | None:
        """The parse of ``path`` when it was parsed from bytes with this ``sha256`` by this parser."""
        try:
            kept = json.loads(self._entry(path, record_id, lang).read_text(encoding="utf-8"))
            if kept.get("parser") != parser_digest() or kept.get("sha256") != sha256:
                return None
            record = record_from_json(kept["record"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if record.source == path else None

    def put(self, path: Path, record: Record, *, record_id: str, lang: str | None) -> None:
        entry = self._entry(path, record_id, lang)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        payload = {"parser": parser_digest(), "sha256": record.sha256, "record": record_to_json(record)}
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, entry)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
