"""The live build's records and manifest, read without the search structures: what `recordqa show`
and `export` print needs no lexical index, vector store or model, so they start in a moment."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from indexer.build import current_build
from indexer.catalogue import choose_records
from indexer.corpus import Corpus
from indexer.live import IndexMissing
from indexer.manifest import Manifest, corpus_from_json


@dataclass(frozen=True)
class IndexedRecords:
    folder: Path
    manifest: Manifest
    corpus: Corpus
    notices: list[str] = field(default_factory=list)
    """Nothing to add to the manifest's own account (the notices a LiveIndex may carry)."""

    @property
    def dense_on(self) -> bool:
        """What the build was made with; the vector store itself is not opened here."""
        return bool(self.manifest.dense.get("model"))

    def check(self, chosen) -> tuple[str, ...]:
        """The chosen record ids, checked (``catalogue.choose_records``: UnknownRecord lists the loaded ids)."""
        return choose_records(chosen, self.corpus.record_ids)


def open_indexed_records(index_dir: Path) -> IndexedRecords:
    """The current build's corpus and manifest. Raises IndexMissing (with the command that fixes
    it) when there is no build or its records cannot be read."""
    build = current_build(index_dir)
    if build is None:
        raise IndexMissing(f"no index in {index_dir}; run `recordqa index` first")
    try:
        manifest = Manifest.read(build / "manifest.json")
        corpus = corpus_from_json(json.loads((build / "records.json").read_text(encoding="utf-8")))
    # RuntimeError: the manifest reader's own error for a missing or unreadable manifest.
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexMissing(f"the index in {index_dir} is broken ({exc}); run `recordqa index --force`") from exc
    return IndexedRecords(build, manifest, corpus)
