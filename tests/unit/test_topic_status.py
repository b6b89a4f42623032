"""Status writing and drift-check selection: pure functions of the handlers module."""

from __future__ import annotations

import datetime

import pytest

from kafkaops.conditions import seconds_since
from kafkaops.handlers.topics import deletes_topic, needs_drift_check, topic_status
from kafkaops.topics.reconcile import TopicOutcome
from kafkaops.types.topics import ObservedTopic

pytestmark = pytest.mark.unit


def body(generation=2, observed=2, reason="Created", deleting=False, name="t"):
    meta = {"name": name, "namespace": "ns", "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"observedGeneration": observed, "conditions": [
        {"type": "Ready", "status": "True", "reason": reason, "observedGeneration": observed}]}}


@pytest.mark.parametrize(("obj", "expected"), [
    (body(), True),
    (body(generation=3), True),  # queued anyway; the queue keeps one worker per key
    (body(deleting=True), False),
    (body(reason="InvalidConfig"), False),  # only a spec change can fix it
    (body(reason="Conflict"), True),  # the owner may be gone: look again
    (body(reason="BrokerUnavailable"), True),
])
def test_which_topics_the_drift_check_queues(obj, expected):
    assert needs_drift_check(obj) is expected


@pytest.mark.parametrize(("spec", "annotations", "expected"), [
    ({"deletionPolicy": "Delete"}, {}, True),
    ({"deletionPolicy": "Retain"}, {}, False),
    ({}, {}, False),
    ({"deletionPolicy": "Delete"}, {"kafkaops.io/paused": "true"}, False),
    ({"deletionPolicy": "Delete"}, {"kafkaops.io/managed": "false"}, False),
])
def test_only_kafkatopics_that_delete_their_topic_carry_the_finalizer(spec, annotations, expected):
    assert deletes_topic({"metadata": {"annotations": annotations}, "spec": spec}) is expected


def test_deletion_age_is_counted_from_the_deletion_timestamp():
    now = datetime.datetime(2026, 1, 1, 0, 5, tzinfo=datetime.UTC)
    assert seconds_since("2026-01-01T00:00:00Z", now) == 300


def test_status_lists_only_what_changed():
    observed = ObservedTopic(name="t", partitions=3, replication_factor=1, config={}, topic_id="abc")
    outcome = TopicOutcome(True, "Created", "created", "t", observed, ("retention.ms",))
    first = topic_status({}, outcome, 1)
    assert first["partitions"] == 3 and first["topicId"] == "abc" and first["managedConfigKeys"] == ["retention.ms"]
    assert topic_status(first, outcome, 1) == {}  # same outcome again: nothing to write
    held = TopicOutcome(False, "Conflict", "owned elsewhere", "t", owned_keys=None)
    changed = topic_status(first, held, 1)
    assert set(changed) == {"conditions"}  # a hold leaves the topic facts and owned keys alone
