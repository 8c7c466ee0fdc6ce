"""RecordQA as a small cluster on loopback: one Chroma server, N `recordqa serve` replicas sharing one
index folder, and nginx in front of them (`make cluster`, or `python deploy/cluster.py --help`).

Everything listens on 127.0.0.1. The replicas read the index (the lexical index, the record files
and current.json) from the one shared folder RECORDQA_INDEX_DIR, so `recordqa index` run against it
reaches every replica without a restart (each checks current.json about once a second). The proxy
holds the rate limit (the replicas' own is off, else each would count apart) and keeps each chat
session on one replica (deploy/nginx.conf.template says why and how).

The proxy's URL is printed once everything answers, and the state (URLs, process ids, log files) is
written to RUN_DIR/cluster.json for scripts (the tests, eval/bench_cluster.py). Ctrl-C or SIGTERM
stops the proxy, then the replicas, then the Chroma server.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from recordqa.settings import PROJECT_ROOT, Settings

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0
COOKIE_ATTRIBUTES = "SameSite=Lax"
"""Plain-HTTP loopback: a page framing the widget from another site over HTTPS needs
'SameSite=None; Secure' here (the address still keeps a cookieless frame on one replica)."""


class ClusterError(Exception):
    """Why the cluster could not start, in one line."""


# --------------------------------------------------------------------------- the proxy's configuration


def nginx_string(text: str) -> str:
    """``text`` as a double-quoted nginx string that a map takes literally."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"'


def map_literal(key: str) -> str:
    # A map source starting with '~' would be read as a regular expression; a backslash makes it literal.
    return "\\" + key if key.startswith("~") else key


