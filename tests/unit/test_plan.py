"""The pure planner: desired spec vs observed topic -> actions (table-driven)."""

from __future__ import annotations

import pytest

from kafkaops.topics.plan import (
    ObservedTopic,
    config_equal,
    normalise_config_value,
    plan_topic,
    replica_assignment,
)
from kafkaops.topics.spec import TopicSpec

pytestmark = pytest.mark.unit


def spec(**kw) -> TopicSpec:
    return TopicSpec.model_validate({"partitions": 3, **kw})


def observed(partitions=3, rf=1, config=None, overridden=()) -> ObservedTopic:
    return ObservedTopic(name="t", partitions=partitions, replication_factor=rf,
                         config=config or {"retention.ms": "604800000"}, overridden=frozenset(overridden))


def test_missing_topic_is_created_with_everything():
    plan = plan_topic(spec(replicationFactor=3, config={"retention.ms": 1000}), "t", None)
    assert plan.create and plan.partitions == 3 and plan.replication_factor == 3
    assert plan.config_set == {"retention.ms": "1000"}


@pytest.mark.parametrize(("desired", "current", "grow_to"), [(3, 3, None), (5, 3, 5), (4, 1, 4)])
def test_partitions_only_grow(desired, current, grow_to):
    plan = plan_topic(spec(partitions=desired), "t", observed(partitions=current))
    assert plan.refusal is None
    assert plan.partitions == grow_to


def test_partition_decrease_is_refused_and_nothing_else_happens():
    plan = plan_topic(spec(partitions=2, config={"retention.ms": "1"}), "t", observed(partitions=6))
    assert plan.refusal is not None and plan.refusal.reason == "PartitionDecreaseRefused"
    assert "6" in plan.refusal.message and "2" in plan.refusal.message
    assert not plan.config_set and plan.partitions is None and not plan.create


def test_replication_factor_change_without_known_brokers_is_refused_not_ignored():
    plan = plan_topic(spec(replicationFactor=3), "t", observed(rf=1))
    assert plan.refusal is not None and plan.refusal.reason == "ReplicationFactorChangeUnsupported"


def placed(assignment, partitions=3, rf=1) -> ObservedTopic:
    return ObservedTopic(name="t", partitions=partitions, replication_factor=rf, config={}, assignment=assignment)


@pytest.mark.parametrize(("current", "brokers", "factor", "expected"), [
    # grow 1 -> 3 on 3 brokers: every partition keeps its leader and takes the other two
    (((1,), (2,), (3,)), [1, 2, 3], 3, {0: (1, 2, 3), 1: (2, 1, 3), 2: (3, 1, 2)}),
    # grow 1 -> 2 on 4 brokers: new replicas go to the least loaded brokers, so the load stays even
    (((1,), (1,), (2,)), [1, 2, 3, 4], 2, {0: (1, 3), 1: (1, 4), 2: (2, 3)}),
    # shrink 3 -> 2: the last replica goes, the preferred leader stays first
    (((1, 2, 3), (2, 3, 1), (3, 1, 2)), [1, 2, 3], 2, {0: (1, 2), 1: (2, 3), 2: (3, 1)}),
    # a replica on a broker that left the cluster is kept only if it is within the factor
    (((5, 1),), [1, 2], 2, {}),
])
def test_replica_assignment_moves_as_little_as_possible(current, brokers, factor, expected):
    assert replica_assignment(current, brokers, factor) == expected


def test_replication_factor_change_is_planned_alone():
    plan = plan_topic(spec(partitions=5, replicationFactor=3, config={"retention.ms": "1"}), "t",
                      placed(((1,), (2,), (3,))), brokers=[1, 2, 3])
    assert plan.refusal is None and set(plan.reassign) == {0, 1, 2}
    assert plan.partitions is None and not plan.config_set  # after the reassignment, not with it
    assert plan.differences == ("replication factor 1 -> 3",) and not plan.is_noop


def test_replication_factor_above_the_broker_count_is_invalid():
    plan = plan_topic(spec(replicationFactor=3), "t", placed(((1,), (1,), (1,))), brokers=[1])
    assert plan.refusal is not None and plan.refusal.reason == "InvalidConfig"
    assert "1 broker(s)" in plan.refusal.message and not plan.reassign


def test_unset_replication_factor_accepts_whatever_the_topic_has():
    assert plan_topic(spec(), "t", observed(rf=3)).is_noop


@pytest.mark.parametrize(("key", "desired", "current", "changes"), [
    ("retention.ms", "604800000", "604800000", False),
    ("retention.ms", " 604800000 ", "604800000", False),
    ("retention.ms", "1000", "604800000", True),
    ("cleanup.policy", "compact,delete", "delete,compact", False),
    ("cleanup.policy", "compact, delete", "delete,compact", False),
    ("cleanup.policy", "compact", "delete", True),
    ("unclean.leader.election.enable", "True", "true", False),
    ("min.cleanable.dirty.ratio", "0.50", "0.5", False),
    ("compression.type", "lz4", "producer", True),
])
def test_config_compared_normalised(key, desired, current, changes):
    plan = plan_topic(spec(config={key: desired}), "t", observed(config={key: current}))
    assert (key in plan.config_set) is changes
    assert plan.is_noop is (not changes)


def test_key_missing_on_broker_is_set():
    plan = plan_topic(spec(config={"max.message.bytes": "2000000"}), "t", observed(config={}))
    assert plan.config_set == {"max.message.bytes": "2000000"}


def test_only_previously_owned_overridden_keys_are_reset():
    current = {"retention.ms": "1000", "segment.ms": "5000", "cleanup.policy": "delete"}
    plan = plan_topic(spec(config={}), "t", observed(config=current, overridden={"retention.ms", "segment.ms"}),
                      previously_owned=["retention.ms", "cleanup.policy"])
    # segment.ms was never ours; cleanup.policy is already the default.
    assert plan.config_reset == ("retention.ms",)
    assert any("retention.ms" in d for d in plan.differences)


def test_differences_describe_what_changed():
    plan = plan_topic(spec(partitions=4, config={"retention.ms": "1"}), "t", observed())
    assert plan.differences == ("partitions 3 -> 4", "config retention.ms: '604800000' -> '1'")


@pytest.mark.parametrize(("value", "expected"), [("1e3", repr(1000.0)), ("007", "7"), ("abc", "abc")])
def test_normalise_scalars(value, expected):
    assert normalise_config_value("x", value) == expected


def test_config_equal_is_symmetric():
    assert config_equal("cleanup.policy", "delete,compact", "compact,delete")
    assert not config_equal("retention.ms", "1", "2")
