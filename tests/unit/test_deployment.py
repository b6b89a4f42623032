from __future__ import annotations

import pytest

from kafkaops.consumers.deployment import APP_LABEL, build_deployment, injected_env

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
