"""What the e2e tests share: kubectl, and KafkaTopics seen from both the API server and the broker."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from kubernetes import client

from chart_render import RELEASE_NAMESPACE
from helpers import eventually, ready_condition, reconciled
from kafkaops.harness.kafka import KafkaCluster

REPO = Path(__file__).resolve().parents[2]
KUBECTL = str(Path(sys.executable).with_name("kubectl"))
GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "kafkatopics"
# Short intervals so that drift, retries and bounded deletion show within a test's patience.
OPERATOR_ENV = {"KAFKAOPS_DRIFT_INTERVAL_SECONDS": "2", "KAFKAOPS_DELETION_TIMEOUT_SECONDS": "6",
                "KAFKAOPS_CLUSTER_WAIT_SECONDS": "6", "KAFKAOPS_REQUEST_TIMEOUT_SECONDS": "4",
                "KAFKAOPS_CLUSTER_PROBE_INTERVAL_SECONDS": "2",
                "KAFKAOPS_NAMESPACE": RELEASE_NAMESPACE}


def kubectl(*args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([KUBECTL, *args], input=input_text, capture_output=True, text=True,
                            timeout=180, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def deployment_or_none(apps: client.AppsV1Api, namespace: str, name: str) -> Any:
    """The Deployment, or None while it does not exist (for ``eventually``)."""
    try:
        return apps.read_namespaced_deployment(name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


class Topics:
    """KafkaTopics in one namespace, and what the broker says about their topics."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str, kafka: KafkaCluster,
                 core: client.CoreV1Api | None = None) -> None:
        self.api, self.namespace, self.kafka = api, namespace, kafka
        self.core = core  # None: the session cluster's default client
        self.admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})

    def create(self, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None,
               namespace: str | None = None) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic",
                "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}
        return self.api.create_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace, PLURAL, body)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace, PLURAL, name)

    def patch(self, name: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        return self.api.patch_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace, PLURAL, name,
                                                       body)

    def delete(self, name: str, namespace: str | None = None) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace, PLURAL, name)

    def gone(self, name: str, namespace: str | None = None) -> bool:
        try:
            self.get(name, namespace)
        except client.ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    def wait(self, name: str, reason: str | None = None, *, namespace: str | None = None,
             timeout: float = 60, check: Callable[[dict[str, Any]], bool] = lambda _obj: True) -> dict[str, Any]:
        """Wait until the current generation is reconciled (with ``reason``, if given)."""

        def probe() -> dict[str, Any] | None:
            obj = self.get(name, namespace)
            condition = ready_condition(obj)
            if reconciled(obj) and (reason is None or condition["reason"] == reason) and check(obj):
                return obj
            return None

        return eventually(probe, timeout=timeout, what=f"KafkaTopic {name} reconciled with reason {reason}")

    def broker(self, topic: str) -> tuple[int, int, dict[str, str]] | None:
        """(partitions, replication factor, config) as the broker reports them, or None."""
        metadata = self.admin.list_topics(topic=topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None
        resource = ConfigResource(ResourceType.TOPIC, topic)
        entries = self.admin.describe_configs([resource])[resource].result(10)
        replicas = len(next(iter(metadata.partitions.values())).replicas)
        return len(metadata.partitions), replicas, {k: e.value for k, e in entries.items()}

    def events(self, name: str) -> list[tuple[str, str, str]]:
        events = (self.core or client.CoreV1Api()).list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}")
        return [(e.type, e.reason, e.message) for e in events.items]


def events_for(ref: str, namespace: str) -> list[tuple[str, str, str, int]]:
    """(type, reason, message, count) of each Event ``kubectl events --for`` shows for ``ref``
    (e.g. ``kafkatopic/orders``), oldest first: what a user reads, aggregation counts included."""
    output = kubectl("events", "--for", ref, "-n", namespace, "-o", "json").stdout
    listed = json.loads(output) if output.strip() else {"items": []}  # none yet: kubectl prints nothing
    return [(e["type"], e["reason"], e["message"], e.get("count") or 1) for e in listed["items"]]
