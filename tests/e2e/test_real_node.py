"""Consumers that really run: a kubelet + containerd node (kafkaops.harness.node) beside kwok's, pods from
the project's image on it (hostNetwork: the broker and API server are on 127.0.0.1), and a ConsumerApp
whose example consumers join their group on the broker, drain a burst and are scaled back down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupState, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kubernetes import client

from helpers import eventually
from kafkaops.harness.kube import KubeCluster
from kafkaops.harness.node import NODE_LABEL, NODE_NAME, REAL_NODE_POD, real_node

pytestmark = pytest.mark.e2e

GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "consumerapps"


@pytest.fixture(scope="module")
def node(kube: KubeCluster, api, image: str) -> Iterator[str]:
    """The real node for this module, with ``image`` imported; stopped (nothing left) afterwards. (``api``
    configures the kubernetes client.)"""
    with real_node(kube, image):
        yield image


def pod_phase(namespace: str, name: str) -> str:
    return client.CoreV1Api().read_namespaced_pod(name, namespace).status.phase or ""


def test_the_node_is_ready_and_runs_a_pod_from_the_image_whose_logs_are_read(node, namespace):
    real = client.CoreV1Api().read_node(NODE_NAME)
    assert real.metadata.labels[NODE_LABEL[0]] == NODE_LABEL[1]
    assert real.status.node_info.container_runtime_version.startswith("containerd://2.4.2")
    assert [a.type for a in real.status.addresses] == ["Hostname"]  # only localhost: loopback, never another
    assert [(t.key, t.effect) for t in real.spec.taints] == [(NODE_LABEL[0], "NoSchedule")]
    assert client.CoreV1Api().read_node("kwok-node-0").metadata.name  # kwok's node stays for the scale tests

    client.CoreV1Api().create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "version"},
        "spec": {**REAL_NODE_POD, "restartPolicy": "Never", "containers": [
            {"name": "kafkaops", "image": node, "imagePullPolicy": "Never", "args": ["version"]}]}})
    eventually(lambda: pod_phase(namespace, "version") in ("Succeeded", "Failed"), timeout=90,
               what="the pod ran to completion")
    assert pod_phase(namespace, "version") == "Succeeded"
    assert client.CoreV1Api().read_namespaced_pod_log("version", namespace).startswith("kafkaops ")


def group_members(admin: AdminClient, group: str) -> int:
    """How many members the broker's group coordinator has, in a stable group (0 otherwise)."""
    try:
        description = admin.describe_consumer_groups([group])[group].result(10)
    except KafkaException:  # not there yet
        return 0
    return len(description.members) if description.state == ConsumerGroupState.STABLE else 0


def app_status(api, namespace: str, name: str) -> dict:
    return api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name).get("status", {})


def running_pods(namespace: str, app: str) -> int:
    pods = client.CoreV1Api().list_namespaced_pod(namespace, label_selector=f"{GROUP}/consumerapp={app}").items
    return sum(1 for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None
               and p.spec.node_name == NODE_NAME)


def test_a_burst_scales_real_consumers_up_they_join_the_group_drain_it_and_are_scaled_down(
        node, api, operator, namespace, kafka, record_property):
    bootstrap = kafka.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic, group = f"burst_{uuid.uuid4().hex[:6]}", f"burst-{uuid.uuid4().hex[:6]}"
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    template = {"spec": {**REAL_NODE_POD, "terminationGracePeriodSeconds": 10, "containers": [{
        "name": "consumer", "image": node, "imagePullPolicy": "Never", "args": ["example-consumer"],
        "env": [{"name": "PROCESSING_DELAY_MS", "value": "10"}]}]}}
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "burst"},
        "spec": {"topics": [topic], "groupId": group, "autoOffsetReset": "earliest", "template": template,
                 "scaling": {"minReplicas": 1, "maxReplicas": 3, "lagThreshold": 300, "pollIntervalSeconds": 1,
                             "scaleDown": {"stabilizationWindowSeconds": 5}}}})
    eventually(lambda: running_pods(namespace, "burst") == 1, timeout=90, what="one consumer pod Running")
    eventually(lambda: group_members(admin, group) == 1, timeout=60, what="the consumer joined its group")

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(3000):
        producer.produce(topic, value=b"event %d" % i, partition=i % 3)
    assert producer.flush(30) == 0
    burst = time.monotonic()
    eventually(lambda: app_status(api, namespace, "burst").get("desiredReplicas") == 3, timeout=30,
               what="scaled up to the partition count")  # ceil(3000 / 300) = 10, capped at 3 partitions
    scaled_up = time.monotonic() - burst
    eventually(lambda: group_members(admin, group) == 3, timeout=90, what="three members on the broker")
    assert running_pods(namespace, "burst") == 3

    eventually(lambda: app_status(api, namespace, "burst").get("totalLag") == 0, timeout=90, what="lag drained")
    drained = time.monotonic() - burst
    eventually(lambda: app_status(api, namespace, "burst").get("desiredReplicas") == 1, timeout=60,
               what="scaled back down after the window")
    eventually(lambda: running_pods(namespace, "burst") == 1 and group_members(admin, group) == 1, timeout=60,
               what="one consumer left in the group")
    assert app_status(api, namespace, "burst")["totalLag"] == 0  # the leavers committed what they processed
    record_property("burst_to_scale_up_s", round(scaled_up, 1))
    record_property("burst_to_drained_s", round(drained, 1))
    print(f"burst of 3000: scaled up after {scaled_up:.1f}s, drained after {drained:.1f}s")
