"""Events as a user reads them (``kubectl events --for``): one per real transition, with a
CamelCase reason; an identical repeat is counted on the same Event; a re-check that changes
nothing posts none."""

from __future__ import annotations

import pytest
from support import events_for
from test_topic_lifecycle import alter_by_hand

from helpers import eventually

pytestmark = pytest.mark.e2e


def seen(ref: str, namespace: str) -> list[tuple[str, str, str, int]]:
    """The Events, in an order that does not depend on timestamps of the same second."""
    return sorted(events_for(ref, namespace))


def drift_corrected(topics, topic: str, key: str, value: str, wanted: str) -> None:
    """Change a managed key behind the operator's back and wait for the drift loop to put it back."""
    alter_by_hand(topics, topic, key, value)
    eventually(lambda: topics.broker(topic)[2][key] == wanted, timeout=30, what=f"{key} of {topic} corrected")


def test_topic_events_one_per_transition_aggregated_and_none_on_a_re_check(topics, topic_name):
    ref = "kafkatopic/evt"
    topics.create("evt", {"topicName": topic_name, "partitions": 2, "config": {"retention.ms": "3600000"}})
    topics.wait("evt", "Created")
    created = eventually(lambda: events_for(ref, topics.namespace), what="a Created event")
    assert created == [("Normal", "Created", f"created topic {topic_name!r} with 2 partitions", 1)]

    topics.patch("evt", {"spec": {"config": {"retention.ms": "7200000"}}})
    topics.wait("evt", "Updated")
    topics.patch("evt", {"spec": {"partitions": 4}})
    topics.wait("evt", "Updated", check=lambda obj: obj["status"]["partitions"] == 4)
    changed = [("Normal", "ConfigChanged", f"topic {topic_name!r}: config retention.ms: '3600000' -> '7200000'", 1),
               ("Normal", "PartitionsIncreased", f"topic {topic_name!r}: partitions 2 -> 4", 1)]
    eventually(lambda: seen(ref, topics.namespace) == sorted(created + changed), what="one Event per change")

    # The same drift corrected twice is one Event counted twice (client-go's aggregation).
    drift = ("Normal", "ConfigChanged", f"topic {topic_name!r}: config retention.ms: '1000' -> '7200000'")
    drift_corrected(topics, topic_name, "retention.ms", "1000", "7200000")
    eventually(lambda: (*drift, 1) in events_for(ref, topics.namespace), what="a drift Event")
    drift_corrected(topics, topic_name, "retention.ms", "1000", "7200000")
    every = sorted([*created, *changed, (*drift, 2)])
    eventually(lambda: seen(ref, topics.namespace) == every,
               what="the repeated drift counted on the same Event")

    # Re-checks of a topic that matches: a witness's drift corrected twice means the loop (which queues
    # every KafkaTopic each round) went round at least twice; "evt" got no new Event from it.
    topics.create("witness", {"topicName": f"{topic_name}_w", "partitions": 1, "config": {"retention.ms": "5000"}})
    topics.wait("witness", "Created")
    for _ in range(2):
        drift_corrected(topics, f"{topic_name}_w", "retention.ms", "1", "5000")
    assert seen(ref, topics.namespace) == every
