"""The KafkaUser spec model: what it accepts, what it refuses and with which message."""

from __future__ import annotations

import pytest

from kafkaops.types.errors import InvalidSpec
from kafkaops.types.users import AclOperation, AclPermission, PatternType, ResourceType
from kafkaops.users.spec import parse_user_spec

pytestmark = pytest.mark.unit
SCRAM = {"type": "scram-sha-512"}


def with_acls(*acls: dict) -> dict:
    return {"authentication": SCRAM, "authorization": {"acls": list(acls)}}


def test_minimal_spec_defaults():
    spec = parse_user_spec({"authentication": SCRAM})
    assert spec.cluster == "default"
    assert spec.authentication.password_secret_ref is None
    assert spec.authorization.acls == ()


def test_full_spec_with_aliases():
    spec = parse_user_spec({
        "clusterRef": {"name": "prod"},
        "authentication": {"type": "scram-sha-512", "passwordSecretRef": {"name": "my-password", "key": "pw"}},
        "authorization": {"acls": [
            {"resource": {"type": "topic", "name": "orders.", "patternType": "prefix"},
             "operations": ["Read", "Describe"], "host": "10.0.0.1", "type": "deny"},
            {"resource": {"type": "transactionalId", "name": "tx"}, "operations": ["Write"]},
            {"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]},
        ]},
    })
    assert spec.cluster == "prod"
    assert (spec.authentication.password_secret_ref.name, spec.authentication.password_secret_ref.key) == (
        "my-password", "pw")
    topic, tx, cluster = spec.authorization.acls
    assert topic.resource.kafka_pattern_type is PatternType.PREFIXED
    assert topic.operations == (AclOperation.READ, AclOperation.DESCRIBE)
    assert (topic.host, topic.type) == ("10.0.0.1", AclPermission.DENY)
    assert tx.resource.type is ResourceType.TRANSACTIONAL_ID and tx.resource.kafka_pattern_type is PatternType.LITERAL
    assert (tx.host, tx.type) == ("*", AclPermission.ALLOW)
    assert cluster.resource.resource_name == "kafka-cluster"


@pytest.mark.parametrize("host", ["*", "10.1.2.3", "fd00::1"])
def test_hosts_are_any_or_an_ip_address(host):
    spec = parse_user_spec(with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["Read"],
                                      "host": host}))
    assert spec.authorization.acls[0].host == host


def test_password_secret_key_defaults_to_password():
    spec = parse_user_spec({"authentication": {**SCRAM, "passwordSecretRef": {"name": "s"}}})
    assert spec.authentication.password_secret_ref.key == "password"


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "spec.authentication: Field required"),
    ({"authentication": {"type": "scram-sha-256"}}, "spec.authentication.type"),
    ({"authentication": {**SCRAM, "passwordSecretRef": {"name": "Not_A_Name"}}},
     "spec.authentication.passwordSecretRef.name"),
    ({"authentication": SCRAM, "extra": 1}, "spec.extra: Extra inputs are not permitted"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": []}), "spec.authorization.acls.0.operations"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["read"]}), "operations.0"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["CreateTokens"]}), "operations.0"),
    (with_acls({"resource": {"type": "topic", "name": "t", "patternType": "prefixed"}, "operations": ["Read"]}),
     "patternType"),
    (with_acls({"resource": {"type": "user", "name": "t"}, "operations": ["Read"]}), "resource.type"),
    (with_acls({"resource": {"type": "topic"}, "operations": ["Read"]}), "a topic resource needs a name"),
    (with_acls({"resource": {"type": "group", "name": "g"}, "operations": ["Write"]}),
     "Write cannot be granted on a group (allowed: All, Delete, Describe, Read)"),
    (with_acls({"resource": {"type": "transactionalId", "name": "x"}, "operations": ["Read"]}),
     "Read cannot be granted on a transactionalId"),
    (with_acls({"resource": {"type": "cluster", "name": "my-cluster"}, "operations": ["Describe"]}),
     "a cluster resource is always the literal name 'kafka-cluster'"),
    (with_acls({"resource": {"type": "cluster", "patternType": "prefix"}, "operations": ["Describe"]}),
     "a cluster resource is always the literal name 'kafka-cluster'"),
    (with_acls({"resource": {"type": "topic", "name": "no spaces"}, "operations": ["Read"]}),
     "topic name 'no spaces' must be '*' or"),
    (with_acls({"resource": {"type": "topic", "name": "*", "patternType": "prefix"}, "operations": ["Read"]}),
     "'*' is a literal wildcard"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["Read"], "type": "permit"}),
     "acls.0.type"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["Read"], "host": ""}), "acls.0.host"),
    (with_acls({"resource": {"type": "topic", "name": "t"}, "operations": ["Read"], "host": "app.example.com"}),
     "host 'app.example.com' must be '*' or an IP address"),
])
def test_refused_specs_say_where_and_why(spec, message):
    with pytest.raises(InvalidSpec) as raised:
        parse_user_spec(spec)
    assert message in str(raised.value)


@pytest.mark.parametrize(("resource", "operations"), [
    ({"type": "topic", "name": "*"}, ["All"]),
    ({"type": "topic", "name": "a", "patternType": "prefix"}, ["Write", "Create", "Delete", "Alter",
                                                              "DescribeConfigs", "AlterConfigs"]),
    ({"type": "group", "name": "any group name, Kafka allows it"}, ["Read", "Describe", "Delete"]),
    ({"type": "group", "name": "team-", "patternType": "prefix"}, ["Read"]),
    ({"type": "cluster", "name": "kafka-cluster"}, ["Create", "ClusterAction", "Alter", "AlterConfigs",
                                                    "DescribeConfigs", "Describe", "IdempotentWrite"]),
    ({"type": "transactionalId", "name": "tx-", "patternType": "prefix"}, ["Describe", "Write"]),
])
def test_accepted_resources(resource, operations):
    spec = parse_user_spec(with_acls({"resource": resource, "operations": operations}))
    assert [op.value for op in spec.authorization.acls[0].operations] == operations
