"""Replication-factor changes on a real three-broker KRaft cluster: the reconciler plans a
reassignment, kafka-python's admin client starts it, and the next reconciles wait until Kafka has
moved the replicas (the same path the kopf handler takes, which retries while Reassigning)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from helpers import eventually
from kafkaops.harness.kafka import KafkaCluster, start_kafka
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.topics.reconcile import TopicOutcome, reconcile_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def three_brokers() -> Iterator[KafkaCluster]:
    with start_kafka(3) as cluster:
        yield cluster


def replicas(bootstrap: str, topic: str) -> list[list[int]]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic, timeout=10).topics[topic]
    return [list(metadata.partitions[p].replicas) for p in sorted(metadata.partitions)]


def listed(bootstrap: str, topic: str, partitions: int) -> list[list[int]]:
    """The replicas once every partition is in the metadata: create_topics returns when the controller
    has committed the topic, and a broker of a fresh cluster may list it a moment later (seen in CI)."""

    def complete() -> list[list[int]] | None:
        found = replicas(bootstrap, topic)
        return found if len(found) == partitions else None

    return eventually(complete, timeout=30, what=f"topic {topic} listed with {partitions} partitions")


def reconcile_until_settled(bootstrap: str, name: str, spec: dict, timeout: float = 90) -> list[TopicOutcome]:
    """Reconcile as kopf would: again while the outcome is transient (Reassigning)."""

    async def run() -> list[TopicOutcome]:
        admin = KafkaAdmin({"bootstrap.servers": bootstrap})
        outcomes = [await reconcile_topic(admin, name, spec)]
        deadline = time.monotonic() + timeout
        while outcomes[-1].transient and time.monotonic() < deadline:
            await asyncio.sleep(1)
            outcomes.append(await reconcile_topic(admin, name, spec))
        return outcomes

    return asyncio.run(run())


def test_replication_factor_grows_and_shrinks_by_reassignment(three_brokers: KafkaCluster):
    bootstrap, topic = three_brokers.bootstrap_servers, f"replicated_{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    before = listed(bootstrap, topic, 3)

    outcomes = reconcile_until_settled(bootstrap, topic, {"partitions": 3, "replicationFactor": 3})
    assert outcomes[0].reason == "Reassigning" and outcomes[0].changed
    assert "replication factor 1 -> 3" in outcomes[0].message
    assert outcomes[-1].ready, [o.reason for o in outcomes]
    after = replicas(bootstrap, topic)
    assert all(sorted(r) == [1, 2, 3] for r in after)
    assert [r[0] for r in after] == [r[0] for r in before]  # every partition kept its preferred leader

    outcomes = reconcile_until_settled(bootstrap, topic, {"partitions": 3, "replicationFactor": 2})
    assert outcomes[0].reason == "Reassigning" and outcomes[-1].ready, [o.reason for o in outcomes]
    assert [r[:2] for r in after] == replicas(bootstrap, topic)  # the last replica of each went


def test_replication_factor_above_the_broker_count_changes_nothing(three_brokers: KafkaCluster):
    bootstrap, topic = three_brokers.bootstrap_servers, f"replicated_{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a dropped client cancels its futures
    admin.create_topics([NewTopic(topic, 2, 2)])[topic].result(30)
    before = listed(bootstrap, topic, 2)
    (outcome,) = reconcile_until_settled(bootstrap, topic, {"partitions": 2, "replicationFactor": 4})
    assert (outcome.ready, outcome.reason) == (False, "InvalidConfig") and "3 broker(s)" in outcome.message
    assert replicas(bootstrap, topic) == before
