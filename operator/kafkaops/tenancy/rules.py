"""A namespace's KafkaAccessPolicy and the rules it sets, as plain functions.

The same rules run twice: at admission, as the CEL of the chart's ValidatingAdmissionPolicies
(``charts/kafkaops/templates/tenancy.yaml``), and at reconcile time in the controllers, as the
backstop for objects stored before a policy changed or on API servers without the admission
policy. A shared table of cases (``tests/tenancy_cases.py``) runs through both and proves they
agree, message for message: keep the order of the checks and the wording here and in the CEL
the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kafkaops.types.errors import InvalidSpec
from kafkaops.types.specs import DEFAULT_CLUSTER, parse_spec

# One policy per namespace, by name: the admission binding looks it up by this name in the
# request's namespace (several policies would each have to allow, which nobody expects).
POLICY_NAME = "default"
_INTEGER = re.compile(r"^-?[0-9]+$")


class TenancyMode(StrEnum):
    """What a namespace WITHOUT a policy may do (a namespace with one is always held to it)."""

    OFF = "off"  # anything, as before tenancy existed
    AUDIT = "audit"  # anything, with a Warning Event per object saying it would be refused
    ENFORCE = "enforce"  # nothing, unless the namespace is trusted


class ConfigLimit(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    min: int | None = None
    max: int | None = None
    allowed: tuple[str, ...] | None = None


class AccessPolicy(BaseModel):
    """``KafkaAccessPolicy.spec``: every list is an allow-list, and what is not listed is refused."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    clusters: tuple[str, ...] = (DEFAULT_CLUSTER,)
    topic_prefixes: tuple[str, ...] = Field(alias="topicPrefixes")
    read_topic_prefixes: tuple[str, ...] = Field((), alias="readTopicPrefixes")
    group_prefixes: tuple[str, ...] = Field((), alias="groupPrefixes")
    max_partitions: int | None = Field(None, alias="maxPartitions", ge=1)
    max_replication_factor: int | None = Field(None, alias="maxReplicationFactor", ge=1)
    allow_deletion: bool = Field(False, alias="allowDeletion")
    config: dict[str, ConfigLimit] = Field(default_factory=dict)


def parse_policy(spec: Any) -> AccessPolicy:
    return parse_spec(AccessPolicy, spec)


@dataclass(frozen=True)
class TopicRequest:
    """What a KafkaTopic asks for, as the policy sees it."""

    cluster: str
    topic: str
    partitions: int
    replication_factor: int | None = None
    deletion_policy: str = "Retain"
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsumerRequest:
    """What a ConsumerApp asks for: a group on a cluster, reading topics."""

    cluster: str
    group: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class AclRequest:
    """One ACL of a KafkaUser's spec, as the policy sees it."""

    resource_type: str  # topic | group | cluster | transactionalId
    name: str  # "" for the cluster
    operations: tuple[str, ...]
    permission: str = "allow"


@dataclass(frozen=True)
class UserRequest:
    cluster: str
    acls: tuple[AclRequest, ...]


READ_ONLY_OPERATIONS = frozenset({"Read", "Describe"})


