"""The synthetic records `make bench-scale` indexes: they parse with the project's parser into the
requested counts, in both languages aligned by number, and are the same for the same seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eval.synthetic_records import load_pool, write_collection
from indexer.corpus import load_corpus
from indexer.record import detect_language

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pool():
    return load_pool()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def test_the_cli_writes_records_that_parse_into_the_requested_counts(tmp_path):
    out = tmp_path / "records"
    result = subprocess.run([sys.executable, "-m", "eval.synthetic_records", "--out", str(out), "--records", "3",
                             "--paragraphs", "40"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "wrote 3 records of 40 paragraphs" in result.stdout
    corpus = load_corpus([out])
    assert corpus.record_ids == ["SYN-00001", "SYN-00002", "SYN-00003"]
    assert corpus.languages == ["en", "zh"]
    assert len(corpus.keys()) == 120
    for record_id in corpus.record_ids:
        for lang, version in corpus.versions(record_id).items():
            assert [str(p.number) for p in version.paragraphs] == [str(n) for n in range(1, 41)]
            assert not version.warnings
            # Headings and a header the parser reads, like a real record's.
            assert all(p.chapter for p in version.paragraphs)
            assert version.meta.session and version.meta.start_date and version.meta.title
            assert all(detect_language(p.text) == lang for p in version.paragraphs)


def test_both_language_versions_align_paragraph_for_paragraph(tmp_path, pool):
    write_collection(tmp_path, records=2, paragraphs=100, pool=pool)
    corpus = load_corpus([tmp_path])
    zh_of = {pair.en: pair.zh for pair in pool.sentences}
    keys = corpus.keys()
    assert len(keys) == 200
    for key in keys:
        zh, en = corpus.get(key, "zh"), corpus.get(key, "en")
        assert zh.chapter and en.chapter and (zh.section is None) == (en.section is None)
        # Each English paragraph is a run of pool sentences; its Chinese version is the same run.
        rebuilt, rest = "", en.text
        while rest:
            match = next(e for e in sorted(zh_of, key=len, reverse=True) if rest.startswith(e))
            rebuilt += zh_of[match]
            rest = rest[len(match):].lstrip()
        assert rebuilt == zh.text


def test_the_same_seed_gives_the_same_files_and_another_seed_other_text(tmp_path, pool):
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_collection(first, records=3, paragraphs=30, seed=7, pool=pool)
    write_collection(again, records=3, paragraphs=30, seed=7, pool=pool)
    write_collection(other, records=3, paragraphs=30, seed=8, pool=pool)
    assert files(first) == files(again)
    assert files(first) != files(other)


def test_a_larger_collection_begins_with_the_smaller_one(tmp_path, pool):
    """Record i depends only on the seed and i: the 100k collection holds the 10k one, so their
    indexes share text and cached vectors."""
    write_collection(tmp_path / "small", records=2, paragraphs=20, pool=pool)
    write_collection(tmp_path / "large", records=4, paragraphs=20, pool=pool)
    small, large = files(tmp_path / "small"), files(tmp_path / "large")
    assert small == {name: data for name, data in large.items() if name in small}
    assert len(large) == 8
