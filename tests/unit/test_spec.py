"""Spec validation: every bad input gets a clear, user-facing message."""

from __future__ import annotations

import pytest

from kafkaops.topics.spec import parse_topic_spec
from kafkaops.types.errors import InvalidSpec

pytestmark = pytest.mark.unit


def test_defaults_and_value_rendering():
    spec = parse_topic_spec({"partitions": 1, "config": {"retention.ms": 1000, "preallocate": True}})
    assert spec.deletion_policy == "Retain"
    assert spec.replication_factor is None
    assert spec.config == {"retention.ms": "1000", "preallocate": "true"}
    assert spec.kafka_name("meta-name") == "meta-name"
    assert parse_topic_spec({"partitions": 1, "topicName": "a.b_c"}).kafka_name("meta") == "a.b_c"


@pytest.mark.parametrize(("raw", "fragment"), [
    ({}, "spec.partitions"),
    ({"partitions": 0}, "spec.partitions"),
    ({"partitions": "three"}, "spec.partitions"),
    ({"partitions": 1, "replicationFactor": 0}, "spec.replicationFactor"),
    ({"partitions": 1, "topicName": "."}, "not allowed"),
    ({"partitions": 1, "topicName": ".."}, "not allowed"),
    ({"partitions": 1, "topicName": "has space"}, "1-249 characters"),
    ({"partitions": 1, "topicName": "x" * 250}, "1-249 characters"),
    ({"partitions": 1, "topicName": "ünïcode"}, "1-249 characters"),
    ({"partitions": 1, "deletionPolicy": "Orphan"}, "spec.deletionPolicy"),
    ({"partitions": 1, "config": {"a": {"nested": 1}}}, "spec.config"),
    ({"partitions": 1, "config": ["retention.ms"]}, "spec.config"),
    ({"partitions": 1, "unknownField": 1}, "spec.unknownField"),
])
def test_bad_specs_are_refused_with_the_field_named(raw, fragment):
    with pytest.raises(InvalidSpec) as error:
        parse_topic_spec(raw)
    assert fragment in str(error.value)
