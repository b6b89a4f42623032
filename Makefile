# kafkaops: `make demo` runs the operator against a local broker + API server;
# `make test` installs everything and runs the whole suite (what .ci/run calls).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: install harness demo test unit lint bench-topics clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Kafka jars from Maven Central, etcd/kube-*/kwok built from the Go module proxy (cached).
harness: install
	$(PY) -m kafkaops.harness build

demo: harness
	$(PY) -m kafkaops.harness demo

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest -m unit

test: harness lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
