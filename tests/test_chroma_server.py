"""Dense vectors on a real Chroma server (`chroma run`, RECORDQA_CHROMA_URL): answers equal the
embedded store's, re-indexing writes only changed records, a server that is down or hung makes the
commands fail in one line, and the web app answers lexically with a notice until it is back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from indexer.build import current_build
from indexer.manifest import Manifest
from recordqa.factories import ensure_index, make_answerer, make_embedders
from recordqa.settings import PROJECT_ROOT

CHROMA = Path(sys.executable).parent / "chroma"
QUESTIONS = [
    ("Who was elected President of the first session of the UN-Habitat Assembly?", None),
    ("人居大会第一届会议选举谁为主席？", None),
    ("What did the Assembly decide about the strategic plan?", None),
    ("When will the second session of the Assembly be held?", "zh"),
]
UNREACHABLE = "semantic search unavailable: Chroma server at {url} not reachable"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` on 127.0.0.1 with its data in ``path``; stop() and start() keep port and path."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log = path, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> ChromaServer:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                          "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"chroma exited: {self.log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma did not answer in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pause(self) -> None:
        """A hung server: it keeps its port open but answers nothing."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    root = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(root / "data", root / "chroma.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def both(tmp_path_factory, jieba_cache, make_settings, tiny_model, chroma):
    """(embedded settings, server settings, embedders): the shipped record indexed with the tiny
    model into the embedded store and into the Chroma server."""
    embedded = make_settings(tmp_path_factory.mktemp("embedded"), jieba_cache, embedding_model=str(tiny_model),
                             window_overlap_tokens=8)
    served = embedded.model_copy(update={"index_dir": tmp_path_factory.mktemp("served") / "index",
                                         "chroma_url": chroma.url})
    embedders, dense = make_embedders(embedded)
    for settings in (embedded, served):
        ensure_index(settings, embedders=embedders, dense=dense, progress=False)
    return embedded, served, embedders


def _answer_json(settings, embedders) -> list[dict]:
    answerer = make_answerer(settings, embedders=embedders)
    answers = []
    for question, lang in QUESTIONS:
        answer = answerer.ask(question, lang=lang)
        assert "retrieval.dense" in answer.timings_ms, "dense retrieval did not run"
        assert not [n for n in answer.notices if "semantic search" in n]
        answers.append({k: v for k, v in answer.public_json().items() if k not in ("timings_ms", "answer_id")})
    return answers


def test_answers_through_the_server_equal_the_embedded_stores(both):
    embedded, served, embedders = both
    build = current_build(served.index_dir)
    manifest = Manifest.read(build / "manifest.json")
    assert manifest.vectors["store"] == "server" and manifest.vectors["url"] == served.chroma_url
    assert not (build / "chroma").exists(), "the vectors belong on the server, not in the build folder"
    embedded_manifest = Manifest.read(current_build(embedded.index_dir) / "manifest.json")
    assert manifest.counts == embedded_manifest.counts

    through_server, in_folder = _answer_json(served, embedders), _answer_json(embedded, embedders)

    assert [a["citations"] for a in through_server] == [a["citations"] for a in in_folder]
    assert through_server == in_folder
    assert any(a["citations"] for a in through_server)


def _env(cli, tmp_path, jieba_cache, tiny_model, chroma_url, **settings) -> dict[str, str]:
    return cli.env(tmp_path, jieba_cache, embedding_model=tiny_model, window_overlap_tokens=8,
                   chroma_url=chroma_url, **settings)


