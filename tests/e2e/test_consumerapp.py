"""ConsumerApp end to end: a real broker with real offsets, a real API server with the
controller-manager (Deployments, garbage collection) and kwok (pods Running), the operator."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from kubernetes import client
from support import events_for

from helpers import eventually
from kafka_clients import commit_offsets

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "consumerapps"
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1",
                                     "env": [{"name": "LOG_LEVEL", "value": "info"}]}]}}


def make_topic(topics, partitions: int) -> str:
    name = f"orders_{uuid.uuid4().hex[:6]}"
    topics.admin.create_topics([NewTopic(name, partitions, 1)])[name].result(10)
    eventually(lambda: topics.broker(name), what="topic listed")
    return name


def produce(bootstrap: str, topic: str, partitions: int, per_partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, value=b"m%d" % i, partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """What the group's consumers would do after processing."""
    commit_offsets({"bootstrap.servers": bootstrap}, group, [TopicPartition(topic, p, o) for p, o in offsets.items()])


def consumer_app(api, namespace, name, topic, scaling, **spec):
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": name},
            "spec": {"topics": [topic], "template": TEMPLATE, "scaling": scaling, **spec}}
    return api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def app_status(api, namespace, name):
    return api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get("status", {})


def deployment(namespace, name):
    try:
        return client.AppsV1Api().read_namespaced_deployment(name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def replicas_become(api, namespace, name, count, timeout=60):
    def probe():
        d = deployment(namespace, name)
        status = app_status(api, namespace, name)
        return d is not None and d.spec.replicas == count and status.get("desiredReplicas") == count
    eventually(probe, timeout=timeout, what=f"{name} scaled to {count}")


def test_backlog_scales_up_to_the_partition_count_then_down_after_the_window(api, topics, namespace, kafka):
    topic = make_topic(topics, 6)
    produce(kafka.bootstrap_servers, topic, 6, 1000)
    group = f"processor-{uuid.uuid4().hex[:6]}"
    consumer_app(api, namespace, "processor", topic, {
        "minReplicas": 1, "maxReplicas": 12, "lagThreshold": 500, "pollIntervalSeconds": 1,
        "scaleDown": {"stabilizationWindowSeconds": 4}}, groupId=group, autoOffsetReset="earliest")

    replicas_become(api, namespace, "processor", 6)  # ceil(6000 / 500) = 12, capped at 6 partitions
    status = app_status(api, namespace, "processor")
    assert (status["totalLag"], status["partitions"], status["groupId"]) == (6000, 6, group)
    scaling = next(c for c in status["conditions"] if c["type"] == "Scaling")
    assert "capped at 6 partitions" in scaling["message"]

    container = deployment(namespace, "processor").spec.template.spec.containers[0]
    env = {e.name: e.value for e in container.env}
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == kafka.bootstrap_servers
    assert (env["KAFKA_GROUP_ID"], env["KAFKA_TOPICS"], env["LOG_LEVEL"]) == (group, topic, "info")
    eventually(lambda: app_status(api, namespace, "processor").get("readyReplicas") == 6, timeout=60,
               what="kwok pods ready")

    commit(kafka.bootstrap_servers, group, topic, {p: 1000 for p in range(6)})  # consumed everything
    eventually(lambda: app_status(api, namespace, "processor").get("totalLag") == 0, what="lag drained")
    assert deployment(namespace, "processor").spec.replicas == 6  # held by the stabilization window
    replicas_become(api, namespace, "processor", 1, timeout=30)
    status = app_status(api, namespace, "processor")
    assert status["lastScaleTime"] and status["groupState"] == "Empty"
    scaled = [(reason, message) for _, reason, message, _ in events_for("consumerapp/processor", namespace)
              if reason.startswith("Scaled")]
    assert [(r, m.split(" (")[0]) for r, m in scaled] == [
        ("ScaledUp", "scaled from 1 to 6 replicas on a lag of 6000 messages"),
        ("ScaledDown", "scaled from 6 to 1 replicas on a lag of 0 messages")], scaled

    client.AppsV1Api().patch_namespaced_deployment_scale("processor", namespace, {"spec": {"replicas": 4}})
    replicas_become(api, namespace, "processor", 1, timeout=30)  # a hand edit of replicas is overridden

    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "processor")
    eventually(lambda: deployment(namespace, "processor") is None, timeout=60, what="Deployment collected")


