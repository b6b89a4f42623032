"""Log offsets and committed offsets through the adapter's own ListOffsets / OffsetFetch requests
(``kafka.offsets``) against a real broker: records, a moved log start, unknown topics and
partitions, a topic deleted after its leaders were cached, and a broker that is not there."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_clients import commit_offsets, produce
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.procs import free_port
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.errors import KafkaUnavailable, TopicMissing

pytestmark = pytest.mark.integration


def create(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a dropped client cancels its futures
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(60)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_log_ends_and_starts_of_partitions_with_and_without_records(kafka: KafkaCluster):
    bootstrap = kafka.bootstrap_servers
    topic, other = name("offsets"), name("offsets")
    create(bootstrap, topic, 3)
    create(bootstrap, other, 2)
    produce(bootstrap, topic, {0: 7, 2: 3})
    produce(bootstrap, other, {1: 4})
    # The log start of partition 0 moves to 5 (records deleted, as retention would).
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, 5)]).values():
        future.result(30)
    keys = [(topic, 0), (topic, 1), (topic, 2), (other, 0), (other, 1)]

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": bootstrap})
        try:
            ends = await admin.log_offsets(keys, "latest")
            starts = await admin.log_offsets(keys, "earliest")
            again = await admin.log_offsets(keys, "latest")  # from the cached leaders
            return ends, starts, again, await admin.log_offsets([], "latest")
        finally:
            admin.close()

    ends, starts, again, empty = asyncio.run(read())
    assert ends == {(topic, 0): 7, (topic, 1): 0, (topic, 2): 3, (other, 0): 0, (other, 1): 4}
    assert starts == {(topic, 0): 5, (topic, 1): 0, (topic, 2): 0, (other, 0): 0, (other, 1): 0}
    assert again == ends
    assert empty == {}


@pytest.mark.parametrize("missing", [
    pytest.param(lambda topic: ("no-such-topic-" + uuid.uuid4().hex[:6], 0), id="topic that does not exist"),
    pytest.param(lambda topic: (topic, 5), id="partition beyond the topic's count"),
])
def test_unknown_topic_or_partition_is_topic_missing(kafka: KafkaCluster, missing):
    topic = name("offsets")
    create(kafka.bootstrap_servers, topic, 2)

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers})
        try:
            await admin.log_offsets([(topic, 0), missing(topic)], "latest")
        finally:
            admin.close()

    with pytest.raises(TopicMissing):
        asyncio.run(read())


def test_a_topic_deleted_after_its_leaders_were_cached_is_topic_missing(kafka: KafkaCluster):
    bootstrap = kafka.bootstrap_servers
    topic = name("offsets")
    create(bootstrap, topic, 2)
    produce(bootstrap, topic, {1: 2})

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": bootstrap})
        try:
            before = await admin.log_offsets([(topic, 0), (topic, 1)], "latest")
            await admin.delete_topic(topic)
            for _ in range(100):  # bounded: the broker deletes in the background
                if (await admin.partition_counts([topic]))[topic] == 0:
                    break
                await asyncio.sleep(0.1)
            try:
                await admin.log_offsets([(topic, 0), (topic, 1)], "latest")
            except TopicMissing as error:
                return before, error
            return before, None
        finally:
            admin.close()

    before, error = asyncio.run(read())
    assert before == {(topic, 0): 0, (topic, 1): 2}
    assert isinstance(error, TopicMissing)


def test_committed_offsets_of_many_groups_in_one_fetch(kafka: KafkaCluster):
    bootstrap = kafka.bootstrap_servers
    topic = name("offsets")
    create(bootstrap, topic, 3)
    produce(bootstrap, topic, {0: 10, 1: 10, 2: 10})
    groups = [name("group") for _ in range(3)]
    for i, group in enumerate(groups[:2]):
        commit_offsets({"bootstrap.servers": bootstrap}, group,
                       [TopicPartition(topic, p, 2 + i + p) for p in range(3 - i)])

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": bootstrap})
        try:
            return await admin.committed_offsets(groups)
        finally:
            admin.close()

    committed = asyncio.run(read())
    assert committed == {groups[0]: {(topic, 0): 2, (topic, 1): 3, (topic, 2): 4},
                         groups[1]: {(topic, 0): 3, (topic, 1): 4},
                         groups[2]: {}}


def test_a_broker_that_is_not_there_is_unavailable():
    async def read():
        admin = KafkaAdmin({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, request_timeout=2.0)
        try:
            await admin.log_offsets([("orders", 0)], "latest")
        finally:
            admin.close()

    with pytest.raises(KafkaUnavailable):
        asyncio.run(read())
