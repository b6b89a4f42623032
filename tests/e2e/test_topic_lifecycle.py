"""KafkaTopic after creation: growth, config ownership, drift, adoption, refusals, admission."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType
from kubernetes.client import ApiException

from helpers import eventually, ready_condition

pytestmark = pytest.mark.e2e


def alter_by_hand(topics, topic, key, value):
    """What someone with kafka-configs.sh would do behind the operator's back."""
    op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[ConfigEntry(key, value,
                                                                                          incremental_operation=op)])
    topics.admin.incremental_alter_configs([resource])[resource].result(10)


def test_partitions_grow(topics, topic_name):
    topics.create("grow", {"topicName": topic_name, "partitions": 2})
    topics.wait("grow", "Created")
    topics.patch("grow", {"spec": {"partitions": 5}})
    obj = topics.wait("grow", "Updated")
    assert obj["status"]["partitions"] == 5
    assert "partitions 2 -> 5" in ready_condition(obj)["message"]
    assert topics.broker(topic_name)[0] == 5


@pytest.mark.parametrize(("change", "fragment"), [
    ({"partitions": 1}, "cannot decrease"),
    ({"topicName": "another_name"}, "immutable"),
    ({"deletionPolicy": "Orphan"}, "Unsupported value"),
    ({"partitions": 0}, "should be greater than or equal to 1"),
])
def test_admission_refuses_bad_updates_and_nothing_changes(topics, topic_name, change, fragment):
    topics.create("guarded", {"topicName": topic_name, "partitions": 3})
    topics.wait("guarded", "Created")
    with pytest.raises(ApiException) as error:
        topics.patch("guarded", {"spec": change})
    assert error.value.status == 422
    assert fragment in error.value.body
    assert topics.get("guarded")["spec"]["partitions"] == 3
    assert topics.broker(topic_name)[0] == 3


@pytest.mark.parametrize(("name", "spec", "fragment"), [
    ("dots", {"topicName": "..", "partitions": 1}, "not valid Kafka topic names"),
    ("dot", {"topicName": ".", "partitions": 1}, "not valid Kafka topic names"),
    ("space", {"topicName": "has space", "partitions": 1}, "should match"),
    ("long", {"topicName": "x" * 250, "partitions": 1}, "may not be more than 249"),
    ("slash", {"topicName": "a/b", "partitions": 1}, "should match"),
    ("no-partitions", {"topicName": "fine"}, "spec.partitions: Required value"),
    ("bool-config", {"topicName": "fine", "partitions": 1, "config": {"x": True}}, "spec.config.x"),
    ("negative-rf", {"topicName": "fine", "partitions": 1, "replicationFactor": 0}, "replicationFactor"),
])
def test_admission_refuses_names_and_values_kafka_cannot_take(topics, name, spec, fragment):
    with pytest.raises(ApiException) as error:
        topics.create(name, spec)
    assert error.value.status == 422
    assert fragment in error.value.body


def test_long_metadata_name_needs_a_topic_name(topics):
    with pytest.raises(ApiException) as error:
        topics.create("a" * 250, {"partitions": 1})
    assert error.value.status == 422 and "set spec.topicName" in error.value.body


def test_config_keys_are_owned_reset_when_removed_and_drift_is_corrected(topics, topic_name):
    topics.create("cfg", {"topicName": topic_name, "partitions": 1,
                          "config": {"retention.ms": "3600000", "segment.ms": "7200000"}})
    topics.wait("cfg", "Created")
    alter_by_hand(topics, topic_name, "max.message.bytes", "2000000")  # not ours: must survive

    topics.patch("cfg", {"spec": {"config": {"segment.ms": None, "retention.ms": "7200000"}}})
    obj = topics.wait("cfg", "Updated")
    assert obj["status"]["managedConfigKeys"] == ["retention.ms"]
    config = topics.broker(topic_name)[2]
    assert config["retention.ms"] == "7200000"
    assert config["segment.ms"] == "604800000"  # back to the broker default
    assert config["max.message.bytes"] == "2000000"

    alter_by_hand(topics, topic_name, "retention.ms", "1000")  # drift
    eventually(lambda: topics.broker(topic_name)[2]["retention.ms"] == "7200000", timeout=30,
               what="drift corrected")
    assert topics.broker(topic_name)[2]["max.message.bytes"] == "2000000"


def test_no_status_writes_when_nothing_changed(topics, topic_name):
    topics.create("quiet", {"topicName": topic_name, "partitions": 1, "config": {"cleanup.policy": "compact,delete"}})
    first = topics.wait("quiet", "Created")
    # Let several drift checks (every 2 s) pass: the normalised config matches, nothing is written.
    import time

    time.sleep(7)
    later = topics.get("quiet")
    assert later["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert [(t, r) for t, r, _ in topics.events("quiet")] == [("Normal", "Created")]


def test_existing_topic_is_adopted_with_differences_reported_then_corrected(topics, topic_name):
    topics.admin.create_topics([NewTopic(topic_name, 2, 1, config={"retention.ms": "1000"})])[topic_name].result(10)
    topics.create("adopt", {"topicName": topic_name, "partitions": 4, "config": {"retention.ms": "86400000"}})
    obj = topics.wait("adopt", "Adopted")
    message = ready_condition(obj)["message"]
    assert "partitions 2 -> 4" in message and "retention.ms: '1000' -> '86400000'" in message
    partitions, _, config = topics.broker(topic_name)
    assert partitions == 4 and config["retention.ms"] == "86400000"
    assert obj["status"]["topicId"]


def test_partition_decrease_on_the_broker_side_is_refused_by_the_controller(topics, topic_name):
    """The CEL rule guards the spec; the controller still refuses a spec below the topic's count
    (e.g. the topic was grown by hand, then adopted)."""
    topics.admin.create_topics([NewTopic(topic_name, 6, 1)])[topic_name].result(10)
    topics.create("shrink", {"topicName": topic_name, "partitions": 3, "config": {"retention.ms": "5000"}})
    condition = ready_condition(topics.wait("shrink", "PartitionDecreaseRefused"))
    assert condition["status"] == "False" and "6 partitions" in condition["message"]
    partitions, _, config = topics.broker(topic_name)
    assert partitions == 6 and config["retention.ms"] != "5000"  # nothing half-applied


def test_replication_factor_above_the_broker_count_is_refused_and_nothing_changes(topics, topic_name):
    topics.create("rf", {"topicName": topic_name, "partitions": 1, "replicationFactor": 1})
    topics.wait("rf", "Created")
    topics.patch("rf", {"spec": {"replicationFactor": 2}})
    condition = ready_condition(topics.wait("rf", "InvalidConfig"))
    assert condition["status"] == "False" and "1 broker(s)" in condition["message"]
    assert topics.broker(topic_name)[1] == 1
