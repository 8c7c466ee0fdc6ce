"""Faults a deployment meets, seen the way a user sees them: a read-only index or cache, damaged
index files, a full disk, malformed settings, and a re-index under a running server.

Read-only folders and a full disk are real: a tmpfs is mounted (as root), filled or remounted
read-only. Without root the read-only tests fall back to chmod; where mounting is refused the
test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from indexer.build import current_build
from recordqa.settings import PROJECT_ROOT

QUESTION = "Who was elected President of the first session of the UN-Habitat Assembly?"
PRESIDENT = "Martha Delgado Peralta"
FIX = "run `recordqa index --force`"


# --------------------------------------------------------------------------- helpers


class Mounts:
    """tmpfs mounts made by a test, unmounted at its end."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def tmpfs(self, folder: Path, size: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        self.mounted.append(folder)
        return folder

    def read_only(self, folder: Path) -> None:
        """Make ``folder`` (filled already) read-only: remount its tmpfs, or chmod when not root."""
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
            return
        if folder not in self.mounted:
            raise AssertionError(f"{folder} is not a tmpfs of this test")
        result = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot remount read-only: {result.stderr.strip()}")

    def release(self) -> None:
        for folder in reversed(self.mounted):
            if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def mounts():
    made = Mounts()
    yield made
    made.release()


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line a fault prints on stderr (notes aside); no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    # `index` keeps the model libraries' progress bars (carriage-return lines); they are not messages.
    errors = [line for line in result.stderr.splitlines()
              if line.strip() and not line.startswith("note: ") and not re.search(r"\d+/\d+ \[", line)]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: "), result.stderr
    return errors[0]


def notes(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("note: ")]


def builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / "builds").iterdir())


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, jieba_cache, cli):
    """A lexical index with two complete builds (the live one and the one it replaced): (root, env)."""
    root = tmp_path_factory.mktemp("faults")
    env = cli.env(root, jieba_cache)
    for args in (["index", "--quiet"], ["index", "--force", "--quiet"]):
        result = cli.run(args, env)
        assert result.returncode == 0, result.stderr
    assert len(builds(root / "index")) == 2
    # Answering once fills the session's dictionary cache, which the read-only tests copy.
    asked = cli.run(["ask", QUESTION], env)
    assert asked.returncode == 0 and PRESIDENT in asked.stdout, asked.stderr
    return root, env


def copy_index(two_builds, cli, jieba_cache, target: Path, **settings) -> tuple[Path, dict[str, str]]:
    """A copy of the two-build index in ``target`` and the environment that uses it."""
    root, _ = two_builds
    shutil.copytree(root / "index", target, dirs_exist_ok=True)
    return target, cli.env(root, settings.pop("cache_dir", jieba_cache), index_dir=target, **settings)


# --------------------------------------------------------------------------- read-only index and cache


def test_a_current_index_on_a_read_only_folder_answers(two_builds, cli, jieba_cache, tmp_path, mounts, start_server):
    disk = mounts.tmpfs(tmp_path / "ro", "96m")
    # A filled cache (building the dictionary cache anew takes long) that nothing can be written to.
    shutil.copytree(jieba_cache, disk / "cache")
    index_dir, env = copy_index(two_builds, cli, jieba_cache, disk / "index", cache_dir=disk / "cache")
    live = current_build(index_dir).name
    mounts.read_only(disk)

    asked = cli.run(["ask", "--json", QUESTION], env)
    assert asked.returncode == 0, asked.stderr
    assert PRESIDENT in json.loads(asked.stdout)["answer"]
    zh = cli.run(["ask", "人居大会第一届会议选举谁为主席？"], env)
    assert zh.returncode == 0, zh.stderr
    assert PRESIDENT in zh.stdout

    server = start_server(index_dir=index_dir, embedding_model=env["RECORDQA_EMBEDDING_MODEL"])
    health = httpx.get(f"{server.url}/healthz", timeout=30)
    assert health.status_code == 200
    assert health.json()["index"]["build"] == live and health.json()["status"] == "ok"
    answer = httpx.post(f"{server.url}/api/ask", json={"question": QUESTION}, timeout=60).json()
    assert PRESIDENT in answer["answer"]


