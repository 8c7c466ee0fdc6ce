"""A newcomer's first hour: the README's commands on a fresh machine (make test, make run with
a port), a CLI that answers `show`, `export`, `--version` and an empty question without loading
any model, and quiet, readable output in both languages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from recordqa.settings import PROJECT_ROOT

MODEL_LIBRARIES = ("torch", "transformers", "sentence_transformers", "chromadb", "gradio")


def stub(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def system(tmp_path):
    """A PATH whose apt-get, sudo, id, fc-list and make are stubs that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    stub(bin_dir, "sudo", f'echo "sudo $*" >> {log}; exec "$@"')
    stub(bin_dir, "make", f'echo "make $*" >> {log}')
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return bin_dir, log, env


# --------------------------------------------------------------------------- make and CI


def test_make_test_installs_the_browser_before_running_the_suite():
    result = subprocess.run(["make", "-n", "test"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)

    commands = result.stdout.splitlines()
    assert ".ci/browser-deps" in commands
    assert commands.index(".ci/browser-deps") < commands.index(".venv/bin/pytest -q")


def test_make_run_takes_a_port_and_a_host():
    result = subprocess.run(["make", "-n", "run", "PORT=8000", "HOST=0.0.0.0"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)

    assert result.stdout.splitlines()[-1] == ".venv/bin/recordqa serve --host 0.0.0.0 --port 8000"
    default = subprocess.run(["make", "-n", "run"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")})
    assert default.stdout.splitlines()[-1] == ".venv/bin/recordqa serve --host 127.0.0.1 --port 7860"


def test_browser_deps_installs_chromium_and_a_cjk_font_with_sudo_when_missing(system, tmp_path):
    bin_dir, log, env = system
    stub(bin_dir, "id", "echo 1000")
    stub(bin_dir, "fc-list", "true")

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "browser-deps")], capture_output=True, text=True,
                            env={**env, "CHROMIUM": str(tmp_path / "no-chromium")})

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "sudo apt-get install -y -q chromium chromium-driver fonts-wqy-zenhei",
        "apt-get install -y -q chromium chromium-driver fonts-wqy-zenhei",
    ]


def test_browser_deps_does_nothing_when_chromium_and_the_font_are_there(system, tmp_path):
    bin_dir, log, env = system
    stub(bin_dir, "id", "echo 0")
    stub(bin_dir, "fc-list", "echo '/usr/share/fonts/wqy-zenhei.ttc: WenQuanYi Zen Hei'")
    chromium = tmp_path / "chromium"
    stub(tmp_path, "chromium", "true")

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "browser-deps")], capture_output=True, text=True,
                            env={**env, "CHROMIUM": str(chromium)})

    assert result.returncode == 0 and result.stderr == ""
    assert not log.exists()


def test_ci_runs_the_readme_test_command(system):
    _, log, env = system

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "run")], capture_output=True, text=True, env=env)

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["make test"]
    assert "make test " in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
