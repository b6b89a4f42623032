"""The ConsumerApp spec as a typed model (the CRD schema rejects bad input at admission; this
repeats it for objects stored before a CRD upgrade)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kafkaops.consumers.autoscale import ScalingPolicy
from kafkaops.types.groups import GroupType
from kafkaops.types.specs import ClusterRef, check_topic_name, cluster_name, parse_spec


class ScaleDown(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    stabilization_window_seconds: int = Field(300, alias="stabilizationWindowSeconds", ge=0)


class Scaling(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    min_replicas: int = Field(1, alias="minReplicas", ge=0)
    max_replicas: int = Field(10, alias="maxReplicas", ge=1)
    lag_threshold: int = Field(1000, alias="lagThreshold", ge=1)
    activation_lag_threshold: int = Field(0, alias="activationLagThreshold", ge=0)
    max_lag_seconds: int | None = Field(None, alias="maxLagSeconds", ge=1)
    poll_interval_seconds: int = Field(15, alias="pollIntervalSeconds", ge=1)
    scale_down: ScaleDown = Field(default_factory=ScaleDown, alias="scaleDown")
    allow_idle_consumers: bool = Field(False, alias="allowIdleConsumers")

    @model_validator(mode="after")
    def _bounds(self) -> Scaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("scaling.minReplicas must not exceed scaling.maxReplicas")
        return self

    def policy(self, *, share_group: bool) -> ScalingPolicy:
        return ScalingPolicy(share_group=share_group, min_replicas=self.min_replicas, max_replicas=self.max_replicas,
                             lag_threshold=self.lag_threshold, activation_lag_threshold=self.activation_lag_threshold,
                             max_lag_seconds=self.max_lag_seconds,
                             stabilization_window_seconds=self.scale_down.stabilization_window_seconds,
                             allow_idle_consumers=self.allow_idle_consumers)


class CredentialsSecretRef(BaseModel):
    """A Secret in the app's namespace with its SASL username and password (pods cannot read
    Secrets of other namespaces, so the KafkaCluster's own credentials are never handed out)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=253)
    username_key: str = Field("username", alias="usernameKey", min_length=1)
    password_key: str = Field("password", alias="passwordKey", min_length=1)


class AppCredentials(BaseModel):
    """``credentials.user: auto``: the operator makes the app its own KafkaUser with exactly its rights."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    user: Literal["auto"] | None = None


class ConsumerAppSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    cluster_ref: ClusterRef | None = Field(None, alias="clusterRef")
    credentials_secret_ref: CredentialsSecretRef | None = Field(None, alias="credentialsSecretRef")
    credentials: AppCredentials | None = None
    group_id: str | None = Field(None, alias="groupId", min_length=1, max_length=255)
    group_type: GroupType = Field("consumer", alias="groupType")
    topics: tuple[str, ...] = Field(min_length=1)
    auto_offset_reset: Literal["earliest", "latest"] = Field("latest", alias="autoOffsetReset")
    template: dict[str, Any]
    scaling: Scaling = Field(default_factory=Scaling)

    @model_validator(mode="after")
    def _names(self) -> ConsumerAppSpec:
        for topic in self.topics:
            check_topic_name(topic)
        containers = (self.template.get("spec") or {}).get("containers") or []
        if not containers:
            raise ValueError("template.spec.containers must list at least one container")
        if self.credentials_secret_ref is not None and self.credentials is not None and self.credentials.user:
            raise ValueError("credentialsSecretRef and credentials.user exclude each other: choose one")
        return self

    @property
    def auto_user(self) -> bool:
        return self.credentials is not None and self.credentials.user == "auto"

    def group(self, resource_name: str) -> str:
        return self.group_id or resource_name

    def policy(self) -> ScalingPolicy:
        return self.scaling.policy(share_group=self.group_type == "share")

    @property
    def cluster(self) -> str:
        return cluster_name(self.cluster_ref)


def share_group_config(spec: ConsumerAppSpec) -> dict[str, str]:
    """The group config the operator keeps on a share app's group: where a new share group starts is
    the broker-side ``share.auto.offset.reset`` (a share consumer cannot choose it), so the spec's
    ``autoOffsetReset`` is written there, both values, else ``earliest`` would only be how the operator
    counts unread partitions. Nothing for a classic group: its consumers read ``KAFKA_AUTO_OFFSET_RESET``."""
    return {"share.auto.offset.reset": spec.auto_offset_reset} if spec.group_type == "share" else {}


def group_config_due(desired: Mapping[str, str], applied: Mapping[str, str] | None) -> bool:
    """Whether the group config must be written: it differs from what status says was last written
    (``status.shareGroupConfig``), so a refusal or an outage is retried until it lands."""
    return bool(desired) and dict(desired) != dict(applied or {})


def parse_consumer_spec(spec: Any) -> ConsumerAppSpec:
    return parse_spec(ConsumerAppSpec, spec)
