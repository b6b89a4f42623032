"""A share-group ConsumerApp (KIP-932) end to end: the real Kafka 4.4 broker keeps the share group's
backlog (a real confluent-kafka ShareConsumer in this process does the consuming: the pods are kwok's
and run nothing), the operator reads it with its hand-written requests and scales a 1-partition topic's
consumers past the partition count; a classic ConsumerApp on the same topic stays capped at 1."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import AcknowledgeType, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kubernetes import client
from test_consumerapp import app_status, consumer_app, deployment, make_topic, produce, replicas_become
from test_metrics_scrape import labelled, scrape

from helpers import eventually

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "consumerapps"


def read_from_earliest(admin, group: str) -> None:
    """A share group starts at the log end unless its group config says otherwise."""
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    assert admin.incremental_alter_configs([resource])[resource].result(30) is None


def accept(bootstrap: str, group: str, topic: str, count: int, timeout: float = 90) -> None:
    """What the app's share consumers would do: accept ``count`` records (releasing any others delivered)."""
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                              "share.acknowledgement.mode": "explicit"})
    deadline, accepted = time.monotonic() + timeout, 0
    try:
        consumer.subscribe([topic])
        while accepted < count:
            assert time.monotonic() < deadline, f"only {accepted} of {count} records delivered"
            for message in consumer.poll(1.0):
                assert message.error() is None, message.error()
                if accepted < count:
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                    accepted += 1
                else:
                    consumer.acknowledge(message, AcknowledgeType.RELEASE)
        consumer.commit_sync()
    finally:
        consumer.close()


def test_share_group_scales_past_the_partition_count_on_the_brokers_backlog(api, topics, namespace, kafka,
                                                                            metrics_url):
    topic = make_topic(topics, 1)
    produce(kafka.bootstrap_servers, topic, 1, 3000)
    group = f"jobs-{uuid.uuid4().hex[:6]}"
    read_from_earliest(topics.admin, group)
    accept(kafka.bootstrap_servers, group, topic, 1000)  # the broker now holds a backlog of 2000 for the group
    scaling = {"minReplicas": 1, "maxReplicas": 8, "lagThreshold": 500, "pollIntervalSeconds": 1,
               "scaleDown": {"stabilizationWindowSeconds": 4}}
    consumer_app(api, namespace, "jobs", topic, scaling, groupId=group, groupType="share",
                 autoOffsetReset="earliest")
    consumer_app(api, namespace, "classic", topic, scaling, groupId=f"classic-{group}", autoOffsetReset="earliest")

    # ceil(2000 / 500) = 4 on 1 partition: the broker's lag, not the whole log (3000 would be 6)
    replicas_become(api, namespace, "jobs", 4)
    status = app_status(api, namespace, "jobs")
    assert (status["totalLag"], status["partitions"], status["groupType"], status["groupId"]) == (
        2000, 1, "share", group)
    assert status["groupState"] == "Empty" and status["members"] == 0  # the share consumer has left
    message = next(c for c in status["conditions"] if c["type"] == "Scaling")["message"]
    assert "capped" not in message and "lag 2000 / lagThreshold 500 -> 4" in message
    env = {e.name: e.value for e in deployment(namespace, "jobs").spec.template.spec.containers[0].env}
    assert (env["KAFKA_GROUP_TYPE"], env["KAFKA_GROUP_ID"], env["KAFKA_TOPICS"]) == ("share", group, topic)

    replicas_become(api, namespace, "classic", 1)  # 3000 / 500 -> 6, capped at 1 partition
    classic = app_status(api, namespace, "classic")
    assert classic["groupType"] == "consumer" and classic["totalLag"] == 3000
    assert "capped at 1 partitions" in next(c for c in classic["conditions"] if c["type"] == "Scaling")["message"]
    env = {e.name: e.value for e in deployment(namespace, "classic").spec.template.spec.containers[0].env}
    assert "KAFKA_GROUP_TYPE" not in env

    series = scrape(metrics_url)  # the share group's backlog in the same lag series as a classic group's
    assert list(labelled(series, "kafka_consumergroup_lag", consumergroup=group, topic=topic,
                         partition="0").values()) == [2000]

    with pytest.raises(client.ApiException) as error:
        api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "jobs",
                                           {"spec": {"groupType": "consumer"}})
    assert error.value.status == 422 and "spec.groupType is immutable" in error.value.body

    accept(kafka.bootstrap_servers, group, topic, 2000)  # the backlog worked off
    eventually(lambda: app_status(api, namespace, "jobs").get("totalLag") == 0, timeout=60, what="backlog drained")
    replicas_become(api, namespace, "jobs", 1, timeout=30)  # after the stabilization window