def _listed(values: Iterable[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _outside(prefixes: Iterable[str], name: str) -> bool:
    return not any(name.startswith(prefix) for prefix in prefixes)


def cluster_violation(policy: AccessPolicy, cluster: str) -> str | None:
    if cluster not in policy.clusters:
        return f'KafkaCluster "{cluster}" is not one of this namespace\'s clusters {_listed(policy.clusters)}'
    return None


def config_violation(key: str, value: str, limit: ConfigLimit) -> str | None:
    """A negative number (-1: unlimited retention) is above any maximum."""
    if limit.allowed is not None and value not in limit.allowed:
        return f'config {key}="{value}" is not one of this namespace\'s allowed values {_listed(limit.allowed)}'
    numeric = _INTEGER.match(value) is not None
    if limit.max is not None and (not numeric or int(value) < 0 or int(value) > limit.max):
        return f'config {key}="{value}" is above this namespace\'s maximum {limit.max}'
    if limit.min is not None and (not numeric or int(value) < limit.min):
        return f'config {key}="{value}" is below this namespace\'s minimum {limit.min}'
    return None


def topic_violation(policy: AccessPolicy, request: TopicRequest) -> str | None:
    """The first rule the KafkaTopic breaks (in the order the admission policy checks), or None."""
    if (problem := cluster_violation(policy, request.cluster)) is not None:
        return problem
    if _outside(policy.topic_prefixes, request.topic):
        return f'topic "{request.topic}" is outside this namespace\'s prefixes {_listed(policy.topic_prefixes)}'
    if policy.max_partitions is not None and request.partitions > policy.max_partitions:
        return f"{request.partitions} partitions is above this namespace's maximum {policy.max_partitions}"
    if (policy.max_replication_factor is not None and request.replication_factor is not None
            and request.replication_factor > policy.max_replication_factor):
        return (f"replication factor {request.replication_factor} is above this namespace's maximum "
                f"{policy.max_replication_factor}")
    if request.deletion_policy == "Delete" and not policy.allow_deletion:
        return "deletionPolicy Delete is not allowed in this namespace (allowDeletion is false)"
    for key in sorted(request.config):
        limit = policy.config.get(key)
        if limit is not None and (problem := config_violation(key, request.config[key], limit)) is not None:
            return problem
    return None


def consumer_violation(policy: AccessPolicy, request: ConsumerRequest) -> str | None:
    """The first rule the ConsumerApp breaks, or None. A namespace may read its own topics and
    those under ``readTopicPrefixes``."""
    if (problem := cluster_violation(policy, request.cluster)) is not None:
        return problem
    if _outside(policy.group_prefixes, request.group):
        return f'group "{request.group}" is outside this namespace\'s group prefixes {_listed(policy.group_prefixes)}'
    readable = policy.topic_prefixes + policy.read_topic_prefixes
    for topic in request.topics:
        if _outside(readable, topic):
            return f'topic "{topic}" is outside the prefixes this namespace may read {_listed(readable)}'
    return None


def acl_violation(policy: AccessPolicy, acl: AclRequest) -> str | None:
    """An allow ACL may only name what the namespace may use: its topics (read-only ACLs also the topics
    it may read), its groups and transactional ids (under ``groupPrefixes``), never the cluster. A
    prefixed ACL's prefix must itself start with an allowed prefix. Deny ACLs only take rights away."""
    if acl.permission != "allow":
        return None
    if acl.resource_type == "cluster":
        return "an ACL on the cluster resource is not allowed in this namespace (cluster rights are the platform's)"
    if acl.resource_type == "topic":
        if set(acl.operations) <= READ_ONLY_OPERATIONS:
            readable = policy.topic_prefixes + policy.read_topic_prefixes
            if _outside(readable, acl.name):
                return f'ACL on topic "{acl.name}" is outside the prefixes this namespace may read {_listed(readable)}'
        elif _outside(policy.topic_prefixes, acl.name):
            return f'ACL on topic "{acl.name}" is outside this namespace\'s prefixes {_listed(policy.topic_prefixes)}'
        return None
    if _outside(policy.group_prefixes, acl.name):
        return (f'ACL on {acl.resource_type} "{acl.name}" is outside this namespace\'s group prefixes '
                f"{_listed(policy.group_prefixes)}")
    return None


def user_violation(policy: AccessPolicy, request: UserRequest) -> str | None:
    """The first rule a KafkaUser breaks: its cluster, then its ACLs in the order the spec lists them."""
    if (problem := cluster_violation(policy, request.cluster)) is not None:
        return problem
    for acl in request.acls:
        if (problem := acl_violation(policy, acl)) is not None:
            return problem
    return None


def deletion_refusal(policy: AccessPolicy | None, topic: str) -> str | None:
    """Why a topic must not be deleted although its KafkaTopic says Delete: a policy that came (or
    changed) after the KafkaTopic was stored never lets it delete what the namespace does not own."""
    if policy is None:
        return None
    if _outside(policy.topic_prefixes, topic):
        return f'topic "{topic}" is outside this namespace\'s prefixes {_listed(policy.topic_prefixes)}'
    if not policy.allow_deletion:
        return "deletionPolicy Delete is not allowed in this namespace (allowDeletion is false)"
    return None


@dataclass(frozen=True)
class Verdict:
    """The backstop's answer: ``refused`` is a PolicyViolation; otherwise a warning (audit mode)."""

    refused: bool
    message: str


def judge(policy: AccessPolicy | InvalidSpec | None, violation: Callable[[AccessPolicy], str | None], *,
          mode: TenancyMode, namespace: str, trusted: Iterable[str]) -> Verdict | None:
    """None: go ahead. A broken policy refuses everything (fail closed); a namespace without one is
    refused only when enforcing and not trusted, and warned about in audit mode."""
    if isinstance(policy, InvalidSpec):
        return Verdict(True, f'KafkaAccessPolicy "{POLICY_NAME}" of this namespace is invalid: {policy}')
    if policy is None:
        if mode is TenancyMode.OFF or namespace in trusted:
            return None
        return Verdict(mode is TenancyMode.ENFORCE,
                       f'namespace "{namespace}" has no KafkaAccessPolicy "{POLICY_NAME}"; the platform team must '
                       "create one before KafkaTopics or ConsumerApps can be used here")
    problem = violation(policy)
    return None if problem is None else Verdict(True, problem)
