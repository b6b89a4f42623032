"""KafkaUsers on the secured broker (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer): the operator makes
the user and exactly its ACLs, the generated password works and is the only one, a hand-removed ACL
comes back, a rotation replaces the password, and deleting the KafkaUser removes it from Kafka."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from clusters import GROUP, VERSION, object_reason
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from kubernetes import client
from support import deployment_or_none, kubectl

from helpers import eventually
from kafkaops.harness.kafka import KafkaCluster

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}
EXAMPLE_CONSUMER = [sys.executable, "-m", "kafkaops", "example-consumer"]


def as_user(secured: KafkaCluster, username: str, password: str, group: str) -> Consumer:
    return Consumer({**secured.client_config(), "sasl.username": username, "sasl.password": password,
                     "group.id": group, "enable.auto.commit": False})


def commit_error(secured: KafkaCluster, username: str, password: str, group: str, topic: str) -> int | None:
    """None when the user may commit ``group``'s offset on ``topic``, else Kafka's error code."""
    consumer = as_user(secured, username, password, group)
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    except KafkaException as error:
        return int(error.args[0].code())
    finally:
        consumer.close()
    return None


def authenticates(secured: KafkaCluster, username: str, password: str) -> bool:
    admin = AdminClient({**secured.client_config(), "sasl.username": username, "sasl.password": password})
    try:
        admin.list_topics(timeout=5)
    except KafkaException:
        return False
    return True


def credentials(namespace: str, name: str) -> tuple[str, str, str]:
    """(username, password, resourceVersion) of a KafkaUser's generated Secret."""
    found = client.CoreV1Api().read_namespaced_secret(name, namespace)
    data = {k: base64.b64decode(v).decode() for k, v in found.data.items()}
    return data["username"], data["password"], found.metadata.resource_version


def group_acls(admin: AdminClient, principal: str) -> list[Any]:
    found = admin.describe_acls(AclBindingFilter(ResourceType.GROUP, None, ResourcePatternType.ANY, principal, None,
                                                 AclOperation.ANY, AclPermissionType.ANY)).result(10)
    return list(found)


def test_a_kafka_user_gets_exactly_its_rights_and_keeps_them(api, operator, secured_kafka, namespace, prod):
    cluster, _ = prod
    mine, other = f"orders-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(secured_kafka.client_config())
    for future in admin.create_topics([NewTopic(mine, 1, 1), NewTopic(other, 1, 1)]).values():
        future.result(30)
    group = f"reader-{uuid.uuid4().hex[:6]}"
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaUser", "metadata": {"name": "reader"},
        "spec": {"clusterRef": {"name": cluster}, "authorization": {"acls": [
            {"resource": {"type": "topic", "name": mine}, "operations": ["Read", "Describe"]},
            {"resource": {"type": "group", "name": group}, "operations": ["Read"]}]}}})
    status = object_reason(api, namespace, "kafkausers", "reader", "Applied")["status"]
    username, password, _ = credentials(namespace, "reader")
    assert (status["username"], status["secret"], status["acls"]) == (f"{namespace}.reader", "reader", 3)
    assert username == status["username"] and len(password) >= 32

    # Exactly its rights: its topic with its group; not the other topic, not another group.
    eventually(lambda: commit_error(secured_kafka, username, password, group, mine) is None, timeout=30,
               what="the new user commits on its topic")
    assert commit_error(secured_kafka, username, password, group, other) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Another group: the coordinator lookup itself is refused (librdkafka then says it is waiting for one).
    assert commit_error(secured_kafka, username, password, f"x-{group}", mine) in (
        KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError._WAIT_COORD)

    # An ACL removed by hand comes back with the periodic check (every 2 s here), and an Event says so.
    principal = f"User:{username}"
    for removal in admin.delete_acls([AclBindingFilter(ResourceType.GROUP, group, ResourcePatternType.LITERAL,
                                                       principal, "*", AclOperation.READ,
                                                       AclPermissionType.ALLOW)]).values():
        assert len(removal.result(10)) == 1
    eventually(lambda: group_acls(admin, principal), timeout=30, what="the removed ACL restored")
    eventually(lambda: any(e.reason == "AclsCorrected" for e in client.CoreV1Api().list_namespaced_event(
        namespace, field_selector="involvedObject.name=reader").items), timeout=30, what="an AclsCorrected Event")

    # Rotation: a new password in the Secret, the old one no longer authenticates.
    kubectl("annotate", "kafkauser", "reader", "-n", namespace, "kafkaops.io/rotate-password=1")
    eventually(lambda: credentials(namespace, "reader")[1] != password, timeout=30, what="a new password")
    _, rotated, _ = credentials(namespace, "reader")
    # The rotation is recorded (a status field the CRD did not declare was pruned, and the next check rotated again).
    eventually(lambda: api.get_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", "reader")[
        "status"].get("passwordRotation") == "1", timeout=30, what="the rotation recorded in the status")
    eventually(lambda: not authenticates(secured_kafka, username, password), timeout=30,
               what="the old password refused")
    assert authenticates(secured_kafka, username, rotated)

    # No password anywhere but the Secret.
    exposed = json.dumps(api.get_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", "reader"))
    exposed += kubectl("get", "events", "-A", "-o", "json").stdout + operator.text()
    assert password not in exposed and rotated not in exposed

    # Deleting the KafkaUser removes the user and its ACLs from Kafka (the Secret goes by garbage collection).
    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", "reader")
    eventually(lambda: not authenticates(secured_kafka, username, rotated), timeout=30, what="the user removed")
    eventually(lambda: not group_acls(admin, principal), timeout=30, what="its ACLs removed")


def test_a_missing_password_secret_and_a_foreign_secret_are_named_not_overwritten(api, operator, namespace, prod):
    cluster, _ = prod
    core = client.CoreV1Api()
    core.create_namespaced_secret(namespace, {"metadata": {"name": "taken"}, "stringData": {"password": "theirs"}})
    for name, authentication in (("taken", {"type": "scram-sha-512"}),
                                 ("byo", {"type": "scram-sha-512", "passwordSecretRef": {"name": "absent"}})):
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaUser", "metadata": {"name": name},
            "spec": {"clusterRef": {"name": cluster}, "authentication": authentication}})
    assert "taken" in object_reason(api, namespace, "kafkausers", "taken", "SecretConflict")["status"]["conditions"][0][
        "message"]
    assert "absent" in object_reason(api, namespace, "kafkausers", "byo", "SecretNotFound")["status"]["conditions"][0][
        "message"]
    found = core.read_namespaced_secret("taken", namespace)
    assert base64.b64decode(found.data["password"]).decode() == "theirs"


