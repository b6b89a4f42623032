from __future__ import annotations

import pytest

from kafkaops.consumers.deployment import (
    APP_LABEL,
    SPEC_HASH_ANNOTATION,
    DeploymentView,
    build_deployment,
    deployment_view,
    foreign_spec_edit,
    injected_env,
    needs_apply,
)

pytestmark = pytest.mark.unit

ENV = [{"name": "KAFKA_TOPICS", "value": "wrong"}, {"name": "LOG", "value": "1"}]
TEMPLATE = {"metadata": {"labels": {"team": "orders"}},
            "spec": {"containers": [{"name": "c", "image": "consumer:1", "env": ENV}]}}


def test_deployment_is_owned_selected_and_gets_the_connection_injected():
    env = injected_env("k:9092", "orders-processor", ["orders", "returns"], {"KAFKA_SECURITY_PROTOCOL": "SSL"})
    deployment = build_deployment(name="orders", namespace="shop", uid="u1", template=TEMPLATE, replicas=3,
                                  env=env)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"] == {APP_LABEL: "orders"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels == {"team": "orders", APP_LABEL: "orders"}
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ConsumerApp", "u1", True)
    container_env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert container_env == {"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "KAFKA_GROUP_ID": "orders-processor",
                             "KAFKA_TOPICS": "orders,returns", "KAFKA_SECURITY_PROTOCOL": "SSL", "LOG": "1"}


def test_the_template_given_is_not_modified():
    build_deployment(name="o", namespace="n", uid="u", template=TEMPLATE, replicas=1, env=injected_env("b", "g", ["t"]))
    assert TEMPLATE["spec"]["containers"][0]["env"][0] == {"name": "KAFKA_TOPICS", "value": "wrong"}
    assert APP_LABEL not in TEMPLATE["metadata"]["labels"]


def manifest(replicas=1, image="consumer:1"):
    template = {"spec": {"containers": [{"name": "c", "image": image}]}}
    return build_deployment(name="o", namespace="n", uid="u", template=template, replicas=replicas,
                            env=injected_env("b", "g", ["t"]))


def test_the_spec_hash_ignores_replicas_and_follows_everything_else():
    assert manifest(1)["metadata"]["annotations"] == manifest(7)["metadata"]["annotations"]
    assert (manifest(image="consumer:2")["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
            != manifest()["metadata"]["annotations"][SPEC_HASH_ANNOTATION])


def entry(manager, time, operation="Update", spec=True, subresource=None):
    fields = {"f:metadata": {}} | ({"f:spec": {"f:template": {}}} if spec else {})
    return {"manager": manager, "operation": operation, "time": time, "fieldsV1": fields,
            **({"subresource": subresource} if subresource else {})}


@pytest.mark.parametrize(("fields", "edited"), [
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply")], False),
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply"),
      entry("kafkaops-scaler", "2026-01-01T00:00:09Z", subresource="scale")], False),  # our own scaling
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply"),
      entry("kube-controller-manager", "2026-01-01T00:00:09Z", subresource="status")], False),
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply"),
      entry("kube-controller-manager", "2026-01-01T00:00:09Z", spec=False)], False),  # revision annotation
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply"),
      entry("kubectl-edit", "2026-01-01T00:00:09Z")], True),  # a hand edit after our apply
    ([entry("kubectl-edit", "2026-01-01T00:00:01Z"),
      entry("kafkaops", "2026-01-01T00:00:05Z", "Apply")], False),  # restored since
    ([entry("kafkaops", "2026-01-01T00:00:05Z", "Apply"),
      entry("kubectl", "2026-01-01T00:00:09Z", subresource="scale")], False),  # the scaler corrects it
])
def test_hand_edits_are_told_from_our_own_writes_by_managed_fields(fields, edited):
    assert foreign_spec_edit(fields) is edited


def test_a_deployment_is_applied_only_when_missing_out_of_date_or_edited():
    desired = manifest()
    current = desired["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
    assert needs_apply(None, desired)
    assert not needs_apply(DeploymentView(3, 3, 3, current, edited=False), desired)
    assert needs_apply(DeploymentView(3, 3, 3, current, edited=True), desired)
    assert needs_apply(DeploymentView(3, 3, 3, "old", edited=False), desired)
    body = {"metadata": {"annotations": {SPEC_HASH_ANNOTATION: current},
                         "managedFields": [entry("kafkaops", "2026-01-01T00:00:05Z", "Apply")]},
            "spec": {"replicas": 4}, "status": {"replicas": 4, "readyReplicas": 2}}
    assert deployment_view(body) == DeploymentView(4, 4, 2, current, edited=False)