def test_a_stale_index_on_a_read_only_folder_answers_from_the_live_build(two_builds, cli, jieba_cache, tmp_path,
                                                                          mounts):
    disk = mounts.tmpfs(tmp_path / "ro", "4m")
    index_dir, env = copy_index(two_builds, cli, jieba_cache, disk / "index")
    live = current_build(index_dir).name
    mounts.read_only(disk)
    stale = {**env, "RECORDQA_BM25_K1": "1.5"}

    asked = cli.run(["ask", QUESTION], stale)

    assert asked.returncode == 0, asked.stderr
    assert PRESIDENT in asked.stdout
    assert (f"note: index is stale (index settings changed (embedding model, windows or BM25 parameters)) and "
            f"its folder {index_dir} is read-only; answering from build {live}") in notes(asked)

    forced = cli.run(["index", "--force"], env)
    assert forced.returncode == 1
    assert one_error_line(forced) == f"error: cannot build the index: its folder {index_dir} is read-only"


# --------------------------------------------------------------------------- damaged index files


def _garbage(path: Path) -> None:
    path.write_text("{ not json", encoding="utf-8")


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"XXXXXXXX"
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _first_bm25_file(build: Path) -> Path:
    return sorted(p for p in (build / "lexical" / "en" / "bm25").iterdir() if p.is_file())[0]