def render_config(*, listen: str, replicas: list[str], run_dir: Path, settings: Settings, workers: int | str = "auto",
                  user: str | None = None, cookie_attributes: str = COOKIE_ATTRIBUTES,
                  template: Path = TEMPLATE) -> str:
    """The nginx configuration for ``replicas`` (host:port) behind ``listen``, with the rate limit and
    the size limits of ``settings`` (the replicas' own rate limit is then turned off)."""
    per_minute = settings.rate_limit_per_minute
    keys = [key.get_secret_value() for key in settings.api_keys]
    entries = [f"        {nginx_string(map_literal(key))} key:{position};" for position, key in enumerate(keys)]
    if per_minute > 0:
        zone = (f"    limit_req_zone $rq_client zone=recordqa_questions:10m rate={per_minute}r/m;\n"
                "    limit_req_status 429;")
        # Leaky bucket: a burst of per_minute - 1 on top of the one in hand lets exactly per_minute
        # questions through at once, then one every 60/per_minute s (the replicas' sliding window
        # lets the whole budget back after a minute; the proxy spreads it evenly).
        burst = f" burst={per_minute - 1}" if per_minute > 1 else ""  # nginx refuses burst=0
        limit = f"            limit_req zone=recordqa_questions{burst} nodelay;"
        retry = math.ceil(60 / per_minute)
        dry_run = "            limit_req_dry_run on;"
    else:
        zone, limit, retry, dry_run = "", "", 1, ""
    values = {
        "USER": f"user {user};" if user else "",
        "WORKERS": str(workers),
        "RUN_DIR": str(run_dir),
        "MAX_BODY_BYTES": str(settings.max_body_bytes),
        "MAX_HEADER_BYTES": str(settings.max_header_bytes),
        "KEY_ENTRIES": "\n".join(entries),
        "LIMIT_ZONE": zone,
        "LIMIT_REQ": limit,
        "LIMIT_DRY_RUN": dry_run,
        "RETRY_AFTER_S": str(retry),
        "COOKIE_ATTRIBUTES": cookie_attributes,
        "SERVERS": "\n".join(f"        server {replica} max_fails=1 fail_timeout=5s;" for replica in replicas),
        "UPSTREAM_KEEPALIVE_S": str(max(1, settings.keep_alive_s - 1)),
        "LISTEN": listen,
    }
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def worker_user() -> str | None:
    """nginx started as root hands its workers to an unprivileged user; Debian has no group 'nobody'
    (nginx's default), so the user and group are named. Not root: the workers stay ours."""
    if os.geteuid() != 0:
        return None
    for name, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(name)
            return f"{name} {group}"
        except KeyError:
            continue
    return None


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # A cluster script killed with SIGKILL cannot stop its children: the kernel does it instead.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    url: str
    log: Path
    process: subprocess.Popen | None = None
    stop_signal: int = signal.SIGTERM

    def start(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches this script alone, which stops the
            # children in order (the proxy first, so no request reaches a replica that is going).
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            preexec_fn=_die_with_parent)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def last_line(self) -> str:
        try:
            lines = [line for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""


def wait_until_answering(child: Child, path: str, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.exited() is not None:
            raise ClusterError(f"{child.name} exited (status {child.exited()}): {child.last_line()} "
                               f"(log: {child.log})")
        try:
            with urllib.request.urlopen(child.url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise ClusterError(f"{child.name} did not answer {path} within {timeout_s:.0f} s (log: {child.log})")


@dataclass
class Cluster:
    run_dir: Path
    index_dir: Path
    replicas: int
    port: int
    settings: Settings
    index_first: bool = True
    children: list[Child] = field(default_factory=list)

    def replica_env(self, chroma_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "RECORDQA_INDEX_DIR": str(self.index_dir),
            # Counted once, by the proxy.
            "RECORDQA_RATE_LIMIT_PER_MINUTE": "0",
            # X-Forwarded-For is believed from the proxy alone; it runs on this machine.
            "RECORDQA_TRUSTED_PROXIES": json.dumps([f"{LOOPBACK}/32"]),
            "HF_HUB_OFFLINE": env.get("HF_HUB_OFFLINE", "1"),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
        })
        # The vectors: on the one Chroma server, for the indexer and every replica alike.
        env["RECORDQA_CHROMA_URL"] = chroma_url
        return env

    def start(self) -> dict:
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            raise ClusterError("nginx is not installed (Debian: apt-get install nginx; `make cluster` does it)")
        logs = self.run_dir / "logs"
        for folder in (logs, *(self.run_dir / "tmp" / name for name in ("body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))):
            folder.mkdir(parents=True, exist_ok=True)
        bin_dir = Path(sys.executable).parent
        recordqa = [sys.executable, "-m", "recordqa.cli"]

        chroma_port = free_port()
        chroma = Child("the Chroma server", f"http://{LOOPBACK}:{chroma_port}", logs / "chroma.log")
        self.children.append(chroma)
        chroma.start([str(bin_dir / "chroma"), "run", "--path", str(self.run_dir / "chroma"), "--host", LOOPBACK,
                      "--port", str(chroma_port)])
        wait_until_answering(chroma, "/api/v2/heartbeat")
        env = self.replica_env(chroma.url)

        if self.index_first:
            # Builds only when the records or the index-shaping settings changed since the last build.
            result = subprocess.run([*recordqa, "index", "--quiet"], env=env, capture_output=True, text=True)
            if result.returncode != 0:
                lines = (result.stderr or result.stdout).strip().splitlines()
                raise ClusterError(f"recordqa index failed: {lines[-1] if lines else result.returncode}")

        replicas = []
        for number in range(1, self.replicas + 1):
            port = free_port()
            replica = Child(f"replica {number}", f"http://{LOOPBACK}:{port}", logs / f"replica-{number}.log",
                            stop_signal=signal.SIGINT)  # uvicorn's graceful shutdown
            replica.start([*recordqa, "serve", "--host", LOOPBACK, "--port", str(port)], env)
            self.children.append(replica)
            replicas.append(replica)
        for replica in replicas:
            wait_until_answering(replica, "/livez")

        config = self.run_dir / "nginx.conf"
        config.write_text(render_config(listen=f"{LOOPBACK}:{self.port}", run_dir=self.run_dir,
                                        replicas=[r.url.removeprefix("http://") for r in replicas],
                                        settings=self.settings, user=worker_user()), encoding="utf-8")
        # The configuration holds the API keys (to key the rate limit): readable by its owner only.
        config.chmod(0o600)
        nginx_command = [nginx, "-p", str(self.run_dir), "-c", str(config), "-e", str(logs / "error.log")]
        check = subprocess.run([*nginx_command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            lines = check.stderr.strip().splitlines() or [f"status {check.returncode}"]
            reason = next((line for line in lines if "[emerg]" in line), lines[-1])
            raise ClusterError(f"nginx refuses the configuration: {reason}")
        proxy = Child("nginx", f"http://{LOOPBACK}:{self.port}", logs / "nginx.log", stop_signal=signal.SIGQUIT)
        proxy.start([*nginx_command, "-g", "daemon off;"])
        self.children.append(proxy)
        wait_until_answering(proxy, "/livez", timeout_s=30)

        state = {
            "url": proxy.url + "/",
            "index_dir": str(self.index_dir),
            "nginx": {"pid": proxy.process.pid, "config": str(config), "access_log": str(logs / "access.log")},
            "chroma": {"url": chroma.url, "pid": chroma.process.pid, "path": str(self.run_dir / "chroma")},
            "replicas": [{"url": r.url, "pid": r.process.pid, "log": str(r.log)} for r in replicas],
        }
        (self.run_dir / "cluster.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        return state

    def watch(self) -> int:
        """Until a signal arrives (0) or a child dies (1)."""
        while True:
            for child in self.children:
                if child.exited() is not None:
                    print(f"error: {child.name} exited (status {child.exited()}): {child.last_line()} "
                          f"(log: {child.log}); stopping the cluster", file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        # The proxy first, then the replicas, then the store they read.
        for child in reversed(self.children):
            child.stop()


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        print(f"error: invalid RECORDQA_ setting: {error['loc']}: {error['msg']}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="deploy/cluster.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the proxy's port on 127.0.0.1 (default 8080; 0: any)")
    parser.add_argument("--replicas", type=int, default=2, help="recordqa serve replicas (default 2)")
    parser.add_argument("--index-dir", type=Path,
                        help="the index folder the replicas share (default: RECORDQA_INDEX_DIR when set, else "
                        "RUN_DIR/index: its vectors live on the cluster's Chroma server, so it is kept apart from "
                        "the index of `make run`)")
    parser.add_argument("--run-dir", type=Path, default=PROJECT_ROOT / ".recordqa" / "cluster",
                        help="logs, the proxy's configuration and the Chroma server's data (default .recordqa/cluster)")
    parser.add_argument("--no-index", dest="index_first", action="store_false",
                        help="serve the index as it is instead of running `recordqa index` first")
    parser.add_argument("--print-config", metavar="LISTEN",
                        help="only print the proxy's configuration for the replicas named with --replica, listening "
                        "on LISTEN (e.g. 0.0.0.0:80), for a deployment on several machines; starts nothing (its "
                        "logs and temporary files go to RUN_DIR/logs and RUN_DIR/tmp, made here)")
    parser.add_argument("--replica", action="append", default=[], metavar="HOST:PORT",
                        help="a replica's address, with --print-config (repeat for each)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    run_dir = args.run_dir.resolve()
    if args.print_config:
        if not args.replica:
            parser.error("--print-config needs the replicas' addresses (--replica HOST:PORT, repeated)")
        for folder in ("logs", "tmp"):  # nginx creates the last level of its paths only
            (run_dir / folder).mkdir(parents=True, exist_ok=True)
        print(render_config(listen=args.print_config, replicas=args.replica, run_dir=run_dir, settings=settings,
                            user=worker_user()), end="")
        return 0
    index_dir = args.index_dir or (settings.index_dir if "RECORDQA_INDEX_DIR" in os.environ else run_dir / "index")
    cluster = Cluster(run_dir=run_dir, index_dir=index_dir.resolve(), replicas=args.replicas,
                      port=args.port or free_port(), settings=settings, index_first=args.index_first)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        state = cluster.start()
        replicas = ", ".join(r["url"] for r in state["replicas"])
        print(f"RecordQA cluster is serving at {state['url']} (nginx), replicas {replicas}, "
              f"Chroma server {state['chroma']['url']}; logs in {run_dir / 'logs'}; Ctrl-C stops it", flush=True)
        return cluster.watch()
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stopping short
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
