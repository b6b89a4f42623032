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
from status_table import obj_of, rows

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


def test_kafkatopic_for_a_missing_cluster_stalls_after_the_wait_and_recovers_when_it_appears(
        kstatus, api, topics, topic_name):
    """ClusterNotReady (InProgress) for KAFKAOPS_CLUSTER_WAIT_SECONDS (6 s here), then ClusterNotFound
    (Failed); the KafkaCluster applied later makes it Current without any change to the KafkaTopic."""
    cluster = f"late-{uuid.uuid4().hex[:6]}"
    topics.create("waiting", {"topicName": topic_name, "partitions": 1, "clusterRef": {"name": cluster}})
    stalled = topics.wait("waiting", "ClusterNotFound")
    result = compute(kstatus, stalled)
    assert result["status"] == "Failed" and cluster in result["message"]
    assert topics.broker(topic_name) is None
    api.create_cluster_custom_object(GROUP, VERSION, "kafkaclusters", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaCluster", "metadata": {"name": cluster},
        "spec": {"bootstrapServers": topics.kafka.bootstrap_servers}})
    try:
        assert verdict(kstatus, topics.wait("waiting", "Created")) == "Current"
        assert topics.broker(topic_name)[0] == 1
    finally:
        topics.delete("waiting")
        api.delete_cluster_custom_object(GROUP, VERSION, "kafkaclusters", cluster)


def test_paused_kafkatopic_with_an_unapplied_change_is_never_current(kstatus, topics, topic_name):
    topics.create("held", {"topicName": topic_name, "partitions": 1})
    topics.wait("held", "Created")
    topics.patch("held", {"metadata": {"annotations": {"kafkaops.io/paused": "true"}}})
    paused = topics.wait("held", "Paused")
    assert verdict(kstatus, paused) == "Current"  # paused with everything applied: nothing is pending
    topics.patch("held", {"spec": {"partitions": 2}})
    pending = topics.wait("held", "Paused", check=lambda obj: obj["metadata"]["generation"] == 2)
    result = compute(kstatus, pending)
    assert result["status"] == "InProgress" and "generation 2 is not applied" in result["message"]
    assert topics.broker(topic_name)[0] == 1
    topics.patch("held", {"metadata": {"annotations": {"kafkaops.io/paused": None}}})
    assert verdict(kstatus, topics.wait("held", "Updated")) == "Current"
    assert topics.broker(topic_name)[0] == 2


@pytest.mark.parametrize("row", rows(), ids=lambda row: row.id)
def test_docs_status_table_row_is_what_kstatus_computes(kstatus, row):
    """docs/status.md's kstatus column, for each row's object as the operator's condition code writes it."""
    assert verdict(kstatus, obj_of(row)) == row.kstatus


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
