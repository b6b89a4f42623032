"""The ACLs a KafkaUser should have, and what to change on the broker to get there.

A user's ACLs are owned by its KafkaUser: every ACL of the user's principal that the spec does not
list is removed (also one added by hand: that is drift), and no other principal's ACL is touched.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from kafkaops.types.users import (
    Acl,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
    UserAdmin,
)
from kafkaops.users.spec import KafkaUserSpec

# Kubernetes names: a namespace is an RFC 1123 label (no dots), an object name a DNS subdomain.
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def username_for(namespace: str, name: str) -> str:
    """The Kafka user name of the KafkaUser ``namespace/name``: ``<namespace>.<name>``.

    It cannot collide across namespaces: a namespace has no dot, so the first dot always splits
    the user name back into the same (namespace, name). It is stable (a function of the key
    alone, no hash or counter). It needs no SCRAM escaping (only a-z, 0-9, '-' and '.', never
    the '=' and ',' that SCRAM's saslname escapes) and is at most 63 + 1 + 253 = 317 characters
    (Kafka stores SCRAM user names and ACL principals as plain strings; the harness broker takes
    400). Raises ValueError for something that is not a Kubernetes namespace and name.
    """
    if len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"{namespace!r} is not a Kubernetes namespace name")
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a Kubernetes object name")
    return f"{namespace}.{name}"


def desired_acls(principal: str, spec: KafkaUserSpec) -> frozenset[Acl]:
    """The spec's ACLs for ``principal``, one entry per operation (as Kafka stores them)."""
    return frozenset(
        Acl(resource_type=rule.resource.type, resource_name=rule.resource.resource_name,
            pattern_type=rule.resource.kafka_pattern_type, principal=principal, host=rule.host,
            operation=operation, permission=rule.type)
        for rule in spec.authorization.acls for operation in rule.operations)


def consumer_acls(principal: str, topics: Iterable[str], group: str) -> frozenset[Acl]:
    """Least privilege for a ConsumerApp's own user: Read and Describe on each of its topics and
    Read on its group, all literal (a prefix would grant topics the app does not name)."""
    def allow(resource_type: ResourceType, name: str, operation: AclOperation) -> Acl:
        return Acl(resource_type=resource_type, resource_name=name, pattern_type=PatternType.LITERAL,
                   principal=principal, operation=operation, permission=AclPermission.ALLOW)

    return frozenset({allow(ResourceType.TOPIC, topic, op) for topic in topics
                      for op in (AclOperation.READ, AclOperation.DESCRIBE)}
                     | {allow(ResourceType.GROUP, group, AclOperation.READ)})


def acl_changes(desired: Collection[Acl], actual: Collection[Acl], *, principal: str
                ) -> tuple[frozenset[Acl], frozenset[Acl]]:
    """(to create, to delete) that turn ``actual`` into ``desired`` for ``principal``: both empty
    when nothing differs. ``actual`` may hold other principals' ACLs; they are never deleted.
    ``principal`` is explicit so that an empty spec still removes the user's ACLs."""
    strangers = sorted({acl.principal for acl in desired} - {principal})
    if strangers:
        raise ValueError(f"desired ACLs of {principal} name other principals: {', '.join(strangers)}")
    wanted = frozenset(desired)
    mine = frozenset(acl for acl in actual if acl.principal == principal)
    return wanted - mine, mine - wanted


async def sync_acls(admin: UserAdmin, principal: str, desired: Collection[Acl]
                    ) -> tuple[frozenset[Acl], frozenset[Acl]]:
    """Describe the principal's ACLs, create what is missing and delete what the spec does not
    list (creations first, so that a rule changed in place is never absent). Writes nothing when
    nothing differs. Returns (created, deleted), for Events."""
    to_create, to_delete = acl_changes(desired, await admin.describe_acls(principal), principal=principal)
    if to_create:
        await admin.create_acls(to_create)
    if to_delete:
        await admin.delete_acls(to_delete)
    return to_create, to_delete
