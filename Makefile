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

.PHONY: run test lint index eval fit bench bench-scale clean browser-deps cluster cluster-deps bench-cluster

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

test: $(VENV)/.installed-test lint browser-deps cluster-deps
	$(VENV)/bin/pytest -q

# nginx, the proxy of `make cluster` (tests/test_cluster.py starts one); apt-get, sudo when not root.
cluster-deps:
	.ci/cluster-deps

# The whole multi-replica arrangement on loopback: nginx on $(PORT) in front of 2 replicas sharing
# RECORDQA_INDEX_DIR, and a Chroma server (deploy/cluster.py; README "Deployment"). Ctrl-C stops it.
cluster: $(VENV)/.installed-app cluster-deps
	$(PY) deploy/cluster.py --port $(PORT)

# /api/ask with 50 concurrent clients for 60 s through the proxy, with 1 and then 2 replicas.
bench-cluster: $(VENV)/.installed-app cluster-deps
	$(PY) -m eval.bench_cluster

eval: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval --compare hybrid,lexical,dense,hybrid+rerank --out out/eval
	$(VENV)/bin/recordqa eval --dataset eval/benchmark/blind_test.jsonl --compare hybrid,lexical,dense --out out/eval-test

# The blind question sets of the shared real records (eval/benchmark/records/, see eval/README.md), asked of
# an index of $(RECORDS) kept apart from the default one; figures per record on stdout and in
# out/eval-records/summary.md. Exit 1 when a question's gold passage is in no indexed paragraph.
RECORDS ?= ../shared/records
.PHONY: eval-records
eval-records: $(VENV)/.installed-app
	RECORDQA_RECORDS_DIR=$(RECORDS) RECORDQA_INDEX_DIR=.recordqa/index-records \
		$(VENV)/bin/recordqa eval --dataset eval/benchmark/records --out out/eval-records --no-sweep

# Refit the answer models (qa/answer_model.json) on the benchmark's fit split and the training questions on
# $(RECORDS) (eval/benchmark/records_fit/, asked of .recordqa/index-records); prints cross-validated figures.
fit: $(VENV)/.installed-app
	$(VENV)/bin/recordqa eval fit --records $(RECORDS)

bench: $(VENV)/.installed-app
	$(PY) -m eval.bench
	$(PY) -m eval.bench_hostile
	$(PY) -m eval.bench_alignment

# Build, query and grow 1k/10k/100k-paragraph synthetic collections (eval/bench_scale.py); niced, resumable:
# results are kept in .recordqa/bench-scale/results.json and vectors in .recordqa/bench-cache/.
bench-scale: $(VENV)/.installed-app
	nice -n 10 $(PY) -m eval.bench_scale --plot docs/scale.svg

clean:
	rm -rf .recordqa out