def test_reindexing_writes_only_the_changed_record_and_removes_what_is_gone(cli, tmp_path, jieba_cache,
                                                                             tiny_model, chroma):
    records = tmp_path / "records"
    shutil.copytree(PROJECT_ROOT / "data" / "records", records)
    env = _env(cli, tmp_path, jieba_cache, tiny_model, chroma.url, records_dir=records)
    first = cli.run(["index", "--quiet"], env)
    assert first.returncode == 0, first.stderr
    first_manifest = Manifest.read(current_build(tmp_path / "index") / "manifest.json")
    en = records / "HSP-HA-1" / "en.txt"
    en.write_text(en.read_text(encoding="utf-8").replace("Sweden, Turkey and", "Sweden, Türkiye and"),
                  encoding="utf-8")

    second = cli.run(["index", "--quiet"], env)

    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith("; vectors written for HSP-HA-1:en"), second.stdout
    manifest = Manifest.read(current_build(tmp_path / "index") / "manifest.json")
    assert manifest.vectors["collection"] == first_manifest.vectors["collection"]
    assert manifest.vectors["revisions"]["HSP-HA-1:zh"] == first_manifest.vectors["revisions"]["HSP-HA-1:zh"]
    assert manifest.vectors["revisions"]["HSP-HA-1:en"] != first_manifest.vectors["revisions"]["HSP-HA-1:en"]
    # Both builds are kept (a reader may hold the first): the collection holds their three revisions.
    import chromadb

    collection = chromadb.HttpClient(host="127.0.0.1", port=chroma.port).get_collection(
        manifest.vectors["collection"])
    revisions = {m["rev"] for m in collection.get(include=["metadatas"])["metadatas"]}
    assert revisions == set(manifest.vectors["revisions"].values()) | set(
        first_manifest.vectors["revisions"].values())

    asked = cli.run(["ask", "--json", "Which Member States were represented?"], env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not [n for n in answer["notices"] if "semantic search" in n]


def test_commands_say_in_one_line_when_the_server_is_down(both, cli, tmp_path, jieba_cache, tiny_model):
    _, served, _ = both
    # A port nothing listens on: the server of this index is "down".
    down = f"http://127.0.0.1:{_free_port()}"
    env = _env(cli, tmp_path, jieba_cache, tiny_model, down, index_dir=served.index_dir)
    pointer = (served.index_dir / "current.json").read_text()
    expected = UNREACHABLE.format(url=down)

    for args in (["ask", "Who was elected President?"], ["doctor"], ["index", "--force", "--quiet"]):
        result = cli.run(args, env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [line for line in (result.stdout + result.stderr).splitlines() if expected in line]
        assert len(lines) == 1, (args, result.stdout, result.stderr)
    assert (served.index_dir / "current.json").read_text() == pointer, "a failed build must not switch"


def _ask(server, question: str) -> dict:
    response = httpx.post(f"{server.url}/api/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _dense_ran(answer: dict) -> bool:
    return "retrieval.dense" in answer.get("timings_ms", {}) and not any(
        "semantic search" in n for n in answer["notices"])


def test_the_web_app_answers_lexically_while_the_server_is_away_and_recovers(both, chroma, start_server,
                                                                              tiny_model):
    _, served, _ = both
    chroma_url = served.chroma_url
    app = start_server(index_dir=served.index_dir, embedding_model=tiny_model, window_overlap_tokens=8,
                       chroma_url=chroma_url)
    question = "Who was elected President of the first session of the UN-Habitat Assembly?"
    before = _ask(app, question)
    assert _dense_ran(before), before["notices"]
    assert httpx.get(f"{app.url}/healthz", timeout=30).json()["dense"]["on"] is True

    server = chroma
    server.stop()
    try:
        away = _ask(app, question)
        assert UNREACHABLE.format(url=chroma_url) in " ".join(away["notices"])
        assert away["citations"], "the lexical runs still answer"
        health = httpx.get(f"{app.url}/healthz", timeout=30).json()
        assert health["dense"]["on"] is False and health["status"] == "degraded"
        assert health["dense"]["reason"].startswith(UNREACHABLE.format(url=chroma_url))
    finally:
        server.start()
    deadline = time.monotonic() + 30
    while not _dense_ran(again := _ask(app, question)):
        assert time.monotonic() < deadline, f"dense retrieval did not come back: {again['notices']}"
        time.sleep(0.5)
    assert again["citations"] == before["citations"]


def test_a_hung_server_does_not_stall_answers(both, chroma, start_server, tiny_model):
    _, served, _ = both
    app = start_server(index_dir=served.index_dir, embedding_model=tiny_model, window_overlap_tokens=8,
                       chroma_url=served.chroma_url)
    question = "人居大会第一届会议选举谁为主席？"
    assert _dense_ran(_ask(app, question))
    server = chroma
    server.pause()
    try:
        hung = _ask(app, question)  # answered within the client's timeout, not when the server wakes
        assert UNREACHABLE.format(url=served.chroma_url) in " ".join(hung["notices"])
        assert hung["citations"]
    finally:
        server.resume()
