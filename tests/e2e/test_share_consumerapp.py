"""A share-group ConsumerApp (KIP-932) end to end: the real Kafka 4.4 broker keeps the share group's
backlog (real confluent-kafka ShareConsumers do the consuming, in this process or as subprocesses running
the example consumer program: the pods are kwok's and run nothing), the operator reads it with its
hand-written requests and scales past the partition count; a classic ConsumerApp on the same topic stays
capped at the partition count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
EXAMPLE_CONSUMER = [sys.executable, "-m", "kafkaops", "example-consumer"]


def read_from_earliest(admin, group: str) -> None:
    """A share group starts at the log end unless its group config says otherwise."""
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    assert admin.incremental_alter_configs([resource])[resource].result(30) is None


def group_config(admin, group: str) -> dict[str, str]:
    resource = ConfigResource(ResourceType.GROUP, group)
    return {key: entry.value for key, entry in admin.describe_configs([resource])[resource].result(30).items()}


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

    series = scrape(metrics_url)  # the share group's backlog in the share family, never in kafka_consumergroup_lag
    assert list(labelled(series, "kafkaops_sharegroup_lag", sharegroup=group, topic=topic,
                         partition="0").values()) == [2000]
    assert not labelled(series, "kafka_consumergroup_lag", consumergroup=group)

    with pytest.raises(client.ApiException) as error:
        api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "jobs",
                                           {"spec": {"groupType": "consumer"}})
    assert error.value.status == 422 and "spec.groupType is immutable" in error.value.body

    accept(kafka.bootstrap_servers, group, topic, 2000)  # the backlog worked off
    eventually(lambda: app_status(api, namespace, "jobs").get("totalLag") == 0, timeout=60, what="backlog drained")
    replicas_become(api, namespace, "jobs", 1, timeout=30)  # after the stabilization window


def start_share_consumers(env: dict[str, str], count: int) -> list[subprocess.Popen[str]]:
    """``count`` instances of the example consumer program, each with the environment the operator gave
    the app's containers: what the Deployment's replicas would run if kwok's pods ran anything."""
    return [subprocess.Popen(EXAMPLE_CONSUMER, env={**os.environ, **env}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(count)]


def stop(consumers: list[subprocess.Popen[str]]) -> list[int]:
    """SIGTERM each (the program finishes its batch and leaves the group); records each acknowledged."""
    for process in consumers:
        process.send_signal(signal.SIGTERM)
    counts = []
    for process in consumers:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        (line,) = [line for line in out.splitlines() if line.startswith("processed ")]
        counts.append(int(line.split()[1]))
    return counts


def test_a_backlog_of_20000_on_2_partitions_scales_a_share_app_to_8_and_8_consumers_work_it_off(
        api, topics, namespace, kafka, metrics_url):
    """The issue's numbers: lagThreshold 2,000 and maxReplicas 8 on a 2-partition topic's backlog of 20,000
    scale a share app to 8 (ceil(20000 / 2000) = 10, clamped to 8) while a classic app stays at 2; then 8
    example share consumers work the backlog off and the app scales back to minReplicas. The figures (time
    to 8 replicas, records acknowledged per consumer) are printed, not asserted: timing depends on the machine."""
    topic = make_topic(topics, 2)
    group = f"queue-{uuid.uuid4().hex[:6]}"
    scaling = {"minReplicas": 1, "maxReplicas": 8, "lagThreshold": 2000, "pollIntervalSeconds": 1,
               "scaleDown": {"stabilizationWindowSeconds": 5}}
    consumer_app(api, namespace, "queue", topic, scaling, groupId=group, groupType="share",
                 autoOffsetReset="earliest")
    consumer_app(api, namespace, "classic", topic, scaling, groupId=f"classic-{group}", autoOffsetReset="earliest")
    # autoOffsetReset: earliest means what it says: the operator sets the share group's config (no test does)
    eventually(lambda: group_config(topics.admin, group).get("share.auto.offset.reset") == "earliest", timeout=60,
               what="share.auto.offset.reset=earliest on the group")
    eventually(lambda: app_status(api, namespace, "queue").get("shareGroupConfig") == {
        "share.auto.offset.reset": "earliest"}, timeout=30, what="the written group config in the status")
    assert "shareGroupConfig" not in app_status(api, namespace, "classic")
    for name in ("queue", "classic"):  # idle on the empty topic first
        eventually(lambda name=name: app_status(api, namespace, name).get("totalLag") == 0, timeout=60,
                   what=f"{name} lag collected")
        replicas_become(api, namespace, name, 1)

    produce(kafka.bootstrap_servers, topic, 2, 10_000)
    backlog_at = time.monotonic()
    replicas_become(api, namespace, "queue", 8, timeout=60)
    to_eight = time.monotonic() - backlog_at
    status = app_status(api, namespace, "queue")
    assert (status["totalLag"], status["partitions"], status["groupType"]) == (20000, 2, "share")
    assert "lag 20000 / lagThreshold 2000 -> 10" in next(
        c for c in status["conditions"] if c["type"] == "Scaling")["message"]
    replicas_become(api, namespace, "classic", 2)  # 20000 / 2000 -> 10, capped at 2 partitions
    assert "capped at 2 partitions" in next(
        c for c in app_status(api, namespace, "classic")["conditions"] if c["type"] == "Scaling")["message"]
    series = scrape(metrics_url)
    assert {dict(k)["partition"]: v for k, v in labelled(series, "kafkaops_sharegroup_lag", sharegroup=group).items()
            } == {"0": 10000, "1": 10000}
    assert list(labelled(series, "kafkaops_sharegroup_lag_sum", sharegroup=group, topic=topic).values()) == [20000]
    assert list(labelled(series, "kafka_consumergroup_lag_sum", consumergroup=f"classic-{group}").values()) == [20000]
    assert not labelled(series, "kafka_consumergroup_lag_sum", consumergroup=group)

    env = {e.name: e.value for e in deployment(namespace, "queue").spec.template.spec.containers[0].env
           if e.name.startswith("KAFKA_")}
    assert env["KAFKA_GROUP_TYPE"] == "share"
    # 5 ms of work per record: 100 s for one consumer alone, so all 8 join while there is work to share.
    consumers = start_share_consumers({**env, "PROCESSING_DELAY_MS": "5"}, 8)
    try:
        eventually(lambda: app_status(api, namespace, "queue").get("members") == 8, timeout=90,
                   what="8 share consumers in the group")
        assert app_status(api, namespace, "queue")["groupState"] == "Stable"
        eventually(lambda: app_status(api, namespace, "queue").get("totalLag") == 0, timeout=300,
                   what="backlog worked off")
        drained = time.monotonic() - backlog_at
    finally:
        counts = stop(consumers)
    print(f"\nshare app: backlog of 20000 on 2 partitions -> 8 replicas in {to_eight:.1f} s; backlog worked off "
          f"{drained:.1f} s after it was produced; records acknowledged per consumer: {counts} "
          f"(total {sum(counts)})")
    # every record acknowledged, from the start of the log (a record whose lock expired may come twice)
    assert sum(counts) >= 20000
    assert sum(1 for count in counts if count) > 2  # more consumers than partitions did work
    replicas_become(api, namespace, "queue", 1, timeout=60)  # after the stabilization window
    assert app_status(api, namespace, "classic")["desiredReplicas"] == 2  # its backlog is untouched
