"""The generated list of topic config keys is exactly what the harness's Kafka broker describes
for a real topic: a Kafka upgrade that adds or drops a key fails here until the list is regenerated
(kafkaops.harness.topic_config_keys)."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from kafkaops.harness.kafka import KAFKA_VERSION as HARNESS_KAFKA_VERSION
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.topics.config_keys import KAFKA_VERSION, TOPIC_CONFIG_KEYS

pytestmark = pytest.mark.integration


def test_generated_keys_equal_the_brokers_describe_configs_of_a_topic(kafka: KafkaCluster):
    assert HARNESS_KAFKA_VERSION == KAFKA_VERSION, "regenerate: kafkaops.harness.topic_config_keys"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    name = f"config-keys-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    try:
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        described = admin.describe_configs([resource])[resource].result(timeout=30)
    finally:
        admin.delete_topics([name])[name].result(timeout=30)
    assert set(described) == TOPIC_CONFIG_KEYS
