"""The README's first command: the demo starts its own broker and API server, runs the operator,
applies every manifest in examples/ and waits until each KafkaTopic and ConsumerApp is Ready."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from support import REPO

from kafkaops.harness.procs import free_port

pytestmark = pytest.mark.e2e


def example_objects() -> list[tuple[str, str]]:
    objects = []
    for path in sorted((REPO / "examples").glob("*.yaml")):
        objects += [(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(path.read_text())
                    if doc and doc["kind"] in ("KafkaTopic", "ConsumerApp")]
    return objects


def test_demo_applies_every_example_and_shows_them_ready():
    objects = example_objects()
    assert {("KafkaTopic", "user-events"), ("ConsumerApp", "log-collector"), ("ConsumerApp", "raw-processor")} <= set(
        objects)
    env = dict(os.environ, KAFKAOPS_METRICS_PORT=str(free_port()))
    env.pop("KUBECONFIG", None)  # the demo brings its own cluster
    result = subprocess.run([sys.executable, "-m", "kafkaops.harness", "demo", "--once"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=400, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "all KafkaTopics Ready" in output
    for kind, name in objects:
        assert name in result.stdout, f"{kind} {name} not shown:\n{result.stdout}"
    if any(kind == "ConsumerApp" for kind, _ in objects):
        assert "all ConsumerApps Ready" in output
