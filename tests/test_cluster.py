"""More than one replica: `deploy/cluster.py` (what `make cluster` runs) on free loopback ports, with
a Chroma server, two `recordqa serve` replicas sharing one index folder and nginx in front. Questions,
the rate limit, the chat and a re-index all go through the proxy as a user's would."""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_browser import ask, browser, open_chat, page_factory  # noqa: F401 - shared fixtures
from test_first_hour import make_dry_run, stub, system  # noqa: F401 - shared fixtures

from recordqa.settings import PROJECT_ROOT
from ui.labels import label

CLUSTER = PROJECT_ROOT / "deploy" / "cluster.py"
CLUSTER_DEPS = PROJECT_ROOT / ".ci" / "cluster-deps"
PER_MINUTE = 8
KEYS = ["key-questions", "key-limit"]
QUESTION = "Who was elected President of the Assembly?"
START_TIMEOUT_S = 300


def nginx_present() -> bool:
    return bool(shutil.which("nginx")) or Path("/usr/sbin/nginx").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, cli, jieba_cache):
    """The whole arrangement on a tmp index of the shipped record, a limit of PER_MINUTE questions per
    client and two API keys; its state from cluster.json. Dense retrieval is off (a real embedder
    takes minutes to index on a busy 2-core machine, a random tiny one makes answers arbitrary), so
    the Chroma server runs unused here; tests/test_chroma_server.py answers through one."""
    if not nginx_present():
        # Not installed, as on a machine where `make test` did not run: install it the way make test does.
        subprocess.run([str(CLUSTER_DEPS)], capture_output=True, text=True)
    if not nginx_present():
        pytest.skip("nginx is not installed and .ci/cluster-deps could not install it (apt-get install nginx)")
    root = tmp_path_factory.mktemp("cluster")
    env = cli.env(root, jieba_cache, rate_limit_per_minute=PER_MINUTE, api_keys=json.dumps(KEYS),
                  feedback_path=root / "feedback.sqlite3")
    run_dir = root / "run"
    process = subprocess.Popen([sys.executable, str(CLUSTER), "--port", "0", "--run-dir", str(run_dir)], env=env,
                               cwd=env["HOME"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_file = run_dir / "cluster.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the cluster did not start: {out}{err}")
        time.sleep(0.3)
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state.update(process=process, env=env, url=state["url"].rstrip("/"))
    yield state
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)