def test_min_replicas_zero_scales_to_zero_and_back_on_new_messages(api, topics, namespace, kafka):
    topic = make_topic(topics, 2)
    group = f"logs-{uuid.uuid4().hex[:6]}"
    commit(kafka.bootstrap_servers, group, topic, {0: 0, 1: 0})
    consumer_app(api, namespace, "logs", topic, {
        "minReplicas": 0, "maxReplicas": 4, "lagThreshold": 100, "pollIntervalSeconds": 1,
        "scaleDown": {"stabilizationWindowSeconds": 2}}, groupId=group)
    replicas_become(api, namespace, "logs", 0)
    produce(kafka.bootstrap_servers, topic, 2, 75)
    replicas_become(api, namespace, "logs", 2)  # ceil(150 / 100)
    commit(kafka.bootstrap_servers, group, topic, {0: 75, 1: 75})
    replicas_become(api, namespace, "logs", 0, timeout=30)
    # Each scale is one Event naming from -> to and the lag behind it, as a KEDA/HPA user expects.
    def scale_events():
        return [(reason, message.split(" (")[0]) for _, reason, message, _ in events_for("consumerapp/logs", namespace)
                if reason.startswith("Scaled")]
    wanted = [("ScaledUp", "scaled from 0 to 2 replicas on a lag of 150 messages"),
              ("ScaledDown", "scaled from 2 to 0 replicas on a lag of 0 messages")]
    eventually(lambda: sorted(scale_events()) == sorted(wanted), what=f"{wanted} in {scale_events()}")


def test_invalid_scaling_is_refused_at_admission(api, namespace):
    with pytest.raises(client.ApiException) as error:
        consumer_app(api, namespace, "bad", "t", {"minReplicas": 5, "maxReplicas": 2})
    assert error.value.status == 422 and "minReplicas must not exceed" in error.value.body
    with pytest.raises(client.ApiException) as error:
        consumer_app(api, namespace, "bad", "t", {"lagThreshold": 0})
    assert error.value.status == 422 and "lagThreshold" in error.value.body


def test_hand_edits_of_owned_fields_are_restored_and_a_deleted_deployment_comes_back(api, topics, namespace):
    topic = make_topic(topics, 1)
    consumer_app(api, namespace, "edited", topic, {"minReplicas": 1, "maxReplicas": 1, "pollIntervalSeconds": 1})
    eventually(lambda: deployment(namespace, "edited"), what="Deployment created")
    apps = client.AppsV1Api()
    apps.patch_namespaced_deployment("edited", namespace, {
        "metadata": {"annotations": {"team": "payments"}},
        "spec": {"template": {"spec": {"containers": [{"name": "consumer", "image": "example.com/hacked:2"}]}}}})

    def restored():
        d = deployment(namespace, "edited")
        return d.spec.template.spec.containers[0].image == "example.com/consumer:1" and d
    edited = eventually(restored, timeout=30, what="image restored from the ConsumerApp")
    assert edited.metadata.annotations["team"] == "payments"  # a field the operator never sets is left alone

    apps.delete_namespaced_deployment("edited", namespace)
    eventually(lambda: (d := deployment(namespace, "edited")) is not None and d.metadata.uid != edited.metadata.uid,
               timeout=30, what="Deployment re-created")


def test_a_pod_template_the_api_server_refuses_is_reported(api, topics, namespace):
    topic = make_topic(topics, 1)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "refused"},
            "spec": {"topics": [topic], "template": {"spec": {"containers": [{"name": "Not_A_DNS_Label",
                                                                              "image": "example.com/c:1"}]}}}}
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    def reported():
        conditions = app_status(api, namespace, "refused").get("conditions", [])
        return next((c for c in conditions if c["type"] == "Ready" and c["reason"] == "DeploymentRejected"), None)
    condition = eventually(reported, timeout=30, what="DeploymentRejected condition")
    assert condition["status"] == "False" and "Not_A_DNS_Label" in condition["message"]
    assert deployment(namespace, "refused") is None


def test_a_topic_that_does_not_exist_is_reported_until_it_appears(api, topics, namespace):
    topic = f"later_{uuid.uuid4().hex[:6]}"
    consumer_app(api, namespace, "early", topic, {"minReplicas": 1, "maxReplicas": 2, "pollIntervalSeconds": 1})

    def ready_reason():
        return next((c["reason"] for c in app_status(api, namespace, "early").get("conditions", [])
                     if c["type"] == "Ready"), None)
    eventually(lambda: ready_reason() == "TopicNotFound", timeout=30, what="TopicNotFound")
    condition = next(c for c in app_status(api, namespace, "early")["conditions"] if c["type"] == "Ready")
    assert condition["status"] == "False" and topic in condition["message"]
    assert ("Warning", "TopicNotFound") in [(e.type, e.reason) for e in client.CoreV1Api().list_namespaced_event(
        namespace, field_selector="involvedObject.name=early").items]

    topics.admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    eventually(lambda: ready_reason() == "LagCollected", timeout=20, what="Ready once the topic exists")
