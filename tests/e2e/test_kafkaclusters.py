"""Two Kafka clusters at once under one operator: the session's plaintext broker (the operator's
configured default) and a SASL_SSL broker with SCRAM users and ACLs enforced, reached through a
KafkaCluster whose CA and credentials are Secrets in the operator's namespace. The operator runs
with the chart's RBAC (Secrets: get in its own namespace only)."""

from __future__ import annotations

import json
import uuid

import pytest
from clusters import GROUP, VERSION, cluster_ready, kafka_cluster, object_reason, secret
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kubernetes import client
from support import deployment_or_none, kubectl

from chart_render import RELEASE_NAMESPACE
from helpers import eventually, ready_condition
from kafka_clients import commit_offsets
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.tls import CertificateAuthority

pytestmark = pytest.mark.e2e
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}


def secured_admin(secured: KafkaCluster) -> AdminClient:
    return AdminClient(secured.client_config())


def topic_on(admin: AdminClient, topic: str) -> bool:
    metadata = admin.list_topics(timeout=10).topics.get(topic)
    return metadata is not None and metadata.error is None


def test_topics_and_a_lag_scaled_app_on_two_clusters_and_a_wrong_password_breaks_only_its_own(
        api, operator, kafka, secured_kafka, namespace, prod, topics):
    cluster, credentials = prod
    core = client.CoreV1Api()
    status = cluster_ready(api, cluster, "Connected")["status"]
    assert status["brokers"] == 1 and status["clusterId"] and status["observedGeneration"] == 1

    # The same topic name on each cluster: no conflict, each on its own broker.
    name = f"payments-{uuid.uuid4().hex[:6]}"
    topics.create(f"{name}-plain", {"topicName": name, "partitions": 1})
    topics.create(f"{name}-secure", {"topicName": name, "partitions": 3, "clusterRef": {"name": cluster}})
    topics.wait(f"{name}-plain", "Created")
    topics.wait(f"{name}-secure", "Created")
    admin = secured_admin(secured_kafka)
    assert topic_on(admin, name) and topics.broker(name)[0] == 1
    assert len(admin.list_topics(topic=name, timeout=10).topics[name].partitions) == 3

    # A ConsumerApp on the secured cluster: connection from the KafkaCluster, credentials from the app's Secret.
    secret(core, namespace, "consumer-credentials", {"username": "alice", "password": "unused-here"})
    group = f"g-{uuid.uuid4().hex[:6]}"
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "payments"},
        "spec": {"clusterRef": {"name": cluster}, "credentialsSecretRef": {"name": "consumer-credentials"},
                 "groupId": group, "topics": [name], "template": TEMPLATE,
                 "scaling": {"minReplicas": 1, "maxReplicas": 10, "lagThreshold": 100, "pollIntervalSeconds": 1}}})
    apps = client.AppsV1Api()
    deployment = eventually(lambda: deployment_or_none(apps, namespace, "payments"), what="Deployment applied")
    env = {e["name"]: e for e in deployment.to_dict()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == secured_kafka.bootstrap_servers
    assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["KAFKA_SSL_CA_LOCATION"]["value"] == "/etc/kafkaops/kafka-ca/ca.crt"
    assert env["KAFKA_SASL_PASSWORD"]["value_from"]["secret_key_ref"] == {"name": "consumer-credentials",
                                                                          "key": "password", "optional": None}
    ca = core.read_namespaced_config_map("payments-kafka-ca", namespace)
    assert ca.data["ca.crt"] == secured_kafka.security.ca_pem
    # Lag on the secured cluster: 3 partitions x 200 messages, nothing committed -> capped at 3 partitions.
    producer = Producer({**secured_kafka.client_config(), "linger.ms": 5})
    for partition in range(3):
        for i in range(200):
            producer.produce(name, value=b"m%d" % i, partition=partition)
    assert producer.flush(30) == 0
    commit_offsets(secured_kafka.client_config(), group, [TopicPartition(name, p, 0) for p in range(3)])
    eventually(lambda: apps.read_namespaced_deployment("payments", namespace).spec.replicas == 3,
               timeout=60, what="scaled to 3 by the secured cluster's lag")

    # A wrong password: this cluster and its objects say so, the other cluster's objects do not notice.
    wrong = f"wrong-{uuid.uuid4().hex}"
    secret(core, RELEASE_NAMESPACE, credentials, {"username": secured_kafka.security.admin_user, "password": wrong})
    failed = cluster_ready(api, cluster, "AuthenticationFailed")
    assert failed["status"]["conditions"][0]["status"] == "False"
    object_reason(api, namespace, "kafkatopics", f"{name}-secure", "ClusterNotReady")
    topics.patch(f"{name}-plain", {"spec": {"partitions": 2}})
    topics.wait(f"{name}-plain", "Updated")
    assert topics.broker(name)[0] == 2
    # Nothing secret anywhere: not in statuses, Events or the operator's log.
    exposed = json.dumps([api.get_cluster_custom_object(GROUP, VERSION, "kafkaclusters", cluster),
                          topics.get(f"{name}-secure")])
    exposed += kubectl("get", "events", "-A", "-o", "json").stdout + operator.text()
    for value in (wrong, secured_kafka.security.admin_password):
        assert value not in exposed

    # The Secret fixed: everything recovers without a restart.
    secret(core, RELEASE_NAMESPACE, credentials, {"username": secured_kafka.security.admin_user,
                                                  "password": secured_kafka.security.admin_password})
    cluster_ready(api, cluster, "Connected")
    object_reason(api, namespace, "kafkatopics", f"{name}-secure", "InSync")


def test_a_ca_that_does_not_match_is_a_tls_error(api, operator, secured_kafka):
    core = client.CoreV1Api()
    name = f"other-ca-{uuid.uuid4().hex[:6]}"
    other = CertificateAuthority.create("not the broker's CA")
    secret(core, RELEASE_NAMESPACE, f"{name}-ca", {"ca.crt": other.certificate_pem})
    secret(core, RELEASE_NAMESPACE, f"{name}-admin", {"username": secured_kafka.security.admin_user,
                                                       "password": secured_kafka.security.admin_password})
    kafka_cluster(api, name, secured_kafka, f"{name}-ca", f"{name}-admin")
    try:
        status = cluster_ready(api, name, "TLSError")["status"]
        assert "brokers" not in status
    finally:
        api.delete_cluster_custom_object(GROUP, VERSION, "kafkaclusters", name)


def test_a_missing_secret_and_a_deleted_cluster_touch_nothing_on_the_broker(
        api, operator, secured_kafka, namespace, prod, topics):
    cluster, _ = prod
    cluster_ready(api, cluster, "Connected")
    name = f"keep-{uuid.uuid4().hex[:6]}"
    topics.create(name, {"partitions": 1, "clusterRef": {"name": cluster}, "deletionPolicy": "Delete"})
    topics.wait(name, "Created")
    api.delete_cluster_custom_object(GROUP, VERSION, "kafkaclusters", cluster)
    object_reason(api, namespace, "kafkatopics", name, "ClusterNotFound")  # after the bounded wait
    assert topic_on(secured_admin(secured_kafka), name)
    # A KafkaCluster whose Secret does not exist says which one.
    missing = f"missing-{uuid.uuid4().hex[:6]}"
    kafka_cluster(api, missing, secured_kafka, f"{missing}-ca", f"{missing}-admin")
    try:
        condition = ready_condition(cluster_ready(api, missing, "SecretNotFound"))
        assert f"{missing}-" in condition["message"]
    finally:
        api.delete_cluster_custom_object(GROUP, VERSION, "kafkaclusters", missing)



