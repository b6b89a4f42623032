"""One table of tenancy cases, run through the Python rules (tests/unit/test_tenancy.py) and through
the real API server with the chart's ValidatingAdmissionPolicies (tests/e2e/test_tenancy.py): both
must give exactly the refusal written here, so the CEL and the operator's backstop agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

POLICY: dict[str, Any] = {
    "clusters": ["default", "prod-eu"],
    "topicPrefixes": ["payments.", "billing."],
    "readTopicPrefixes": ["shared.events."],
    "groupPrefixes": ["payments-"],
    "maxPartitions": 12,
    "maxReplicationFactor": 3,
    "allowDeletion": False,
    "config": {"retention.ms": {"max": 604800000}, "cleanup.policy": {"allowed": ["delete", "compact"]},
               "min.insync.replicas": {"min": 1, "max": 2}},
}
OUTSIDE = "is outside this namespace's prefixes [payments., billing.]"
READABLE = "is outside the prefixes this namespace may read [payments., billing., shared.events.]"
GROUPS = "is outside this namespace's group prefixes [payments-]"
CLUSTERS = "is not one of this namespace's clusters [default, prod-eu]"
NO_DELETE = "deletionPolicy Delete is not allowed in this namespace (allowDeletion is false)"


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # metadata.name
    spec: dict[str, Any]
    refusal: str | None  # the exact message, or None: admitted
    update: dict[str, Any] | None = field(default=None)  # a spec merged in after an admitted create


def topic(partitions: int = 3, **spec: Any) -> dict[str, Any]:
    return {"partitions": partitions, **spec}


TOPIC_CASES = [
    Case("own-topic", "payments.orders", topic(), None),
    Case("second-prefix-on-prod", "billing.invoices", topic(clusterRef={"name": "prod-eu"}), None),
    Case("name-is-the-topic", "payments.audit", topic(1), None),
    Case("outside-prefixes", "orders", topic(), f'topic "orders" {OUTSIDE}'),
    Case("topicName-wins-over-name", "payments.renamed", topic(topicName="orders"), f'topic "orders" {OUTSIDE}'),
    Case("prefix-is-not-a-word", "payments", topic(), f'topic "payments" {OUTSIDE}'),
    Case("prefix-is-case-sensitive", "payments.case", topic(topicName="Payments.orders"),
         f'topic "Payments.orders" {OUTSIDE}'),
    Case("too-many-partitions", "payments.big", topic(13),
         "13 partitions is above this namespace's maximum 12"),
    Case("partitions-at-the-maximum", "payments.max", topic(12), None),
    Case("replication-above-maximum", "payments.rf4", topic(replicationFactor=4),
         "replication factor 4 is above this namespace's maximum 3"),
    Case("replication-at-maximum", "payments.rf3", topic(replicationFactor=3), None),
    Case("deletion-not-allowed", "payments.gone", topic(deletionPolicy="Delete"), NO_DELETE),
    Case("retain-is-fine", "payments.kept", topic(deletionPolicy="Retain"), None),
    Case("cluster-not-allowed", "payments.staging", topic(clusterRef={"name": "staging"}),
         f'KafkaCluster "staging" {CLUSTERS}'),
    Case("retention-above-maximum", "payments.long", topic(config={"retention.ms": "700000000"}),
         "config retention.ms=\"700000000\" is above this namespace's maximum 604800000"),
    Case("retention-at-maximum-as-string", "payments.week", topic(config={"retention.ms": "604800000"}), None),
    Case("retention-as-integer", "payments.day", topic(config={"retention.ms": 86400000}), None),
    Case("unlimited-retention-is-above-any-maximum", "payments.forever", topic(config={"retention.ms": "-1"}),
         "config retention.ms=\"-1\" is above this namespace's maximum 604800000"),
    Case("non-numeric-retention", "payments.nan", topic(config={"retention.ms": "a week"}),
         "config retention.ms=\"a week\" is above this namespace's maximum 604800000"),
    Case("cleanup-policy-not-allowed", "payments.both", topic(config={"cleanup.policy": "compact,delete"}),
         "config cleanup.policy=\"compact,delete\" is not one of this namespace's allowed values [delete, compact]"),
    Case("cleanup-policy-allowed", "payments.compacted", topic(config={"cleanup.policy": "compact"}), None),
    Case("below-minimum", "payments.unsafe", topic(config={"min.insync.replicas": "0"}),
         "config min.insync.replicas=\"0\" is below this namespace's minimum 1"),
    Case("above-config-maximum", "payments.strict", topic(config={"min.insync.replicas": 3}),
         "config min.insync.replicas=\"3\" is above this namespace's maximum 2"),
    Case("unlisted-config-is-free", "payments.segments", topic(config={"segment.bytes": "1048576"}), None),
    Case("first-broken-rule-is-named", "orders.big", topic(20), f'topic "orders.big" {OUTSIDE}'),
    Case("first-config-key-by-name", "payments.twice",
         topic(config={"retention.ms": "-1", "cleanup.policy": "none"}),
         "config cleanup.policy=\"none\" is not one of this namespace's allowed values [delete, compact]"),
    Case("grow-past-the-maximum", "payments.grows", topic(3), "20 partitions is above this namespace's maximum 12",
         update={"partitions": 20}),
    Case("switch-to-delete", "payments.switch", topic(3), NO_DELETE, update={"deletionPolicy": "Delete"}),
    Case("raise-retention", "payments.raise", topic(3, config={"retention.ms": "1000"}),
         "config retention.ms=\"999999999999\" is above this namespace's maximum 604800000",
         update={"config": {"retention.ms": "999999999999"}}),
    Case("grow-within-the-maximum", "payments.ok", topic(3), None, update={"partitions": 6}),
]


def consumer(topics: list[str], group: str | None = "payments-app", **spec: Any) -> dict[str, Any]:
    return {"topics": topics, **({"groupId": group} if group is not None else {}), **spec}


CONSUMER_CASES = [
    Case("own-topic", "c1", consumer(["payments.orders"]), None),
    Case("shared-read-prefix", "c2", consumer(["shared.events.clicks"]), None),
    Case("second-own-prefix", "c3", consumer(["billing.invoices"]), None),
    Case("several-readable-topics", "c4", consumer(["payments.a", "billing.b", "shared.events.c"]), None),
    Case("group-outside-prefixes", "c5", consumer(["payments.orders"], "orders-consumer"),
         f'group "orders-consumer" {GROUPS}'),
    Case("name-is-the-group", "consumer", consumer(["payments.orders"], None), f'group "consumer" {GROUPS}'),
    Case("name-as-group-allowed", "payments-worker", consumer(["payments.orders"], None), None),
    Case("group-prefix-is-not-a-word", "c6", consumer(["payments.orders"], "payments"), f'group "payments" {GROUPS}'),
    Case("group-equal-to-prefix", "c7", consumer(["payments.orders"], "payments-"), None),
    Case("foreign-topic", "c8", consumer(["inventory.stock"]), f'topic "inventory.stock" {READABLE}'),
    Case("second-topic-foreign", "c9", consumer(["payments.orders", "secrets.keys"]),
         f'topic "secrets.keys" {READABLE}'),
    Case("near-miss-of-read-prefix", "c10", consumer(["shared.other"]), f'topic "shared.other" {READABLE}'),
    Case("topic-prefix-is-not-a-word", "c11", consumer(["payments"]), f'topic "payments" {READABLE}'),
    Case("topic-case-sensitive", "c12", consumer(["Payments.orders"]), f'topic "Payments.orders" {READABLE}'),
    Case("read-prefix-itself", "c13", consumer(["shared.events."]), None),
    Case("cluster-not-allowed", "c14", consumer(["payments.orders"], clusterRef={"name": "staging"}),
         f'KafkaCluster "staging" {CLUSTERS}'),
    Case("other-allowed-cluster", "c15", consumer(["payments.orders"], clusterRef={"name": "prod-eu"}), None),
    Case("default-cluster-by-name", "c16", consumer(["payments.orders"], clusterRef={"name": "default"}), None),
    Case("cluster-checked-first", "c17", consumer(["secrets.keys"], "x", clusterRef={"name": "staging"}),
         f'KafkaCluster "staging" {CLUSTERS}'),
    Case("group-checked-before-topics", "c18", consumer(["secrets.keys"], "x"), f'group "x" {GROUPS}'),
    Case("add-a-foreign-topic", "c19", consumer(["payments.orders"]), f'topic "inventory.stock" {READABLE}',
         update={"topics": ["payments.orders", "inventory.stock"]}),
    Case("replace-with-a-foreign-topic", "c20", consumer(["payments.orders"]), f'topic "inventory.stock" {READABLE}',
         update={"topics": ["inventory.stock"]}),
    Case("add-a-readable-topic", "c21", consumer(["payments.orders"]), None,
         update={"topics": ["payments.orders", "shared.events.clicks"]}),
]


def acl(resource_type: str, name: str | None, *operations: str, pattern: str = "literal",
        permission: str = "allow") -> dict[str, Any]:
    resource = {"type": resource_type, "patternType": pattern, **({"name": name} if name is not None else {})}
    return {"resource": resource, "operations": list(operations), "type": permission}


def user(*acls: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"authentication": {"type": "scram-sha-512"}, "authorization": {"acls": list(acls)}, **spec}


ACL_READ = "is outside the prefixes this namespace may read [payments., billing., shared.events.]"
USER_CASES = [
    Case("own-topic-all-rights", "u1", user(acl("topic", "payments.orders", "All")), None),
    Case("own-prefix-acl", "u2", user(acl("topic", "payments.", "Read", "Write", pattern="prefix")), None),
    Case("read-shared-topic", "u3", user(acl("topic", "shared.events.clicks", "Read", "Describe")), None),
    Case("write-shared-topic", "u4", user(acl("topic", "shared.events.clicks", "Write")),
         'ACL on topic "shared.events.clicks" is outside this namespace\'s prefixes [payments., billing.]'),
    Case("foreign-topic", "u5", user(acl("topic", "inventory.stock", "Read")),
         f'ACL on topic "inventory.stock" {ACL_READ}'),
    Case("prefix-wider-than-allowed", "u6", user(acl("topic", "pay", "Read", pattern="prefix")),
         f'ACL on topic "pay" {ACL_READ}'),
    Case("own-group", "u7", user(acl("group", "payments-app", "Read")), None),
    Case("foreign-group", "u8", user(acl("group", "inventory-app", "Read")),
         'ACL on group "inventory-app" is outside this namespace\'s group prefixes [payments-]'),
    Case("transactional-id", "u9", user(acl("transactionalId", "payments-tx", "Write", "Describe")), None),
    Case("foreign-transactional-id", "u10", user(acl("transactionalId", "tx", "Write")),
         'ACL on transactionalId "tx" is outside this namespace\'s group prefixes [payments-]'),
    Case("cluster-rights", "u11", user(acl("cluster", None, "Create")),
         "an ACL on the cluster resource is not allowed in this namespace (cluster rights are the platform's)"),
    Case("deny-anything", "u12", user(acl("topic", "inventory.stock", "Read", permission="deny")), None),
    Case("first-bad-acl-named", "u13", user(acl("topic", "payments.ok", "Read"), acl("group", "x", "Read"),
                                            acl("topic", "y", "Read")),
         'ACL on group "x" is outside this namespace\'s group prefixes [payments-]'),
    Case("cluster-not-allowed", "u14", user(acl("topic", "payments.a", "Read"), clusterRef={"name": "staging"}),
         f'KafkaCluster "staging" {CLUSTERS}'),
    Case("no-acls", "u15", user(), None),
    Case("grant-a-foreign-topic-later", "u16", user(acl("topic", "payments.a", "Read")),
         f'ACL on topic "inventory.stock" {ACL_READ}',
         update={"authorization": {"acls": [acl("topic", "inventory.stock", "Read")]}}),
]