DAMAGE = {
    # kind: (what to break, given the index folder and the live build; the name the messages show)
    "current.json": (lambda index, build: _garbage(index / "current.json"), lambda build: "current.json"),
    "manifest.json": (lambda index, build: _garbage(build / "manifest.json"), lambda build: "manifest.json"),
    "records.json": (lambda index, build: _flip_bytes(build / "records.json"),
                     lambda build: f"{build.name}/records.json"),
    "docs.json": (lambda index, build: _truncate(build / "lexical" / "en" / "docs.json"),
                  lambda build: f"{build.name}/lexical/en/docs.json"),
    "bm25": (lambda index, build: _truncate(_first_bm25_file(build)),
             lambda build: f"{build.name}/lexical/en/bm25/{_first_bm25_file(build).name}"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_build_is_named_answered_around_and_repaired(two_builds, cli, jieba_cache, tmp_path, kind):
    index_dir, env = copy_index(two_builds, cli, jieba_cache, tmp_path / "index")
    live = current_build(index_dir)
    # With current.json unreadable nothing says which build is live: the newest intact one answers.
    [previous] = [name for name in builds(index_dir) if name != live.name] if kind != "current.json" else [live.name]
    shown = DAMAGE[kind][1](live)
    DAMAGE[kind][0](index_dir, live)

    doctor = cli.run(["doctor"], env)
    assert doctor.returncode == 1, doctor.stderr
    [status] = [line for line in doctor.stdout.splitlines() if line.startswith("index status:")]
    assert status.startswith("index status:    broken: ") and shown in status, status
    assert status.endswith(f"ask and serve answer from the newest intact build {previous}; {FIX} to repair")

    asked = cli.run(["ask", QUESTION], env)
    assert asked.returncode == 0, asked.stderr
    assert PRESIDENT in asked.stdout
    [notice] = [line for line in notes(asked) if "broken" in line]
    assert shown in notice and f"answering from the newest intact build {previous}" in notice

    repaired = cli.run(["index", "--force", "--quiet"], env)
    assert repaired.returncode == 0, repaired.stderr
    assert re.fullmatch(r"indexed 69 paragraphs in en, zh: .*\n", repaired.stdout)
    doctor = cli.run(["doctor"], env)
    assert doctor.returncode == 0
    assert f"index status:    current ({current_build(index_dir).name})" in doctor.stdout.splitlines()
    assert len(builds(index_dir)) == 2, "the damaged build is removed, the intact one kept"


@pytest.mark.parametrize("command", [["ask", QUESTION], ["serve", "--port", "0"]])
def test_a_damaged_index_without_an_intact_build_fails_in_one_line(two_builds, cli, jieba_cache, tmp_path, command):
    index_dir, env = copy_index(two_builds, cli, jieba_cache, tmp_path / "index")
    live = current_build(index_dir)
    for name in builds(index_dir):
        if name != live.name:
            shutil.rmtree(index_dir / "builds" / name)
    _garbage(live / "manifest.json")

    result = cli.run(command, env)

    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"error: the index in {index_dir} is broken: ") and line.endswith(f"; {FIX}"), line
    assert f"{live / 'manifest.json'} is not a valid manifest" in line


# --------------------------------------------------------------------------- the dense store


@pytest.fixture(scope="module")
def dense_two_builds(tmp_path_factory, jieba_cache, cli, tiny_model):
    root = tmp_path_factory.mktemp("faults-dense")
    env = cli.env(root, jieba_cache, embedding_model=tiny_model, window_overlap_tokens=8)
    for args in (["index", "--quiet"], ["index", "--force", "--quiet"]):
        result = cli.run(args, env)
        assert result.returncode == 0, result.stderr
    return root, env


def _empty_folder(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.mkdir()


CHROMA_DAMAGE = {
    "garbage sqlite": (lambda chroma: (chroma / "chroma.sqlite3").write_bytes(b"not a database" * 100),
                       "chroma/chroma.sqlite3 is not an SQLite database"),
    "deleted": (shutil.rmtree, "chroma is missing"),
    "emptied": (_empty_folder, "chroma/chroma.sqlite3 is missing"),
}


def _dense_copy(dense_two_builds, tmp_path) -> tuple[Path, dict[str, str]]:
    root, env = dense_two_builds
    index_dir = tmp_path / "index"
    shutil.copytree(root / "index", index_dir)
    return index_dir, {**env, "RECORDQA_INDEX_DIR": str(index_dir)}


@pytest.mark.parametrize("kind", sorted(CHROMA_DAMAGE))
def test_doctor_names_a_damaged_vector_store(dense_two_builds, cli, tmp_path, kind):
    index_dir, env = _dense_copy(dense_two_builds, tmp_path)
    live = current_build(index_dir)
    breaker, problem = CHROMA_DAMAGE[kind]
    breaker(live / "chroma")

    doctor = cli.run(["doctor"], env)

    assert doctor.returncode == 1
    [status] = [line for line in doctor.stdout.splitlines() if line.startswith("index status:")]
    assert status.startswith("index status:    broken: ") and f"{live.name}/{problem}" in status, status


def test_a_damaged_vector_store_is_answered_around_and_repaired(dense_two_builds, cli, tmp_path):
    index_dir, env = _dense_copy(dense_two_builds, tmp_path)
    live = current_build(index_dir)
    [previous] = [name for name in builds(index_dir) if name != live.name]
    breaker, problem = CHROMA_DAMAGE["garbage sqlite"]
    breaker(live / "chroma")

    asked = cli.run(["ask", "--json", QUESTION], env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "Delgado Peralta" in answer["answer"]
    assert any(f"{live.name}/{problem}" in n and f"answering from the newest intact build {previous}" in n
               for n in answer["notices"]), answer["notices"]

    # Without an intact build to fall back to, the damaged one answers lexically and says so.
    shutil.rmtree(index_dir / "builds" / previous)
    asked = cli.run(["ask", "--json", QUESTION], env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "Delgado Peralta" in answer["answer"]
    assert f"dense retrieval is off: {live.name}/{problem}; {FIX} to repair" in answer["notices"]

    repaired = cli.run(["index", "--force", "--quiet"], env)
    assert repaired.returncode == 0, repaired.stderr
    doctor = cli.run(["doctor"], env)
    assert doctor.returncode == 0
    assert f"index status:    current ({current_build(index_dir).name})" in doctor.stdout.splitlines()


# --------------------------------------------------------------------------- a full disk


def test_a_full_disk_fails_the_build_in_one_line_and_the_live_index_still_answers(cli, jieba_cache, tmp_path,
                                                                                   mounts):
    disk = mounts.tmpfs(tmp_path / "disk", "600k")
    env = cli.env(tmp_path, jieba_cache, index_dir=disk / "index")
    first = cli.run(["index", "--quiet"], env)
    assert first.returncode == 0, first.stderr
    [live] = builds(disk / "index")
    pointer = (disk / "index" / "current.json").read_text()

    forced = cli.run(["index", "--force", "--quiet"], env)

    assert forced.returncode == 1
    line = one_error_line(forced)
    assert re.fullmatch(rf"error: no space left on {re.escape(str(disk))} while writing the .+; the partial build "
                        r"was removed and the live index is unchanged", line), line
    assert builds(disk / "index") == [live]
    assert (disk / "index" / "current.json").read_text() == pointer

    stale = cli.run(["ask", QUESTION], {**env, "RECORDQA_BM25_K1": "1.5"})
    assert stale.returncode == 0, stale.stderr
    assert PRESIDENT in stale.stdout
    assert any(n.startswith(f"note: the stale index could not be rebuilt: no space left on {disk} while writing ")
               and n.endswith(f"; answering from build {live}") for n in notes(stale)), stale.stderr
    assert builds(disk / "index") == [live]


def test_a_full_disk_while_chroma_writes_is_named_too(dense_two_builds, cli, tmp_path, mounts):
    """Chroma's own error for a full disk does not say so ("Failed to apply logs to the metadata segment")."""
    root, env = dense_two_builds
    live = current_build(root / "index")
    size = sum(p.stat().st_size for p in live.rglob("*") if p.is_file())
    disk = mounts.tmpfs(tmp_path / "disk", f"{(size + size // 2) // 1024}k")
    (disk / "index" / "builds").mkdir(parents=True)
    shutil.copytree(live, disk / "index" / "builds" / live.name)
    shutil.copy(root / "index" / "current.json", disk / "index")
    env = {**env, "RECORDQA_INDEX_DIR": str(disk / "index")}

    forced = cli.run(["index", "--force", "--quiet"], env)

    assert forced.returncode == 1
    line = one_error_line(forced)
    assert line.startswith(f"error: no space left on {disk} while writing the vector store (chroma/) "), line
    assert builds(disk / "index") == [live.name]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(("name", "example"), [("API_KEYS", '["key1"]'), ("EMBED_ORIGINS", '["https://example.org"]'),
                                               ("UI_AUTH", '["user:password"]')])
def test_a_list_setting_that_is_not_json_says_to_write_a_json_list(cli, jieba_cache, tmp_path, name, example):
    env = {**cli.env(tmp_path, jieba_cache), f"RECORDQA_{name}": "key1,key2"}

    result = cli.run(["doctor"], env)

    assert result.returncode == 2
    assert result.stderr == f"error: RECORDQA_{name} must be a JSON list, e.g. {example}\n"


# --------------------------------------------------------------------------- a re-index under a running server


def test_a_running_server_picks_up_a_new_build_without_restart(start_server, cli, tmp_path):
    records = tmp_path / "records"
    shutil.copytree(PROJECT_ROOT / "data" / "records", records)
    server = start_server(records_dir=records)
    index_dir = Path(server.env["RECORDQA_INDEX_DIR"])
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/livez").json() == {"status": "alive"}
        before = http.get("/healthz").json()["index"]["build"]
        assert PRESIDENT in http.post("/api/ask", json={"question": QUESTION}).json()["answer"]

        for lang in ("en", "zh"):
            path = records / "HSP-HA-1" / f"{lang}.txt"
            path.write_text(path.read_text(encoding="utf-8").replace("Delgado Peralta", "Delgado Renamed"),
                            encoding="utf-8")
        reindexed = cli.run(["index", "--quiet"], server.env)
        assert reindexed.returncode == 0, reindexed.stderr
        after = current_build(index_dir).name
        assert after != before

        deadline = time.monotonic() + 60
        while (health := http.get("/healthz")).json()["index"]["build"] != after:
            assert time.monotonic() < deadline, f"the server still reports {health.json()['index']['build']}"
            time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        answer = http.post("/api/ask", json={"question": QUESTION}).json()
        assert "Martha Delgado Renamed" in answer["answer"] and PRESIDENT not in answer["answer"]
        paragraph = http.get("/api/paragraphs/3").json()
        assert "Delgado Renamed" in json.dumps(paragraph, ensure_ascii=False)
    assert server.alive()
    assert (index_dir / "builds" / before).exists(), "the replaced build is kept for requests still on it"


def test_healthz_tells_readiness_and_livez_answers_regardless(start_server):
    server = start_server()
    index_dir = Path(server.env["RECORDQA_INDEX_DIR"])
    live = current_build(index_dir)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert http.get("/healthz").json()["ready"] is True

        (index_dir / "current.json").write_text("{ not json", encoding="utf-8")
        deadline = time.monotonic() + 60
        while (health := http.get("/healthz")).json()["status"] != "degraded":
            assert time.monotonic() < deadline, health.json()
            time.sleep(0.2)
        assert health.status_code == 200 and health.json()["index"]["build"] == live.name
        assert health.json()["degraded"] == [f"{index_dir / 'current.json'} is unreadable (JSONDecodeError); "
                                             f"still answering from build {live.name}"]
        assert PRESIDENT in http.post("/api/ask", json={"question": QUESTION}).json()["answer"]

        shutil.rmtree(live)
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["ready"] is False and health.json()["status"] == "unavailable"
        assert f"the files of build {live.name} are gone; run `recordqa index`" in health.json()["degraded"]
        assert http.get("/livez").status_code == 200


def test_healthz_says_dense_is_off_once_the_vector_store_is_gone(dense_two_builds, start_server, tmp_path, tiny_model):
    index_dir, _ = _dense_copy(dense_two_builds, tmp_path)
    server = start_server(index_dir=index_dir, embedding_model=tiny_model, window_overlap_tokens=8)
    live = current_build(index_dir)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        before = http.get("/healthz").json()
        assert before["dense"]["on"] is True and before["status"] == "ok"

        shutil.rmtree(live / "chroma")
        health = http.get("/healthz").json()

    assert health["dense"]["on"] is False
    assert health["dense"]["reason"] == f"{live.name}/chroma/chroma.sqlite3 is missing"
    assert health["status"] == "degraded"
    assert f"dense retrieval is off: {live.name}/chroma/chroma.sqlite3 is missing" in health["degraded"]
