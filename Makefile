# Quick start: `make run` (the web chat, widget and API on 127.0.0.1:7860) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED ?= False

.PHONY: run test lint index eval fit bench clean

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
	$(VENV)/bin/recordqa serve

index: $(VENV)/.installed-app
	$(VENV)/bin/recordqa index

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

test: $(VENV)/.installed-test lint
	$(VENV)/bin/pytest -q

eval: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval --compare hybrid,lexical,dense,hybrid+rerank --out out/eval
	$(VENV)/bin/recordqa eval --dataset eval/benchmark/blind_test.jsonl --compare hybrid,lexical,dense --out out/eval-test

# Refit the answer models (qa/answer_model.json) on the benchmark's fit split; prints cross-validated figures.
fit: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval fit

bench: $(VENV)/.installed-app
	$(PY) -m eval.bench

clean:
	rm -rf .recordqa out
