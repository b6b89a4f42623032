"""The adapter's consumer-group reads against a real broker: offsets, commits, group state."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import ExitStack

import pytest
from confluent_kafka import TopicPartition

from helpers import eventually
from kafka_clients import PROTOCOLS, commit_offsets, members, produce
from kafkaops.consumers.collector import AppQuery, LagCollector
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.errors import KafkaUnavailable
from kafkaops.types.groups import GroupStatus
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
    assert states[group] == GroupStatus("classic", "Empty", 0)


def test_every_protocol_reports_its_state_and_members_in_one_collection(kafka: KafkaCluster):
    """A live member on each protocol (classic, KIP-848 consumer, share), an empty group with committed
    offsets and a group that does not exist, read in one collection cycle of the real collector."""
    bootstrap = kafka.bootstrap_servers
    topic, run = f"mixed-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    groups = {protocol: f"{protocol}-{run}" for protocol in PROTOCOLS}
    empty, missing = f"empty-{run}", f"missing-{run}"

    async def create():
        creation = TopicCreation(name=topic, partitions=3, replication_factor=None, config={})
        await KafkaAdmin({"bootstrap.servers": bootstrap}).create_topic(creation)

    asyncio.run(create())
    produce(bootstrap, topic, {0: 10, 1: 10, 2: 10})
    commit_offsets({"bootstrap.servers": bootstrap}, empty, [TopicPartition(topic, 0, 4)])
    apps = [AppQuery(key=("ns", group), group=group, topics=(topic,), reset="earliest", stale_after_seconds=300,
                     group_type="share" if group == groups["share"] else "consumer")
            for group in [*groups.values(), empty, missing]]

    def collected():
        async def cycle():
            admin = KafkaAdmin({"bootstrap.servers": bootstrap})
            try:
                reports = await LagCollector().collect(admin, apps)
            finally:
                admin.close()
            return {key[1]: (r.protocol, r.state, r.members) for key, r in reports.items()}
        try:
            return asyncio.run(cycle())
        except KafkaUnavailable:  # a coordinator still loading on a fresh broker: the next cycle asks again
            return None

    with ExitStack() as stack:
        for protocol, group in groups.items():
            stack.enter_context(members(bootstrap, protocol, group, [topic]))
        want = {groups["classic"]: ("classic", "Stable", 1), groups["consumer"]: ("consumer", "Stable", 1),
                groups["share"]: ("share", "Stable", 1), empty: ("classic", "Empty", 0),
                missing: (None, "NotFound", 0)}
        seen = eventually(lambda: (states := collected()) == want and states, timeout=90, interval=0.5,
                          what="every protocol's member in one collection")
    assert seen == want
    # once the members have left, each group is Empty in its own protocol, not Dead and not gone
    eventually(lambda: collected() == {**want, **{group: (protocol, "Empty", 0) for protocol, group in groups.items()}},
               timeout=90, interval=0.5, what="the groups empty after their members left")