def test_a_consumer_app_gets_its_own_user_with_exactly_its_rights(api, operator, secured_kafka, namespace, prod):
    """credentials.user: auto: the example consumer runs with what the Deployment is given, reads its
    topic and nothing else; the rights follow spec.topics; a new password rolls the pods; the user
    goes with the app."""
    cluster, _ = prod
    admin = AdminClient(secured_kafka.client_config())
    mine, other = f"auto-{uuid.uuid4().hex[:6]}", f"not-mine-{uuid.uuid4().hex[:6]}"
    for future in admin.create_topics([NewTopic(mine, 1, 1), NewTopic(other, 1, 1)]).values():
        future.result(30)
    producer = Producer(secured_kafka.client_config())
    for i in range(5):
        producer.produce(mine, value=b"event %d" % i)
    assert producer.flush(30) == 0
    group = f"payments-{uuid.uuid4().hex[:6]}"
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "payments"},
        "spec": {"clusterRef": {"name": cluster}, "credentials": {"user": "auto"}, "groupId": group,
                 "topics": [mine], "autoOffsetReset": "earliest", "template": TEMPLATE,
                 "scaling": {"minReplicas": 1, "maxReplicas": 1, "pollIntervalSeconds": 1}}})
    apps = client.AppsV1Api()
    deployment = eventually(lambda: deployment_or_none(apps, namespace, "payments"), timeout=60,
                            what="Deployment applied")
    user = object_reason(api, namespace, "kafkausers", "payments-consumer", "Applied")
    assert user["metadata"]["ownerReferences"][0]["kind"] == "ConsumerApp" and user["status"]["acls"] == 3
    pod = deployment.to_dict()["spec"]["template"]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["KAFKA_SASL_PASSWORD"]["value_from"]["secret_key_ref"]["name"] == "payments-consumer"
    version = pod["metadata"]["annotations"]["kafkaops.io/credentials-version"]
    assert version == user["status"]["credentialSecretVersion"]

    # The example consumer with exactly what a pod gets: consumes its topic and commits.
    username, password, _ = credentials(namespace, "payments-consumer")
    variables = {name: e["value"] for name, e in env.items() if e.get("value") is not None}
    variables.update(KAFKA_SASL_USERNAME=username, KAFKA_SASL_PASSWORD=password, MAX_MESSAGES="5",
                     KAFKA_SSL_CA_LOCATION=str(secured_kafka.security.ca_pem_path))
    result = subprocess.run(EXAMPLE_CONSUMER, env={**os.environ, **variables}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "processed 5 messages" in result.stdout
    assert commit_error(secured_kafka, username, password, group, other) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # The rights follow spec.topics.
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", "payments",
                                       {"spec": {"topics": [mine, other]}})
    eventually(lambda: commit_error(secured_kafka, username, password, group, other) is None, timeout=60,
               what="the new topic readable")

    # A new password rolls the pods.
    kubectl("annotate", "kafkauser", "payments-consumer", "-n", namespace, "kafkaops.io/rotate-password=1")
    eventually(lambda: apps.read_namespaced_deployment("payments", namespace).spec.template.metadata.annotations[
        "kafkaops.io/credentials-version"] != version, timeout=60, what="the pods rolled for the new password")

    # The user goes with the app.
    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", "payments")
    _, rotated, _ = credentials(namespace, "payments-consumer")
    eventually(lambda: not authenticates(secured_kafka, username, rotated), timeout=60, what="the app's user removed")


