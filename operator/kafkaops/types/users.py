"""What the KafkaUser domain and the Kafka adapter exchange: one ACL entry as Kafka stores it, a
SCRAM credential as the broker describes it (never its password), and the admin calls a user
needs (a Protocol: the adapter satisfies it without importing it).

The names are Kafka's own (``kafka-acls.sh`` and the Java ``AclOperation``), so what the status
and the logs show reads the same as what a Kafka administrator sees.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

PRINCIPAL_TYPE = "User:"
ANY_HOST = "*"
# The one name Kafka accepts for the cluster resource.
CLUSTER_RESOURCE_NAME = "kafka-cluster"


class ResourceType(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    CLUSTER = "cluster"
    TRANSACTIONAL_ID = "transactionalId"


class PatternType(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class AclOperation(StrEnum):
    """The operations librdkafka can create and describe (Kafka's CreateTokens and DescribeTokens,
    on USER resources, it cannot)."""

    ALL = "All"
    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DELETE = "Delete"
    ALTER = "Alter"
    DESCRIBE = "Describe"
    CLUSTER_ACTION = "ClusterAction"
    DESCRIBE_CONFIGS = "DescribeConfigs"
    ALTER_CONFIGS = "AlterConfigs"
    IDEMPOTENT_WRITE = "IdempotentWrite"


class AclPermission(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


# Kafka's AclEntry.supportedOperations: anything else on that resource type grants nothing.
SUPPORTED_OPERATIONS: dict[ResourceType, frozenset[AclOperation]] = {
    ResourceType.TOPIC: frozenset({AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE,
                                   AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS,
                                   AclOperation.ALTER_CONFIGS, AclOperation.ALL}),
    ResourceType.GROUP: frozenset({AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE, AclOperation.ALL}),
    ResourceType.CLUSTER: frozenset({AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
                                     AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER,
                                     AclOperation.DESCRIBE, AclOperation.ALL}),
    ResourceType.TRANSACTIONAL_ID: frozenset({AclOperation.DESCRIBE, AclOperation.WRITE, AclOperation.ALL}),
}


def principal_for(username: str) -> str:
    """The principal a SCRAM user authenticates as (exactly this string: the broker compares
    principals of ACLs as strings, so ``user:x`` or ``User: x`` would name somebody else)."""
    return f"{PRINCIPAL_TYPE}{username}"


@dataclass(frozen=True, kw_only=True, order=True)
class Acl:
    """One ACL binding: one operation of one principal on one resource pattern."""

    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    principal: str
    operation: AclOperation
    permission: AclPermission
    host: str = ANY_HOST

    def __post_init__(self) -> None:
        if not self.principal.startswith(PRINCIPAL_TYPE) or len(self.principal) == len(PRINCIPAL_TYPE):
            raise ValueError(f"principal {self.principal!r} must be {PRINCIPAL_TYPE}<name>")
        if not self.resource_name:
            raise ValueError("an ACL needs a resource name")

    def __str__(self) -> str:
        """Kafka's own rendering, for Events and logs."""
        pattern = "" if self.pattern_type is PatternType.LITERAL else f" ({self.pattern_type})"
        return (f"{self.principal} {self.permission} {self.operation} on {self.resource_type} "
                f"{self.resource_name}{pattern} from {self.host}")


@dataclass(frozen=True, kw_only=True)
class ScramCredential:
    """A user's SCRAM credential as the broker describes it: mechanism and iterations, never
    the password or the salt (the broker does not give them back)."""

    username: str
    mechanism: str
    iterations: int


class UserAdmin(Protocol):
    """What reconciling a KafkaUser needs from the Kafka adapter. Deleting what does not exist
    is not an error; every call is bounded in time (KafkaUnavailable when it runs out)."""

    async def upsert_scram_credential(self, username: str, password: str) -> None: ...
    async def describe_scram_credentials(self, username: str) -> tuple[ScramCredential, ...]: ...
    async def delete_scram_credential(self, username: str) -> None: ...
    async def describe_acls(self, principal: str) -> frozenset[Acl]: ...
    async def create_acls(self, acls: Collection[Acl]) -> None: ...
    async def delete_acls(self, acls: Collection[Acl]) -> None: ...
    async def delete_all_acls(self, principal: str) -> int: ...


@dataclass(frozen=True)
class SecretView:
    """What the operator read of a Secret: decoded data (never logged), resourceVersion, owner uids."""

    data: Mapping[str, str]
    version: str
    owners: tuple[str, ...]
