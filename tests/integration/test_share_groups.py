"""The adapter's share-group reads (ListGroups and the hand-written ShareGroupDescribe and DescribeShareGroupOffsets)
against the real Kafka 4.4 broker, with a real share consumer (confluent-kafka's ShareConsumer)
acknowledging some records and releasing others."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import AcknowledgeType, ShareConsumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from kafka_clients import produce
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.groups import NOT_FOUND, GroupStatus, SharePartitionOffsets
from kafkaops.types.topics import TopicCreation

pytestmark = pytest.mark.integration

PRODUCED = {0: 50, 1: 30}
ACCEPTED = 10  # fewer than any partition holds: whichever it came from keeps a backlog


def read_from_earliest(bootstrap: str, group: str) -> None:
    """A share group starts at the log end unless its group config says otherwise (a share consumer
    cannot choose): share.auto.offset.reset=earliest, set like kafka-configs.sh --entity-type groups."""
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer is in
    assert admin.incremental_alter_configs([resource])[resource].result(30) is None


def accept_some(consumer: ShareConsumer, accepted: int, deadline: float) -> Counter[int]:
    """Accept ``accepted`` records, release every other record delivered with them; the count
    accepted per partition."""
    done: Counter[int] = Counter()
    while sum(done.values()) < accepted:
        assert time.monotonic() < deadline, f"only {sum(done.values())} records delivered"
        for message in consumer.poll(1.0):
            assert message.error() is None, message.error()
            if sum(done.values()) < accepted:
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                done[message.partition()] += 1
            else:
                consumer.acknowledge(message, AcknowledgeType.RELEASE)
    consumer.commit_sync()
    return done


def answered(read, timeout: float = 60.0):
    """The first answer: on a fresh broker the group coordinator is not available until
    __consumer_offsets exists (the adapter says KafkaUnavailable, and the operator retries next cycle)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return asyncio.run(read())
        except KafkaUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wait_for(read, expected, timeout: float = 30.0):
    """The broker writes share-partition state asynchronously (share coordinator): ask until it agrees."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = answered(read)
        if seen == expected:
            return seen
        time.sleep(0.5)
    return seen


def test_share_group_state_members_and_backlog_as_the_broker_keeps_them(kafka: KafkaCluster):
    bootstrap = kafka.bootstrap_servers
    topic, group = f"queue-{uuid.uuid4().hex[:6]}", f"share-{uuid.uuid4().hex[:6]}"

    async def create():
        creation = TopicCreation(name=topic, partitions=2, replication_factor=None, config={})
        await KafkaAdmin({"bootstrap.servers": bootstrap}).create_topic(creation)

    asyncio.run(create())
    produce(bootstrap, topic, PRODUCED)
    read_from_earliest(bootstrap, group)

    async def read():
        admin = KafkaAdmin({"bootstrap.servers": bootstrap})
        try:
            states = await admin.describe_groups([group, "no-such-share-group"])
            offsets = await admin.share_group_offsets({group: {topic: 2}, "no-such-share-group": {topic: 2}})
            return states, offsets
        finally:
            admin.close()

    states, offsets = answered(read)
    assert states == {group: NOT_FOUND, "no-such-share-group": NOT_FOUND}  # not known to the broker yet
    assert offsets == {group: {}, "no-such-share-group": {}}

    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                              "share.acknowledgement.mode": "explicit"})
    try:
        consumer.subscribe([topic])
        accepted = accept_some(consumer, ACCEPTED, time.monotonic() + 60)
        # What the broker must say now: every record not accepted is backlog (released ones are
        # available again); a partition the group has not fetched from has no state (left out).
        expected_lag = {(topic, p): PRODUCED[p] - accepted[p] for p in PRODUCED if accepted[p]}
        assert all(expected_lag.values())

        async def lags():
            states, offsets = await read()
            return states[group], {key: value.lag for key, value in offsets[group].items() if key in expected_lag}

        state, lag = wait_for(lags, (GroupStatus("share", "Stable", 1), expected_lag))
        assert (state, lag) == (GroupStatus("share", "Stable", 1), expected_lag)
        assert sum(accepted.values()) == ACCEPTED
        _, offsets = answered(read)
        for (_, partition), value in offsets[group].items():
            assert isinstance(value, SharePartitionOffsets)
            assert value.lag == PRODUCED[partition] - accepted[partition]
            # the share-partition start offset: the oldest record not accepted, never past the log end
            assert 0 <= value.start_offset <= PRODUCED[partition]
    finally:
        consumer.close()

    async def after_close():
        return (await read())[0][group]

    assert wait_for(after_close, GroupStatus("share", "Empty", 0)) == GroupStatus("share", "Empty", 0)


def test_set_group_config_writes_the_share_groups_config_and_keeps_its_other_keys(kafka: KafkaCluster):
    """What the operator does for a share app: share.auto.offset.reset on the GROUP resource, as
    kafka-configs.sh --entity-type groups would; a value the broker does not accept is refused."""
    group = f"configured-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    lock = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.record.lock.duration.ms", "20000", incremental_operation=AlterConfigOpType.SET)])
    assert admin.incremental_alter_configs([lock])[lock].result(30) is None  # set by someone else

    def configured() -> dict[str, str]:
        resource = ConfigResource(ResourceType.GROUP, group)
        entries = admin.describe_configs([resource])[resource].result(30)
        return {key: entries[key].value for key in ("share.auto.offset.reset", "share.record.lock.duration.ms")}

    async def scenario() -> list[dict[str, str]]:
        reader = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers})
        try:
            seen = []
            for value in ("earliest", "latest"):
                await reader.set_group_config(group, {"share.auto.offset.reset": value})
                seen.append(configured())
            with pytest.raises(KafkaRejected) as refused:
                await reader.set_group_config(group, {"share.auto.offset.reset": "sometime"})
            assert "share.auto.offset.reset" in str(refused.value)
            return seen
        finally:
            reader.close()

    assert asyncio.run(scenario()) == [
        {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "20000"},
        {"share.auto.offset.reset": "latest", "share.record.lock.duration.ms": "20000"}]
