"""The adapter's consumer-group reads against a real broker: offsets, commits, group state."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import TopicPartition

from kafka_clients import commit_offsets, produce
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.topics import TopicCreation

pytestmark = pytest.mark.integration


def test_log_offsets_commits_and_group_state_in_one_pass(kafka: KafkaCluster):
    topic, group = f"lag-{uuid.uuid4().hex[:6]}", f"group-{uuid.uuid4().hex[:6]}"

    async def create():
        creation = TopicCreation(name=topic, partitions=3, replication_factor=None, config={})
        await KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers}).create_topic(creation)

    asyncio.run(create())
    produce(kafka.bootstrap_servers, topic, {0: 10, 1: 20, 2: 0})
    commit_offsets({"bootstrap.servers": kafka.bootstrap_servers}, group,
                   [TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 20)])

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
