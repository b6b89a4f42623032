"""Session fixtures that start the real parts through the project's harness.

A component that cannot start makes the tests that need it fail (never skip): a green run
must mean the tests really ran against Kafka and Kubernetes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.harness.kafka import KafkaCluster, start_kafka
from kafkaops.harness.kube import KubeCluster, start_kube


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    with start_kafka(1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def secured_kafka() -> Iterator[KafkaCluster]:
    """A second cluster, as production runs them: SASL_SSL with SCRAM-SHA-512 and ACLs enforced."""
    with start_kafka(1, secured=True, acls=True) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeCluster]:
    with start_kube() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kubeconfig_env(kube: KubeCluster) -> Iterator[str]:
    """KUBECONFIG for kubectl, the kubernetes client and kopf."""
    from kubernetes.config import kube_config

    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kube.kubeconfig)
    # The client reads $KUBECONFIG once, at import; kopf's login uses that default.
    previous_default = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kube.kubeconfig)
    yield str(kube.kubeconfig)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous_default
    if previous is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary the harness builds (``make test`` builds it first; this builds it if missing)."""
    from kafkaops.harness.gobuild import ensure_helm

    return ensure_helm()
