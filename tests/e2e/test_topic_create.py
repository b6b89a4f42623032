"""KafkaTopic end to end: real API server, real operator, real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from helpers import eventually, ready_condition, reconciled
from kafkaops.harness.kafka import KafkaCluster

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "kafkatopics"


def topic_manifest(name: str, spec: dict) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic", "metadata": {"name": name}, "spec": spec}


def broker_topic(kafka: KafkaCluster, topic: str) -> tuple[int, dict[str, str]] | None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    metadata = admin.list_topics(topic=topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return None
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(10)
    return len(metadata.partitions), {k: e.value for k, e in entries.items()}


def test_kafkatopic_creates_the_topic_and_reports_ready(api, operator, namespace, kafka):
    topic = f"user_events_{uuid.uuid4().hex[:6]}"
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, topic_manifest("user-events", {
        "topicName": topic, "partitions": 3,
        "config": {"retention.ms": 604800000, "cleanup.policy": "delete"}}))

    def ready():
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "user-events")
        return obj if reconciled(obj) else None

    obj = eventually(ready, what="KafkaTopic reconciled")
    condition = ready_condition(obj)
    assert condition["status"] == "True", condition
    assert condition["reason"] == "Created"
    assert obj["status"]["topicName"] == topic
    assert obj["status"]["partitions"] == 3
    assert obj["status"]["replicationFactor"] == 1
    assert obj["status"]["topicId"]

    partitions, config = broker_topic(kafka, topic)
    assert partitions == 3
    assert config["retention.ms"] == "604800000"
    assert config["cleanup.policy"] == "delete"


def test_invalid_config_is_reported_not_created(api, operator, namespace, kafka):
    topic = f"bad_{uuid.uuid4().hex[:6]}"
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, topic_manifest("bad", {
        "topicName": topic, "partitions": 1, "config": {"retention.ms": "not-a-number"}}))

    def reconciled_bad():
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bad")
        return obj if reconciled(obj) else None

    condition = ready_condition(eventually(reconciled_bad, what="KafkaTopic reconciled"))
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidConfig"
    assert "retention.ms" in condition["message"]
    assert broker_topic(kafka, topic) is None
