# Quick start: `make run` serves the web chat, the widget and the HTTP API (not a terminal chat: that is
# `recordqa chat`) on $(HOST):$(PORT), default 127.0.0.1:7860, e.g. `make run PORT=8000`; `make test` runs
# ruff and the whole suite, installing Chromium and a CJK font first when missing (.ci/browser-deps).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED ?= False
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test lint index eval fit bench clean browser-deps

$(PY):
	python3 -m venv $(VENV)

# Reinstall only when pyproject.toml changes. torch is installed first, pinned, so nothing pulls CUDA builds.
$(VENV)/.installed-app: pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	$(VENV)/bin/recordqa serve --host $(HOST) --port $(PORT)

index: $(VENV)/.installed-app
	$(VENV)/bin/recordqa index

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

# The browser tests drive Debian's Chromium; this installs it (apt-get, sudo when not root) if missing.
browser-deps:
	.ci/browser-deps

test: $(VENV)/.installed-test lint browser-deps
	$(VENV)/bin/pytest -q

eval: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval --compare hybrid,lexical,dense,hybrid+rerank --out out/eval
	$(VENV)/bin/recordqa eval --dataset eval/benchmark/blind_test.jsonl --compare hybrid,lexical,dense --out out/eval-test

# Refit the answer models (qa/answer_model.json) on the benchmark's fit split; prints cross-validated figures.
fit: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval fit

bench: $(VENV)/.installed-app
	$(PY) -m eval.bench
	$(PY) -m eval.bench_hostile

clean:
	rm -rf .recordqa out
