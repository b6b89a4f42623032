"""The adapter's consumer-group reads against a real broker: offsets, commits, group state."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.topics import TopicCreation

pytestmark = pytest.mark.integration


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, value=b"x%d" % i, partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Retried (bounded, a new consumer each time) while a fresh broker loads or moves its group coordinator:
    librdkafka fails such a commit with NOT_COORDINATOR rather than retrying it."""
    for attempt in range(100):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
            return
        except KafkaException:
            if attempt == 99:
                raise
            time.sleep(0.2)
        finally:
            consumer.close()


def test_log_offsets_commits_and_group_state_in_one_pass(kafka: KafkaCluster):
    topic, group = f"lag-{uuid.uuid4().hex[:6]}", f"group-{uuid.uuid4().hex[:6]}"

    async def create():
        creation = TopicCreation(name=topic, partitions=3, replication_factor=None, config={})
        await KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers}).create_topic(creation)

    asyncio.run(create())
    produce(kafka.bootstrap_servers, topic, {0: 10, 1: 20, 2: 0})
    commit(kafka.bootstrap_servers, group, {(topic, 0): 4, (topic, 1): 20})

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers})
        counts = await admin.partition_counts([topic, "no-such-topic"])
        starts = await admin.log_offsets([(topic, p) for p in range(3)], "earliest")
        ends = await admin.log_offsets([(topic, p) for p in range(3)], "latest")
        logs = {key: (starts[key], ends[key]) for key in ends}
        committed = await admin.committed_offsets([group, "never-committed"])
        states = await admin.describe_groups([group])
        return counts, logs, committed, states

    counts, logs, committed, states = asyncio.run(read())
    assert counts == {topic: 3, "no-such-topic": 0}
    assert logs == {(topic, 0): (0, 10), (topic, 1): (0, 20), (topic, 2): (0, 0)}
    assert committed[group] == {(topic, 0): 4, (topic, 1): 20}
    assert committed["never-committed"] == {}
    assert states[group] == ("Empty", 0)
