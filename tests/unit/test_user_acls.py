"""The ACLs a KafkaUser should have and the diff against the broker's, as tables."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import pytest

from kafkaops.types.users import (
    Acl,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
    principal_for,
)
from kafkaops.users.acls import acl_changes, consumer_acls, desired_acls, sync_acls, username_for
from kafkaops.users.spec import parse_user_spec

pytestmark = pytest.mark.unit
ME, OTHER = "User:team-a.app", "User:team-b.app"
R, D, W, ALL = AclOperation.READ, AclOperation.DESCRIBE, AclOperation.WRITE, AclOperation.ALL
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP


def acl(name: str, operation: AclOperation = R, *, principal: str = ME, resource_type: ResourceType = TOPIC,
        pattern: PatternType = PatternType.LITERAL, permission: AclPermission = AclPermission.ALLOW,
        host: str = "*") -> Acl:
    return Acl(resource_type=resource_type, resource_name=name, pattern_type=pattern, principal=principal,
               operation=operation, permission=permission, host=host)


def spec(*acls: dict) -> object:
    return parse_user_spec({"authentication": {"type": "scram-sha-512"}, "authorization": {"acls": list(acls)}})


@pytest.mark.parametrize(("rules", "expected"), [
    ((), set()),
    (({"resource": {"type": "topic", "name": "t"}, "operations": ["Read", "Describe"]},), {acl("t"), acl("t", D)}),
    (({"resource": {"type": "topic", "name": "t."}, "operations": ["Read"]},
      {"resource": {"type": "topic", "name": "t.", "patternType": "prefix"}, "operations": ["Read"]}),
     {acl("t."), acl("t.", pattern=PatternType.PREFIXED)}),
    (({"resource": {"type": "group", "name": "g"}, "operations": ["Read"], "type": "deny", "host": "10.1.2.3"},),
     {acl("g", resource_type=GROUP, permission=AclPermission.DENY, host="10.1.2.3")}),
    (({"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]},),
     {acl("kafka-cluster", AclOperation.IDEMPOTENT_WRITE, resource_type=ResourceType.CLUSTER)}),
    # the same grant twice in the spec is one ACL on the broker
    (({"resource": {"type": "topic", "name": "t"}, "operations": ["Read", "Read"]},
      {"resource": {"type": "topic", "name": "t"}, "operations": ["Read"]}), {acl("t")}),
], ids=["none", "one-per-operation", "literal-and-prefix-differ", "deny-and-host", "cluster", "duplicates"])
def test_desired_acls(rules, expected):
    assert desired_acls(ME, spec(*rules)) == frozenset(expected)


@pytest.mark.parametrize(("desired", "actual", "create", "delete"), [
    ({acl("t")}, {acl("t")}, set(), set()),
    (set(), set(), set(), set()),
    ({acl("t"), acl("t", D)}, set(), {acl("t"), acl("t", D)}, set()),
    (set(), {acl("t"), acl("g", resource_type=GROUP)}, set(), {acl("t"), acl("g", resource_type=GROUP)}),
    ({acl("t"), acl("u")}, {acl("t")}, {acl("u")}, set()),  # removed by hand: comes back
    ({acl("t")}, {acl("t"), acl("x", W)}, set(), {acl("x", W)}),  # added by hand: goes
    ({acl("t")}, {acl("t", ALL)}, {acl("t")}, {acl("t", ALL)}),
    ({acl("t")}, {acl("t", pattern=PatternType.PREFIXED)}, {acl("t")}, {acl("t", pattern=PatternType.PREFIXED)}),
    ({acl("t")}, {acl("t", host="10.0.0.1")}, {acl("t")}, {acl("t", host="10.0.0.1")}),
    ({acl("t")}, {acl("t", permission=AclPermission.DENY)}, {acl("t")}, {acl("t", permission=AclPermission.DENY)}),
    # another principal's ACLs are left alone, even the same grant
    ({acl("t")}, {acl("t", principal=OTHER), acl("x", principal=OTHER)}, {acl("t")}, set()),
    (set(), {acl("t", principal=OTHER), acl("t")}, set(), {acl("t")}),
], ids=["equal", "both-empty", "all-new", "spec-empty", "drift-removed", "drift-added", "operation-changed",
        "pattern-changed", "host-changed", "permission-changed", "others-kept", "others-kept-empty-spec"])
def test_acl_changes(desired, actual, create, delete):
    assert acl_changes(desired, actual, principal=ME) == (frozenset(create), frozenset(delete))


def test_acl_changes_refuses_desired_acls_of_another_principal():
    with pytest.raises(ValueError, match=r"User:team-b\.app"):
        acl_changes({acl("t", principal=OTHER)}, set(), principal=ME)


def test_applying_the_changes_converges():
    desired, actual = {acl("t"), acl("u", D)}, {acl("t", W), acl("t", principal=OTHER)}
    create, delete = acl_changes(desired, actual, principal=ME)
    after = (frozenset(actual) | create) - delete
    assert acl_changes(desired, after, principal=ME) == (frozenset(), frozenset())
    assert acl("t", principal=OTHER) in after


def test_consumer_acls_are_least_privilege_and_literal():
    assert consumer_acls(ME, ["orders", "payments"], "billing") == {
        acl("orders"), acl("orders", D), acl("payments"), acl("payments", D), acl("billing", resource_type=GROUP)}
    assert consumer_acls(ME, ["orders", "orders"], "g") == {acl("orders"), acl("orders", D),
                                                           acl("g", resource_type=GROUP)}


@pytest.mark.parametrize(("namespace", "name", "username"), [
    ("team-a", "app", "team-a.app"),
    ("team-a", "app.v2", "team-a.app.v2"),
    ("a", "b" * 253, "a." + "b" * 253),
])
def test_username_for(namespace, name, username):
    assert username_for(namespace, name) == username
    assert principal_for(username) == f"User:{username}"


def test_usernames_cannot_collide_across_namespaces():
    """Object names may have dots, namespaces may not: the first dot splits a user name back."""
    keys = [("team-a", "b.c"), ("team-a.b", "c"), ("team", "a.b.c"), ("team-a-b", "c"), ("team-a", "b-c")]
    valid = [key for key in keys if "." not in key[0]]
    names = [username_for(*key) for key in valid]
    assert len(set(names)) == len(names)
    assert [tuple(n.split(".", 1)) for n in names] == valid


@pytest.mark.parametrize(("namespace", "name"), [
    ("team.a", "app"), ("Team", "app"), ("", "app"), ("a" * 64, "app"), ("ns", "App"), ("ns", ""),
    ("ns", "a" * 254), ("ns", "a,b"), ("ns", "a=b"),
])
def test_username_for_refuses_what_kubernetes_would_not_name(namespace, name):
    with pytest.raises(ValueError):
        username_for(namespace, name)


@pytest.mark.parametrize("principal", ["team-a.app", "user:x", "User:", ""])
def test_an_acl_needs_a_user_principal(principal):
    with pytest.raises(ValueError):
        acl("t", principal=principal)


class RecordingAdmin:
    """A UserAdmin that keeps ACLs in a set and records every write."""

    def __init__(self, acls: Collection[Acl]) -> None:
        self.acls = set(acls)
        self.writes: list[tuple[str, frozenset[Acl]]] = []

    async def describe_acls(self, principal: str) -> frozenset[Acl]:
        return frozenset(a for a in self.acls if a.principal == principal)

    async def create_acls(self, acls: Collection[Acl]) -> None:
        self.writes.append(("create", frozenset(acls)))
        self.acls |= set(acls)

    async def delete_acls(self, acls: Collection[Acl]) -> None:
        self.writes.append(("delete", frozenset(acls)))
        self.acls -= set(acls)


def test_sync_acls_creates_before_deleting_and_then_writes_nothing():
    admin = RecordingAdmin({acl("t", W), acl("t", principal=OTHER)})
    desired = {acl("t"), acl("t", D)}
    first = asyncio.run(sync_acls(admin, ME, desired))  # type: ignore[arg-type]
    assert first == (frozenset(desired), frozenset({acl("t", W)}))
    assert [kind for kind, _ in admin.writes] == ["create", "delete"]
    assert asyncio.run(sync_acls(admin, ME, desired)) == (frozenset(), frozenset())  # type: ignore[arg-type]
    assert len(admin.writes) == 2
    assert admin.acls == {*desired, acl("t", principal=OTHER)}
