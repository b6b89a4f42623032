"""The operator, running for real (kopf's KopfRunner) against the harness's broker and API server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kopf.testing import KopfRunner
from kubernetes import client, config

from kafkaops.harness.kafka import KafkaCluster

REPO = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).with_name("kubectl"))


def kubectl(*args: str, input_text: str | None = None) -> str:
    result = subprocess.run([KUBECTL, *args], input=input_text, capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@pytest.fixture(scope="session")
def crds(kubeconfig_env: str) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io")


@pytest.fixture(scope="session")
def api(kubeconfig_env: str) -> client.CustomObjectsApi:
    config.load_kube_config(config_file=kubeconfig_env)
    return client.CustomObjectsApi()


@pytest.fixture(scope="session")
def operator(kafka: KafkaCluster, crds: None) -> Iterator[KopfRunner]:
    os.environ["KAFKAOPS_BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
    os.environ.setdefault("KAFKAOPS_DRIFT_INTERVAL_SECONDS", "3")
    args = ["run", "--standalone", "--all-namespaces", "-m", "kafkaops.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        yield runner
    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output


@pytest.fixture
def namespace(kubeconfig_env: str) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")
