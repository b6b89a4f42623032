"""KafkaTopic creation end to end: real API server, real operator, real broker."""

from __future__ import annotations

import pytest
from support import kubectl

from helpers import eventually, ready_condition

pytestmark = pytest.mark.e2e


def test_kafkatopic_creates_the_topic_and_reports_ready(topics, topic_name):
    topics.create("user-events", {"topicName": topic_name, "partitions": 3,
                                  "config": {"retention.ms": 604800000, "cleanup.policy": "delete"}})
    obj = topics.wait("user-events")
    condition = ready_condition(obj)
    assert (condition["status"], condition["reason"]) == ("True", "Created")
    assert obj["status"]["topicName"] == topic_name
    assert obj["status"]["partitions"] == 3 and obj["status"]["replicationFactor"] == 1
    assert obj["status"]["topicId"]
    assert obj["status"]["managedConfigKeys"] == ["cleanup.policy", "retention.ms"]
    assert "finalizers" not in obj["metadata"]  # Retain: nothing blocks deletion

    partitions, replicas, config = topics.broker(topic_name)
    assert (partitions, replicas) == (3, 1)
    assert config["retention.ms"] == "604800000" and config["cleanup.policy"] == "delete"
    # One Event for the creation, one for the growth (tests/e2e/test_events.py has the rest).
    topics.patch("user-events", {"spec": {"partitions": 4}})
    topics.wait("user-events", "Updated")
    eventually(lambda: sorted((t, r) for t, r, _ in topics.events("user-events")) ==
               [("Normal", "Created"), ("Normal", "PartitionsIncreased")], what="Created and PartitionsIncreased")


def test_metadata_name_is_the_default_topic_name_and_kubectl_shows_and_waits(topics):
    topics.create("plain-name", {"partitions": 1})
    kubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", topics.namespace, "kafkatopic/plain-name")
    table = kubectl("get", "kt", "-n", topics.namespace).stdout
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "TOPIC", "PARTITIONS", "REPLICAS", "READY", "REASON", "AGE"]
    assert row.split()[:6] == ["plain-name", "plain-name", "1", "1", "True", "Created"]
    assert topics.broker("plain-name")[0] == 1


def test_a_rejected_config_fails_only_its_own_topic_in_a_batch(topics, topic_name):
    good = [f"{topic_name}_{i}" for i in range(8)]
    for i, name in enumerate(good):
        topics.create(f"good-{i}", {"topicName": name, "partitions": 2})
    topics.create("bad", {"topicName": f"{topic_name}_bad", "partitions": 1, "config": {"retention.ms": "soon"}})
    bad = ready_condition(topics.wait("bad"))
    assert (bad["status"], bad["reason"]) == ("False", "InvalidConfig")
    assert "retention.ms" in bad["message"]
    for i, name in enumerate(good):
        assert ready_condition(topics.wait(f"good-{i}"))["status"] == "True"
        assert topics.broker(name)[0] == 2
    assert topics.broker(f"{topic_name}_bad") is None
    assert ("Warning", "InvalidConfig") in [(t, r) for t, r, _ in topics.events("bad")]


def test_replication_factor_the_cluster_cannot_hold_is_invalid_config(topics, topic_name):
    topics.create("too-many-replicas", {"topicName": topic_name, "partitions": 1, "replicationFactor": 3})
    condition = ready_condition(topics.wait("too-many-replicas"))
    assert (condition["status"], condition["reason"]) == ("False", "InvalidConfig")
    assert "replication factor" in condition["message"].lower()
    assert topics.broker(topic_name) is None