def secured_default(secured: KafkaCluster) -> dict[str, str]:
    """The operator's environment with the secured broker as its default cluster."""
    security = secured.security
    assert security is not None
    return {"KAFKAOPS_BOOTSTRAP_SERVERS": secured.bootstrap_servers,
            "KAFKAOPS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKAOPS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKAOPS_KAFKA_SASL_USERNAME": security.admin_user,
            "KAFKAOPS_KAFKA_SASL_PASSWORD": security.admin_password,
            "KAFKAOPS_KAFKA_SSL_CA_LOCATION": str(security.ca_pem_path)}


def test_kafka_users_present_at_a_restart_cost_no_write(isolated, secured_kafka):
    """Twenty KafkaUsers exist when the operator starts again: every one is checked, none has its
    credential rewritten (each write would salt anew) or its status touched."""
    env = secured_default(secured_kafka)
    namespace = f"u-{uuid.uuid4().hex[:6]}"
    isolated.core.create_namespace({"metadata": {"name": namespace}})
    names = [f"user-{i}" for i in range(20)]

    def all_applied() -> list[dict[str, Any]] | None:
        users = isolated.api.list_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers")["items"]
        reasons = [((u.get("status") or {}).get("conditions") or [{}])[0].get("reason") for u in users]
        return users if len(users) == len(names) and set(reasons) == {"Applied"} else None

    first = isolated.start_operator("users-first", env)
    try:
        for name in names:
            isolated.api.create_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaUser", "metadata": {"name": name},
                "spec": {"authorization": {"acls": [{"resource": {"type": "topic", "name": f"{namespace}.{name}"},
                                                      "operations": ["Read"]}]}}})
        before = {u["metadata"]["name"]: u["metadata"]["resourceVersion"]
                  for u in eventually(all_applied, timeout=120, what="20 KafkaUsers Applied")}
    finally:
        assert first.stop() == 0
    second = isolated.start_operator("users-second", env)
    try:
        eventually(lambda: "start-up re-check done: 20 KafkaUser(s)" in second.text(), timeout=120,
                   what="the KafkaUsers re-checked")
        after = {u["metadata"]["name"]: u["metadata"]["resourceVersion"] for u in all_applied() or []}
        assert after == before
        assert "credential of" not in second.text() and "password generated" not in second.text()
    finally:
        assert second.stop() == 0


def test_a_rotation_cut_short_by_a_crash_is_finished_by_the_next_operator(isolated, secured_kafka):
    """A rotation writes the new password into the Secret first and then to the broker. An operator
    killed in between leaves a Secret whose password the broker does not know; the next one sees the
    Secret's resourceVersion differ from status.credentialSecretVersion and writes the credential."""
    env = secured_default(secured_kafka)
    namespace = f"u-{uuid.uuid4().hex[:6]}"
    isolated.core.create_namespace({"metadata": {"name": namespace}})

    def user_status() -> dict[str, Any]:
        found = isolated.api.get_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", "rotating")
        return found.get("status") or {}

    first = isolated.start_operator("rotation-first", env)
    try:
        isolated.api.create_namespaced_custom_object(GROUP, VERSION, namespace, "kafkausers", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaUser", "metadata": {"name": "rotating"},
            "spec": {"authorization": {"acls": [{"resource": {"type": "topic", "name": f"{namespace}.t"},
                                                  "operations": ["Read"]}]}}})
        object_reason(isolated.api, namespace, "kafkausers", "rotating", "Applied")
    finally:
        first.kill()
    secret = isolated.core.read_namespaced_secret("rotating", namespace)
    username, password = (base64.b64decode(secret.data[k]).decode() for k in ("username", "password"))
    # What the killed operator had written before telling the broker: the rotated password in its Secret.
    rotated = password[::-1]
    written = isolated.core.patch_namespaced_secret("rotating", namespace, {
        "data": {"password": base64.b64encode(rotated.encode()).decode()}})
    assert user_status()["credentialSecretVersion"] != written.metadata.resource_version
    assert authenticates(secured_kafka, username, password) and not authenticates(secured_kafka, username, rotated)

    second = isolated.start_operator("rotation-second", env)
    try:
        eventually(lambda: user_status().get("credentialSecretVersion") == written.metadata.resource_version,
                   timeout=60, what="the Secret's version recorded as applied")
        assert authenticates(secured_kafka, username, rotated)
        eventually(lambda: not authenticates(secured_kafka, username, password), timeout=30,
                   what="the old password refused")
        assert "credential of" in second.text() and rotated not in second.text()
    finally:
        assert second.stop() == 0
