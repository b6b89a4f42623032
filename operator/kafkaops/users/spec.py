"""The KafkaUser spec as a typed model. The CRD schema rejects bad input at admission; this model
repeats the checks (and Kafka's own rules for ACLs, so a spec the broker would refuse, or an ACL
that would grant nothing, is an InvalidSpec with a clear message instead of a broker error)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kafkaops.types.specs import ClusterRef, cluster_name, parse_spec
from kafkaops.types.users import (
    ANY_HOST,
    CLUSTER_RESOURCE_NAME,
    SUPPORTED_OPERATIONS,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
)

SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
# Topic names and prefixes of them: Kafka's topic characters ("*" alone is Kafka's wildcard).
_TOPIC_CHARACTERS = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
# The spec says "prefix" (as Strimzi does); Kafka's pattern type is PREFIXED.
_PATTERN_TYPES = {"literal": PatternType.LITERAL, "prefix": PatternType.PREFIXED}
_MODEL = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)


class PasswordSecretRef(BaseModel):
    """A Secret in the KafkaUser's namespace holding the password (bring your own)."""

    model_config = _MODEL
    name: str = Field(min_length=1, max_length=253, pattern=SECRET_NAME_PATTERN)
    key: str = Field("password", min_length=1, max_length=253, pattern=SECRET_KEY_PATTERN)


class Authentication(BaseModel):
    model_config = _MODEL
    type: Literal["scram-sha-512"]
    password_secret_ref: PasswordSecretRef | None = Field(None, alias="passwordSecretRef")


class AclResource(BaseModel):
    model_config = _MODEL
    type: ResourceType
    name: str | None = Field(None, min_length=1, max_length=255)
    pattern_type: Literal["literal", "prefix"] = Field("literal", alias="patternType")

    @model_validator(mode="after")
    def _name(self) -> AclResource:
        if self.type is ResourceType.CLUSTER:
            if self.name not in (None, CLUSTER_RESOURCE_NAME) or self.pattern_type != "literal":
                raise ValueError(f"a cluster resource is always the literal name {CLUSTER_RESOURCE_NAME!r}")
        elif self.name is None:
            raise ValueError(f"a {self.type} resource needs a name")
        elif self.type is ResourceType.TOPIC and self.name != "*" and not _TOPIC_CHARACTERS.fullmatch(self.name):
            raise ValueError(f"topic name {self.name!r} must be '*' or 1-249 characters of "
                             "a-z, A-Z, 0-9, '.', '_', '-'")
        if self.name == "*" and self.pattern_type == "prefix":
            raise ValueError("'*' is a literal wildcard; a prefix of '*' matches nothing")
        return self

    @property
    def resource_name(self) -> str:
        return self.name or CLUSTER_RESOURCE_NAME

    @property
    def kafka_pattern_type(self) -> PatternType:
        return _PATTERN_TYPES[self.pattern_type]


class AclRule(BaseModel):
    """One entry of ``spec.authorization.acls``: several operations on one resource."""

    model_config = _MODEL
    resource: AclResource
    operations: tuple[AclOperation, ...] = Field(min_length=1)
    host: str = Field(ANY_HOST, min_length=1, max_length=255)
    type: AclPermission = AclPermission.ALLOW

    @model_validator(mode="after")
    def _operations(self) -> AclRule:
        if self.host != ANY_HOST:
            try:
                ipaddress.ip_address(self.host)
            except ValueError:
                # Kafka compares the client's IP address as a string: a host name would never match.
                raise ValueError(f"host {self.host!r} must be '*' or an IP address") from None
        supported = SUPPORTED_OPERATIONS[self.resource.type]
        unsupported = [op.value for op in self.operations if op not in supported]
        if unsupported:
            allowed = ", ".join(sorted(op.value for op in supported))
            raise ValueError(f"{', '.join(unsupported)} cannot be granted on a {self.resource.type} "
                             f"(allowed: {allowed})")
        return self


class Authorization(BaseModel):
    model_config = _MODEL
    acls: tuple[AclRule, ...] = ()


class KafkaUserSpec(BaseModel):
    model_config = _MODEL
    cluster_ref: ClusterRef | None = Field(None, alias="clusterRef")
    authentication: Authentication
    authorization: Authorization = Field(default_factory=Authorization)

    @property
    def cluster(self) -> str:
        return cluster_name(self.cluster_ref)


def parse_user_spec(spec: Any) -> KafkaUserSpec:
    return parse_spec(KafkaUserSpec, spec)
