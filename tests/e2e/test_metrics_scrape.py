"""The operator's /metrics, scraped while it runs against the real broker and API server: the
values match what the broker holds, and a deleted resource's series disappear."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from helpers import eventually
from kafka_clients import commit_offsets

pytestmark = pytest.mark.e2e

GROUP, VERSION = "kafkaops.io", "v1alpha1"
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}
Series = dict[str, dict[frozenset[tuple[str, str]], float]]


def scrape(url: str) -> Series:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return series


def labelled(series: Series, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    wanted = set(labels.items())
    return {key: value for key, value in series.get(name, {}).items() if wanted <= key}


def test_scrape_matches_the_broker_and_forgets_deleted_resources(api, topics, namespace, kafka, metrics_url):
    topic, group = f"metered_{uuid.uuid4().hex[:6]}", f"metered-{uuid.uuid4().hex[:6]}"
    topics.create("metered", {"topicName": topic, "partitions": 4})
    topics.wait("metered", "Created")
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 5})
    for partition in range(4):
        for i in range(10):
            producer.produce(topic, value=b"%d" % i, partition=partition)
    assert producer.flush(30) == 0
    commit_offsets({"bootstrap.servers": kafka.bootstrap_servers}, group,
                   [TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 3)])
    # Unconsumed: partition 1: 7; partitions 2 and 3 never committed, counted from the earliest: 10 each.
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "metered"},
        "spec": {"groupId": group, "topics": [topic], "template": TEMPLATE, "autoOffsetReset": "earliest",
                 "scaling": {"minReplicas": 1, "maxReplicas": 2, "lagThreshold": 100, "pollIntervalSeconds": 1}}})

    def lag_exported() -> Series | None:
        series = scrape(metrics_url)
        return series if labelled(series, "kafka_consumergroup_lag_sum", consumergroup=group) else None

    series = eventually(lag_exported, timeout=60, what="lag series of the new group")
    per_partition = {dict(key)["partition"]: value
                     for key, value in labelled(series, "kafka_consumergroup_lag", consumergroup=group).items()}
    assert per_partition == {"0": 0, "1": 7, "2": 10, "3": 10}
    assert labelled(series, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == {
        frozenset({("consumergroup", group), ("topic", topic), ("cluster", "default")}): 27}
    assert list(labelled(series, "kafkaops_consumergroup_members", consumergroup=group).values()) == [0]
    assert list(labelled(series, "kafkaops_consumerapp_desired_replicas", namespace=namespace,
                         consumerapp="metered").values()) == [1]  # ceil(27 / 100)
    assert list(labelled(series, "kafkaops_topic_partitions", namespace=namespace, topic=topic).values()) == [4]
    assert list(labelled(series, "kafkaops_topic_ready", namespace=namespace, kafkatopic="metered").values()) == [1]
    assert labelled(series, "kafkaops_reconciliations_total", kind="KafkaTopic", result="ok")
    assert sum(labelled(series, "kafkaops_admin_request_duration_seconds_count", operation="list_offsets").values())
    assert sum(series["kafkaops_lag_collection_duration_seconds_count"].values()) >= 1

    api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", "metered")
    topics.delete("metered")

    def forgotten() -> bool:
        series = scrape(metrics_url)
        return not (labelled(series, "kafka_consumergroup_lag", consumergroup=group)
                    or labelled(series, "kafkaops_consumerapp_replicas", namespace=namespace, consumerapp="metered")
                    or labelled(series, "kafkaops_topic_ready", namespace=namespace, kafkatopic="metered"))

    eventually(forgotten, timeout=60, what="series of the deleted ConsumerApp and KafkaTopic gone")
