"""What Flux (``healthChecks``, ``kustomize-controller``'s wait) and kpt compute for real KafkaTopics and
ConsumerApps read back from the API server: kstatus itself (cli-utils), built from the Go module proxy.
Ready is Current; a generation the operator has not acted on yet is InProgress; a failure only a person can
fix is Failed (the Stalled condition), one the operator retries by itself is InProgress (Reconciling)."""

from __future__ import annotations

import uuid

import pytest
from test_consumerapp import TEMPLATE, make_topic

from helpers import eventually, ready_condition
from kafkaops.harness.kstatus import compute

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]

GROUP, VERSION = "kafkaops.io", "v1alpha1"


def verdict(kstatus, obj) -> str:
    return compute(kstatus, obj)["status"]


def test_kafkatopic_current_then_in_progress_at_a_new_generation_then_current_again(kstatus, topics, topic_name):
    topics.create("flux", {"topicName": topic_name, "partitions": 1})
    assert verdict(kstatus, topics.wait("flux", "Created")) == "Current"
    # The patch's response is the object at its new generation before any operator can have seen it.
    patched = topics.patch("flux", {"spec": {"partitions": 2}})
    assert patched["status"]["observedGeneration"] < patched["metadata"]["generation"]
    assert verdict(kstatus, patched) == "InProgress"
    assert verdict(kstatus, topics.wait("flux", "Updated")) == "Current"


def test_kafkatopic_with_a_config_the_broker_rejects_is_failed(kstatus, topics, topic_name):
    topics.create("rejected", {"topicName": topic_name, "partitions": 1, "config": {"retention.ms": "soon"}})
    obj = topics.wait("rejected", "InvalidConfig")
    result = compute(kstatus, obj)
    assert result["status"] == "Failed" and "retention.ms" in result["message"]


def test_kafkatopic_waiting_for_its_cluster_is_in_progress(kstatus, topics, topic_name):
    topics.create("waiting", {"topicName": topic_name, "partitions": 1, "clusterRef": {"name": "not-yet"}})
    obj = topics.wait("waiting", "ClusterNotReady")
    assert ready_condition(obj)["status"] == "False"
    assert verdict(kstatus, obj) == "InProgress"


def consumer_app(api, namespace, name, template, topic, reason):
    """Create a ConsumerApp; return it once its current generation is reconciled with ``reason``."""
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": name},
            "spec": {"topics": [topic], "template": template, "groupId": f"g-{uuid.uuid4().hex[:6]}",
                     "scaling": {"minReplicas": 1, "maxReplicas": 2, "pollIntervalSeconds": 1}}}
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", body)

    def settled():
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", name)
        observed = (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
        return obj if observed and (ready_condition(obj) or {}).get("reason") == reason else None
    return eventually(settled, timeout=60, what=f"ConsumerApp {name} reconciled with reason {reason}")


def test_consumerapp_ready_is_current_changed_is_in_progress_rejected_is_failed(kstatus, api, topics, namespace):
    topic = make_topic(topics, 1)
    assert verdict(kstatus, consumer_app(api, namespace, "healthy", TEMPLATE, topic, "LagCollected")) == "Current"
    patched = api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", "healthy",
                                                 {"spec": {"scaling": {"maxReplicas": 3}}})
    assert verdict(kstatus, patched) == "InProgress"
    refused = {"spec": {"containers": [{"name": "Not_A_DNS_Label", "image": "example.com/c:1"}]}}
    rejected = consumer_app(api, namespace, "refused", refused, topic, "DeploymentRejected")
    assert verdict(kstatus, rejected) == "Failed"
