"""The operator, running for real (kopf's KopfRunner) against the harness's broker and API server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kopf.testing import KopfRunner
from kubernetes import client, config
from support import REPO, Topics, kubectl

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.procs import free_port

# Short intervals so that drift, retries and bounded deletion show within a test's patience.
OPERATOR_ENV = {"KAFKAOPS_DRIFT_INTERVAL_SECONDS": "2", "KAFKAOPS_DELETION_TIMEOUT_SECONDS": "6",
                "KAFKAOPS_REQUEST_TIMEOUT_SECONDS": "4"}


@pytest.fixture(scope="session")
def crds(kubeconfig_env: str) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io",
            "crd/consumerapps.kafkaops.io")


@pytest.fixture(scope="session")
def api(kubeconfig_env: str) -> client.CustomObjectsApi:
    config.load_kube_config(config_file=kubeconfig_env)
    return client.CustomObjectsApi()


@pytest.fixture(scope="session")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def metrics_url(operator: KopfRunner, metrics_port: int) -> str:
    """The running operator's Prometheus endpoint."""
    return f"http://127.0.0.1:{metrics_port}/metrics"


@pytest.fixture(scope="session")
def operator(kafka: KafkaCluster, crds: None, metrics_port: int) -> Iterator[KopfRunner]:
    os.environ.update(OPERATOR_ENV, KAFKAOPS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
                      KAFKAOPS_METRICS_PORT=str(metrics_port))
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


@pytest.fixture
def topics(api, operator, namespace, kafka) -> Topics:
    return Topics(api, namespace, kafka)


@pytest.fixture
def topic_name() -> str:
    return f"topic_{uuid.uuid4().hex[:8]}"
