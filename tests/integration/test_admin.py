"""The Kafka adapter against a real broker: batching, error isolation, describe/alter."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.topics import ConfigChange, TopicCreation

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_concurrent_creates_coalesce_into_one_request_and_errors_stay_per_topic(kafka: KafkaCluster):
    async def scenario() -> tuple[list[object], list[object]]:
        admin = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers}, linger=0.2)
        good = [TopicCreation(name=unique("batch"), partitions=2, replication_factor=None,
                              config={"retention.ms": "3600000"}) for _ in range(20)]
        bad = TopicCreation(name=unique("batch-bad"), partitions=1, replication_factor=None,
                            config={"no.such.config": "1"})
        sent: list[int] = []
        original = admin._send_create_topics

        async def counting(creations):  # observe the real sender, do not replace it
            sent.append(len(creations))
            return await original(creations)

        admin._create_topics._send = counting
        results = await asyncio.gather(*(admin.create_topic(c) for c in [*good, bad]), return_exceptions=True)
        described = await asyncio.gather(*(admin.describe_topic(c.name) for c in good))
        return [sent, results], described

    (sent, results), described = asyncio.run(scenario())
    assert sent == [21]
    assert all(r is None for r in results[:20])
    assert isinstance(results[20], KafkaRejected) and results[20].reason == "InvalidConfig"
    assert "no.such.config" in results[20].message
    for topic in described:
        assert topic is not None and topic.partitions == 2 and topic.replication_factor == 1
        assert topic.config["retention.ms"] == "3600000" and "retention.ms" in topic.overridden


def test_describe_missing_topic_is_none_and_alter_and_grow_apply(kafka: KafkaCluster):
    async def scenario():
        admin = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers})
        name = unique("alter")
        missing = await admin.describe_topic(name)
        await admin.create_topic(TopicCreation(name=name, partitions=1, replication_factor=None,
                                                 config={"retention.ms": "1000000"}))
        await admin.alter_config(ConfigChange(name, {"cleanup.policy": "compact"}, ["retention.ms"]))
        await admin.create_partitions(name, 4)
        after = await admin.describe_topic(name)
        await admin.delete_topic(name)
        await admin.delete_topic(name)  # already gone: still fine
        return missing, after

    missing, after = asyncio.run(scenario())
    assert missing is None
    assert after.partitions == 4
    assert after.config["cleanup.policy"] == "compact"
    assert "retention.ms" not in after.overridden and after.config["retention.ms"] == "604800000"


def test_unreachable_cluster_reports_unavailable():
    async def scenario():
        admin = KafkaAdmin({"bootstrap.servers": "127.0.0.1:1"}, request_timeout=2)
        return await admin.describe_topic("anything")

    with pytest.raises(KafkaUnavailable):
        asyncio.run(scenario())
