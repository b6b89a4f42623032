"""Deletion policy, finalizers, pause/unmanage annotations, conflicts, and broker outages."""

from __future__ import annotations

import pytest

from helpers import eventually, ready_condition

pytestmark = pytest.mark.e2e

FINALIZER = "kafkaops.io/topic-deletion"


def finalizers(obj):
    return obj["metadata"].get("finalizers", [])


def test_delete_policy_deletes_the_topic_and_only_it_holds_a_finalizer(topics, topic_name):
    topics.create("doomed", {"topicName": topic_name, "partitions": 1, "deletionPolicy": "Delete"})
    obj = topics.wait("doomed", "Created", check=lambda o: FINALIZER in finalizers(o))
    assert finalizers(obj) == [FINALIZER]
    topics.delete("doomed")
    eventually(lambda: topics.gone("doomed"), what="KafkaTopic gone")
    eventually(lambda: topics.broker(topic_name) is None, what="topic deleted on the broker")


def test_retain_policy_keeps_the_topic(topics, topic_name):
    topics.create("kept", {"topicName": topic_name, "partitions": 1})
    assert finalizers(topics.wait("kept", "Created")) == []
    topics.delete("kept")
    eventually(lambda: topics.gone("kept"), what="KafkaTopic gone")
    assert topics.broker(topic_name) is not None


def test_switching_to_retain_releases_the_finalizer(topics, topic_name):
    topics.create("switch", {"topicName": topic_name, "partitions": 1, "deletionPolicy": "Delete"})
    topics.wait("switch", "Created", check=lambda o: FINALIZER in finalizers(o))
    topics.patch("switch", {"spec": {"deletionPolicy": "Retain"}})
    eventually(lambda: FINALIZER not in finalizers(topics.get("switch")), what="finalizer released")
    topics.delete("switch")
    eventually(lambda: topics.gone("switch"), what="KafkaTopic gone")
    assert topics.broker(topic_name) is not None


def test_paused_topic_is_left_alone_until_resumed(topics, topic_name):
    topics.create("pausable", {"topicName": topic_name, "partitions": 1})
    topics.wait("pausable", "Created")
    topics.patch("pausable", {"metadata": {"annotations": {"kafkaops.io/paused": "true"}},
                              "spec": {"partitions": 3}})
    condition = ready_condition(topics.wait("pausable", "Paused"))
    assert condition["status"] == "True"  # last known readiness is kept
    assert topics.broker(topic_name)[0] == 1
    topics.patch("pausable", {"metadata": {"annotations": {"kafkaops.io/paused": None}}})
    topics.wait("pausable", "Updated")
    assert topics.broker(topic_name)[0] == 3


def test_unmanaged_topic_is_never_deleted(topics, topic_name):
    topics.create("letgo", {"topicName": topic_name, "partitions": 1, "deletionPolicy": "Delete"})
    topics.wait("letgo", "Created", check=lambda o: FINALIZER in finalizers(o))
    topics.patch("letgo", {"metadata": {"annotations": {"kafkaops.io/managed": "false"}}})
    obj = topics.wait("letgo", "Unmanaged", check=lambda o: FINALIZER not in finalizers(o))
    assert ready_condition(obj)["status"] == "True"
    topics.delete("letgo")
    eventually(lambda: topics.gone("letgo"), what="KafkaTopic gone")
    assert topics.broker(topic_name) is not None


def test_two_kafkatopics_one_topic_oldest_wins_and_loser_never_deletes(topics, topic_name, kubeconfig_env):
    other_namespace = topics.namespace + "-b"
    from support import kubectl

    kubectl("create", "namespace", other_namespace)
    try:
        topics.create("first", {"topicName": topic_name, "partitions": 2})
        topics.wait("first", "Created")
        topics.create("second", {"topicName": topic_name, "partitions": 4, "deletionPolicy": "Delete"},
                      namespace=other_namespace)
        condition = ready_condition(topics.wait("second", "Conflict", namespace=other_namespace))
        assert condition["status"] == "False"
        assert f"{topics.namespace}/first" in condition["message"]
        assert topics.broker(topic_name)[0] == 2  # the loser changed nothing

        topics.delete("second", namespace=other_namespace)
        eventually(lambda: topics.gone("second", namespace=other_namespace), what="loser gone")
        assert topics.broker(topic_name) is not None  # deleting the loser never deletes the topic

        topics.create("third", {"topicName": topic_name, "partitions": 3}, namespace=other_namespace)
        topics.wait("third", "Conflict", namespace=other_namespace)
        topics.delete("first")
        # The owner is gone: the next drift check lets the waiting KafkaTopic take the topic over.
        obj = topics.wait("third", "Adopted", namespace=other_namespace, timeout=30)
        assert ready_condition(obj)["status"] == "True"
        assert topics.broker(topic_name)[0] == 3
    finally:
        kubectl("delete", "namespace", other_namespace, "--wait=false")


def test_broker_outage_is_reported_and_recovers_by_itself(topics, topic_name, kafka):
    topics.create("steady", {"topicName": topic_name + "_steady", "partitions": 1, "deletionPolicy": "Delete"})
    topics.wait("steady", "Created")
    node = kafka.nodes[0].node_id
    kafka.stop_node(node)
    try:
        topics.create("during-outage", {"topicName": topic_name, "partitions": 2})
        condition = ready_condition(topics.wait("during-outage", "BrokerUnavailable"))
        assert condition["status"] == "False"
        assert ("Warning", "BrokerUnavailable") in [(t, r) for t, r, _ in topics.events("during-outage")]

        # Deleting a Delete-policy KafkaTopic while Kafka is down must not hang forever.
        topics.delete("steady")
        eventually(lambda: topics.gone("steady"), timeout=60, what="bounded deletion")
        assert any(r == "DeletionAbandoned" for _, r, _ in topics.events("steady"))
    finally:
        kafka.start_node(node)
    obj = topics.wait("during-outage", "Created", timeout=120)
    assert ready_condition(obj)["status"] == "True"
    assert topics.broker(topic_name)[0] == 2
    assert topics.broker(topic_name + "_steady") is not None  # it was not deleted, and we said so
