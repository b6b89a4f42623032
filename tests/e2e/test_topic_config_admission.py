"""The real API server refuses a KafkaTopic whose config names a key Kafka does not define (the
CRD's rule, generated from Kafka's TopicConfig), unless spec.extraConfigKeys names it."""

from __future__ import annotations

import json

import pytest
from clusters import GROUP, VERSION
from kubernetes import client

from kafkaops.topics.config_keys import KAFKA_VERSION, TOPIC_CONFIG_KEYS

pytestmark = pytest.mark.e2e


def create(api: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, object]) -> dict[str, object]:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic", "metadata": {"name": name}, "spec": spec}
    return api.create_namespaced_custom_object(GROUP, VERSION, namespace, "kafkatopics", body)


def refusal(call) -> str:
    with pytest.raises(client.ApiException) as error:
        call()
    assert error.value.status == 422, error.value.body
    return json.loads(error.value.body)["message"]


def test_unknown_config_key_is_refused_with_its_name_and_the_way_out(api, crds, namespace):
    message = refusal(lambda: create(api, namespace, "typo", {"partitions": 1, "config": {"retention.msx": "1"}}))
    assert f'config key "retention.msx" is not a Kafka {KAFKA_VERSION} topic config' in message
    assert "spec.extraConfigKeys" in message


def test_every_kafka_key_passes_and_an_extra_key_passes_only_when_named(api, crds, namespace):
    every = {key: "1" for key in sorted(TOPIC_CONFIG_KEYS)}  # admission checks keys; values are the broker's
    create(api, namespace, "every-key", {"partitions": 1, "config": every})
    vendor = {"partitions": 1, "config": {"retention.ms": 1000, "confluent.placement.constraints": "{}"}}
    refusal(lambda: create(api, namespace, "vendor-refused", vendor))
    create(api, namespace, "vendor", {**vendor, "extraConfigKeys": ["confluent.placement.constraints"]})


def test_an_update_that_adds_an_unknown_key_is_refused(api, crds, namespace):
    create(api, namespace, "grows", {"partitions": 1, "config": {"retention.ms": "1000"}})
    message = refusal(lambda: api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "kafkatopics", "grows", {"spec": {"config": {"cleanup.polcy": "compact"}}}))
    assert '"cleanup.polcy"' in message
