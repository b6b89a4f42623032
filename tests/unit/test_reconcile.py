"""The reconciler's decisions, driven by an in-memory topic table (the Kafka adapter's contract,
not a mock of Kafka's wire protocol: the real adapter is covered by the integration tests)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from kafkaops.topics.reconcile import reconcile_topic
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.topics import ObservedTopic

pytestmark = pytest.mark.unit


class TopicTable:
    def __init__(self, topics=None, fail=None):
        self.topics = dict(topics or {})
        self.fail = fail
        self.writes = []

    async def describe_topic(self, name, *, with_config=True):
        if isinstance(self.fail, KafkaUnavailable):
            raise self.fail
        return self.topics.get(name)

    async def create_topic(self, creation):
        if self.fail:
            raise self.fail
        self.writes.append(("create", creation.name))
        self.topics[creation.name] = ObservedTopic(
            name=creation.name, partitions=creation.partitions, replication_factor=creation.replication_factor or 1,
            config=dict(creation.config), overridden=frozenset(creation.config), topic_id="id-1")

    async def create_partitions(self, name, total):
        self.writes.append(("partitions", name, total))
        t = self.topics[name]
        self.topics[name] = replace(t, partitions=total)

    async def alter_config(self, change):
        self.writes.append(("config", change.name, dict(change.set), tuple(change.reset)))


def run(admin, spec, **kw):
    return asyncio.run(reconcile_topic(admin, "meta-name", spec, **kw))


def test_create_reports_created_with_the_observed_topic():
    table = TopicTable()
    outcome = run(table, {"partitions": 2, "config": {"retention.ms": 5}})
    assert (outcome.ready, outcome.reason, outcome.changed) == (True, "Created", True)
    assert outcome.topic == "meta-name" and outcome.observed.partitions == 2
    assert outcome.owned_keys == ("retention.ms",)


def test_nothing_to_do_writes_nothing():
    table = TopicTable({"t": ObservedTopic(name="t", partitions=1, replication_factor=1, config={"retention.ms": "5"},
                                         overridden=frozenset({"retention.ms"}))})
    outcome = run(table, {"topicName": "t", "partitions": 1, "config": {"retention.ms": "5"}})
    assert (outcome.ready, outcome.reason, outcome.changed) == (True, "InSync", False)
    assert table.writes == []


def test_adoption_reports_the_differences_and_applies_them():
    table = TopicTable({"t": ObservedTopic(name="t", partitions=1, replication_factor=1, config={"retention.ms": "5"})})
    outcome = run(table, {"topicName": "t", "partitions": 3}, adopting=True)
    assert outcome.reason == "Adopted" and "partitions 1 -> 3" in outcome.message
    assert table.writes == [("partitions", "t", 3)]


def test_invalid_spec_never_reaches_kafka():
    table = TopicTable()
    outcome = run(table, {"partitions": -1})
    assert (outcome.ready, outcome.reason) == (False, "InvalidSpec")
    assert "spec.partitions" in outcome.message and table.writes == []


def test_unavailable_kafka_is_transient():
    outcome = run(TopicTable(fail=KafkaUnavailable("down")), {"partitions": 1})
    assert (outcome.ready, outcome.reason, outcome.transient) == (False, "BrokerUnavailable", True)


def test_broker_rejection_is_reported_with_its_reason_and_not_retried():
    outcome = run(TopicTable(fail=KafkaRejected("PolicyViolation", "no topics on Fridays")), {"partitions": 1})
    assert (outcome.ready, outcome.reason, outcome.transient) == (False, "PolicyViolation", False)
    assert "no topics on Fridays" in outcome.message


def test_a_create_race_is_retried():
    outcome = run(TopicTable(fail=KafkaRejected("TopicAlreadyExists", "exists")), {"partitions": 1})
    assert outcome.transient and outcome.reason == "Conflict"


def observed(partitions, config):
    return ObservedTopic(name="t", partitions=partitions, replication_factor=1, config=config,
                         overridden=frozenset(config))


@pytest.mark.parametrize(("existing", "spec", "adopting", "events"), [
    (None, {"partitions": 2}, False, ["Created"]),
    (observed(2, {}), {"topicName": "t", "partitions": 2}, True, ["Adopted"]),
    (observed(2, {}), {"topicName": "t", "partitions": 4}, True, ["Adopted"]),
    (observed(2, {}), {"topicName": "t", "partitions": 4}, False, ["PartitionsIncreased"]),
    (observed(2, {"retention.ms": "5"}), {"topicName": "t", "partitions": 2, "config": {"retention.ms": 6}}, False,
     ["ConfigChanged"]),
    (observed(2, {"retention.ms": "5"}), {"topicName": "t", "partitions": 3, "config": {"retention.ms": 6}}, False,
     ["PartitionsIncreased", "ConfigChanged"]),
    (observed(2, {"retention.ms": "5"}), {"topicName": "t", "partitions": 2, "config": {"retention.ms": 5}}, False,
     []),
], ids=["create", "adopt", "adopt-and-correct", "grow", "config", "grow-and-config", "re-check"])
def test_each_kind_of_change_is_announced_once_and_a_re_check_is_not(existing, spec, adopting, events):
    table = TopicTable({"t": existing} if existing else {})
    outcome = run(table, spec, adopting=adopting)
    assert [reason for reason, _ in outcome.announcements] == events


def test_an_update_event_lists_only_its_own_kind_of_change():
    table = TopicTable({"t": observed(2, {"retention.ms": "5"})})
    outcome = run(table, {"topicName": "t", "partitions": 3, "config": {"retention.ms": 6}})
    assert dict(outcome.announcements) == {"PartitionsIncreased": "topic 't': partitions 2 -> 3",
                                           "ConfigChanged": "topic 't': config retention.ms: '5' -> '6'"}
