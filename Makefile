# kafkaops: `make demo` runs the operator against a local broker + API server; `make image` builds the
# operator image without a Docker engine; `make test` installs everything and runs the whole suite (what
# .ci/run calls).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
IMAGE  ?= localhost/kafkaops:dev
# org.opencontainers.image.source of the image (set it to the repository's public URL when publishing).
IMAGE_SOURCE ?= $(shell git config --get remote.origin.url 2>/dev/null)

.PHONY: install harness image demo test unit lint flake-check bench-topics clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Kafka jars from Maven Central, etcd/kube-*/kwok/helm/kstatus and the real node (kubelet, containerd) built from
# the Go module proxy, promtool from Debian (all cached).
harness: install
	$(PY) -m kafkaops.harness build --real-node

# buildah, podman, runc, mmdebstrap and skopeo from apt when missing (as root), a Debian base standing in for
# the Dockerfile's FROM (cached), then the Dockerfile built with pyproject's version in its labels.
image: install
	$(PY) -m kafkaops.harness image --tag $(IMAGE) --source "$(IMAGE_SOURCE)"

demo: harness
	$(PY) -m kafkaops.harness demo

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest -m unit

# The harness build (Go, on both cores), the image build (mostly downloads from Debian and PyPI) and lint run
# side by side; then the whole suite, with the slowest tests listed at the end.
test: install
	$(MAKE) -j3 --output-sync=line harness image lint
	$(PY) -m pytest --durations=30

# The life-cycle tests (kill, freeze, restart: -m lifecycle) LOOPS times in a row in one session, against one
# broker and API server; pass/fail per run and per test at the end. No reruns: a failure counts.
LOOPS ?= 5
flake-check: harness image
	$(PY) -m pytest -m lifecycle --count $(LOOPS) --repeat-scope session

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