def counter(replica: dict, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter on one replica (its own /metrics), over samples with ``labels``."""
    text = httpx.get(replica["url"] + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.index("}")]))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def ask_api(url: str, key: str, question: str = QUESTION, **headers: str) -> httpx.Response:
    return httpx.post(url + "/api/ask", json={"question": question}, timeout=60,
                      headers={"Authorization": f"Bearer {key}", **headers})


def test_the_cluster_prints_its_url_and_every_part_listens_on_loopback(cluster):
    line = cluster["process"].stdout.readline()

    assert line.startswith(f"RecordQA cluster is serving at {cluster['url']}/ (nginx)"), line
    assert all(part["url"].startswith("http://127.0.0.1:") for part in [*cluster["replicas"], cluster["chroma"]])
    assert len(cluster["replicas"]) == 2
    assert httpx.get(cluster["chroma"]["url"] + "/api/v2/heartbeat", timeout=10).status_code == 200


def test_questions_through_the_proxy_get_cited_answers_from_both_replicas(cluster):
    before = [counter(r, "recordqa_http_requests_total", route="/api/ask", status="200") for r in cluster["replicas"]]

    answers = [ask_api(cluster["url"], KEYS[0]) for _ in range(4)]

    assert [a.status_code for a in answers] == [200] * 4
    assert all("Martha Delgado Peralta" in a.json()["answer"] and "[¶3]" in a.json()["answer"] for a in answers)
    served = [counter(r, "recordqa_http_requests_total", route="/api/ask", status="200") - b
              for r, b in zip(cluster["replicas"], before, strict=True)]
    assert sum(served) == 4 and all(n > 0 for n in served), served


def test_the_rate_limit_is_counted_once_at_the_proxy(cluster):
    replies = [ask_api(cluster["url"], KEYS[1]) for _ in range(PER_MINUTE + 1)]

    # Two replicas with their own limiters would have let 2 x PER_MINUTE through.
    assert [r.status_code for r in replies] == [200] * PER_MINUTE + [429]
    refused = replies[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    assert sum(counter(r, "recordqa_refusals_total", reason="rate_limited") for r in cluster["replicas"]) == 0
    # Another client (the other key) still has its own budget.
    assert ask_api(cluster["url"], KEYS[0]).status_code == 200


def test_a_streamed_answer_passes_the_proxy_as_server_sent_events(cluster):
    with httpx.stream("POST", cluster["url"] + "/api/ask/stream", json={"question": QUESTION}, timeout=60,
                      headers={"Authorization": f"Bearer {KEYS[0]}"}) as reply:
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("event: ") for line in reply.iter_lines() if line.startswith("event: ")]

    assert events[0] == "delta" and events[-1] == "answer"


def test_a_forwarded_for_header_from_a_client_is_replaced_by_the_proxy(cluster):
    reply = ask_api(cluster["url"], KEYS[0], **{"X-Forwarded-For": "203.0.113.9"})

    assert reply.status_code == 200
    logs = "".join(Path(r["log"]).read_text(encoding="utf-8") for r in cluster["replicas"])
    assert "POST /api/ask 200" in logs and "203.0.113.9" not in logs


def test_a_chat_through_the_proxy_answers_and_says_so_when_the_shared_budget_is_spent(cluster, page_factory):  # noqa: F811
    page = page_factory("en-US")
    open_chat(page, cluster["url"] + "/chat/")

    answer = ask(page, QUESTION)

    assert "Martha Delgado Peralta" in answer and "[¶3]" in answer
    assert any(c["name"] == "rq_route" for c in page.context.cookies())
    # Keyless API questions count against this address, in the zone the chat's questions count in.
    spent = [httpx.post(cluster["url"] + "/api/ask", json={"question": QUESTION}, timeout=60)
             for _ in range(PER_MINUTE)]
    assert spent[-1].status_code == 429
    refused = ask(page, "When did the session open?", answers_before=1)
    assert refused == label("en", "rate_limited", seconds=math.ceil(60 / PER_MINUTE))


def test_a_chat_session_stays_on_one_replica_and_questions_only_enter_through_the_queue(cluster):
    for route in ("a", "b", "c"):
        before = [counter(r, "recordqa_http_requests_total", route="/chat/config") for r in cluster["replicas"]]
        pages = [httpx.get(cluster["url"] + "/chat/config", cookies={"rq_route": route}, timeout=30) for _ in range(6)]
        assert [page.status_code for page in pages] == [200] * 6
        grown = [counter(r, "recordqa_http_requests_total", route="/chat/config") - b
                 for r, b in zip(cluster["replicas"], before, strict=True)]
        assert sorted(grown) == [0, 6], grown

    direct = httpx.post(cluster["url"] + "/chat/gradio_api/run/respond", timeout=30,
                        json={"data": [QUESTION, [], [], "en"]})
    assert direct.status_code != 200 and "Martha" not in direct.text


def test_a_new_build_in_the_shared_folder_reaches_both_replicas_without_a_restart(cluster, cli):
    def builds() -> set[str]:
        return {httpx.get(r["url"] + "/healthz", timeout=10).json()["index"]["build"] for r in cluster["replicas"]}

    before = builds()
    result = cli.run(["index", "--force", "--quiet"], cluster["env"])
    assert result.returncode == 0, result.stderr

    deadline = time.monotonic() + 30
    while builds() == before and time.monotonic() < deadline:
        time.sleep(0.5)
    after = builds()
    assert len(before) == 1 and len(after) == 1 and after != before
    assert ask_api(cluster["url"], KEYS[0]).status_code == 200


def test_sigterm_stops_the_proxy_the_replicas_and_the_chroma_server(cluster):
    pids = [cluster["nginx"]["pid"], cluster["chroma"]["pid"], *(r["pid"] for r in cluster["replicas"])]

    cluster["process"].send_signal(signal.SIGTERM)

    assert cluster["process"].wait(60) == 0
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(cluster["url"] + "/livez", timeout=5)


def test_print_config_gives_nginx_a_configuration_for_replicas_on_other_machines(cli, tmp_path, jieba_cache):
    if not nginx_present():
        pytest.skip("nginx is not installed (apt-get install nginx; make test installs it)")
    env = cli.env(tmp_path, jieba_cache, rate_limit_per_minute=30)
    proxy = tmp_path / "proxy"

    result = subprocess.run([sys.executable, str(CLUSTER), "--print-config", "127.0.0.1:8081", "--replica",
                             "10.0.0.11:7860", "--replica", "10.0.0.12:7860", "--run-dir", str(proxy)],
                            env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    config = proxy / "nginx.conf"
    config.write_text(result.stdout, encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run([nginx, "-t", "-q", "-p", str(proxy), "-c", str(config), "-e",
                            str(proxy / "logs" / "error.log")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "server 10.0.0.12:7860" in result.stdout and "rate=30r/m" in result.stdout


# --------------------------------------------------------------------------- make and the system package


def test_make_cluster_runs_the_script_and_make_test_installs_nginx_first():
    assert make_dry_run("cluster", "PORT=8000")[-1] == ".venv/bin/python deploy/cluster.py --port 8000"
    commands = make_dry_run("test")
    assert ".ci/cluster-deps" in commands
    assert commands.index(".ci/cluster-deps") < commands.index(".venv/bin/pytest -q")


def test_cluster_deps_installs_nginx_with_sudo_when_missing(system, tmp_path):  # noqa: F811
    bin_dir, log, env = system
    stub(bin_dir, "id", "echo 1000")

    result = subprocess.run([str(CLUSTER_DEPS)], capture_output=True, text=True,
                            env={**env, "NGINX": str(tmp_path / "no-nginx")})

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["sudo apt-get install -y -q nginx", "apt-get install -y -q nginx"]


def test_cluster_deps_does_nothing_when_nginx_is_there(system, tmp_path):  # noqa: F811
    _, log, env = system
    stub(tmp_path, "nginx", "true")

    result = subprocess.run([str(CLUSTER_DEPS)], capture_output=True, text=True,
                            env={**env, "NGINX": str(tmp_path / "nginx")})

    assert (result.returncode, result.stderr) == (0, "")
    assert not log.exists()
