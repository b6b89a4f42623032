"""Status writing and drift-check selection: pure functions of the handlers module."""

from __future__ import annotations

import pytest

from kafkaops.handlers.topics import needs_drift_check, topic_status
from kafkaops.topics.plan import ObservedTopic
from kafkaops.topics.reconcile import TopicOutcome

pytestmark = pytest.mark.unit


def body(generation=2, observed=2, reason="Created", deleting=False, name="t"):
    meta = {"name": name, "namespace": "ns", "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"observedGeneration": observed, "conditions": [
        {"type": "Ready", "status": "True", "reason": reason, "observedGeneration": observed}]}}


@pytest.mark.parametrize(("obj", "busy", "expected"), [
    (body(), set(), True),
    (body(generation=3), set(), False),  # kopf has not handled the new generation yet
    (body(), {("ns", "t")}, False),  # a handler is on it right now
    (body(deleting=True), set(), False),
    (body(reason="InvalidConfig"), set(), False),  # only a spec change can fix it
    (body(reason="Conflict"), set(), True),  # the owner may be gone: look again
    (body(reason="BrokerUnavailable"), set(), True),
])
def test_which_topics_the_drift_loop_checks(obj, busy, expected):
    assert needs_drift_check(obj, busy) is expected


def test_status_lists_only_what_changed():
    observed = ObservedTopic("t", 3, 1, {}, topic_id="abc")
    outcome = TopicOutcome(True, "Created", "created", "t", observed, ("retention.ms",))
    first = topic_status({}, outcome, 1)
    assert first["partitions"] == 3 and first["topicId"] == "abc" and first["managedConfigKeys"] == ["retention.ms"]
    assert topic_status(first, outcome, 1) == {}  # same outcome again: nothing to write
    held = TopicOutcome(False, "Conflict", "owned elsewhere", "t", owned_keys=None)
    changed = topic_status(first, held, 1)
    assert set(changed) == {"conditions"}  # a hold leaves the topic facts and owned keys alone
