"""Operator configuration, read in one place from the environment (the Helm chart and
``kafkaops run`` flags set the same variables).

| variable | default | meaning |
|---|---|---|
| ``KAFKAOPS_BOOTSTRAP_SERVERS`` (or ``KAFKA_BOOTSTRAP_SERVERS``) | ``localhost:9092`` | Kafka cluster |
| ``KAFKAOPS_KAFKA_<PROPERTY>`` | | any librdkafka property: ``KAFKAOPS_KAFKA_SECURITY_PROTOCOL`` sets |
|   | | ``security.protocol`` |
| ``KAFKAOPS_NAMESPACES`` | all namespaces | comma-separated namespaces to watch |
| ``KAFKAOPS_TENANCY_MODE`` | ``off`` | a namespace without a KafkaAccessPolicy: ``off``, ``audit`` or ``enforce`` |
| ``KAFKAOPS_TRUSTED_NAMESPACES`` | none | comma-separated namespaces that need no KafkaAccessPolicy under ``enforce`` |
| ``KAFKAOPS_NAMESPACE`` | the pod's | the operator's own namespace: where KafkaClusters' Secrets live |
| ``KAFKAOPS_CLUSTER_PROBE_INTERVAL_SECONDS`` | ``30`` | how often each KafkaCluster (and its Secrets) is checked |
| ``KAFKAOPS_DRIFT_INTERVAL_SECONDS`` | ``300`` | how often every topic is compared with the broker |
| ``KAFKAOPS_BATCH_LINGER_MS`` | ``50`` | how long describe/alter requests wait to be coalesced |
| ``KAFKAOPS_MUTATION_LINGER_MS`` | ``100`` | the same for topic creation, partition growth, deletion |
| ``KAFKAOPS_REQUEST_TIMEOUT_SECONDS`` | ``30`` | admin request timeout |
| ``KAFKAOPS_DELETION_TIMEOUT_SECONDS`` | ``300`` | how long deletion waits for an unreachable Kafka |
| ``KAFKAOPS_MAX_CONCURRENT_RECONCILES`` | ``200`` | work-queue workers per kind (objects reconciled at once) |
| ``KAFKAOPS_METRICS_PORT`` | ``9090`` | Prometheus metrics port; ``0`` disables the endpoint |
| ``KAFKAOPS_LAG_GRANULARITY`` | ``partition`` | lag series per ``partition`` (kafka_exporter's) or per ``topic`` |
| ``KAFKAOPS_LIVENESS_ENDPOINT`` | off | ``/healthz`` and ``/readyz`` on this URL's host:port |
| ``KAFKAOPS_STALL_SECONDS`` | ``30`` | ``/healthz`` fails when the leading operator's event loop is silent this long |
| ``KAFKAOPS_LOG_FORMAT`` | ``text`` | ``text`` or ``json`` (one JSON object per line) |
| ``KAFKAOPS_PEERING`` | ``false`` | ``true``: kopf peering (several replicas, one active) |
| ``KAFKAOPS_LEADER_ELECTION`` | ``false`` | ``true``: lead only while holding a coordination.k8s.io Lease |
| ``KAFKAOPS_LEASE_NAME`` / ``KAFKAOPS_LEASE_NAMESPACE`` | ``kafkaops-leader`` / the pod's | the Lease |
| ``KAFKAOPS_LEASE_DURATION_SECONDS`` | ``15`` | a standby takes over when the lease is this old (its clock) |
| ``KAFKAOPS_LEASE_RENEW_DEADLINE_SECONDS`` | ``10`` | the leader stops when it could not renew for this long |
| ``KAFKAOPS_LEASE_RETRY_PERIOD_SECONDS`` | ``2`` | how often the lease is renewed or polled |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from kafkaops import health, leadership
from kafkaops.logs import REDACTED
from kafkaops.metrics import LagGranularity
from kafkaops.tenancy.rules import TenancyMode

_KAFKA_PREFIX = "KAFKAOPS_KAFKA_"
# librdkafka properties whose values are secrets: sasl.password, ssl.key.password, ssl.keystore.password,
# ssl.key.pem, sasl.oauthbearer.client.secret, sasl.oauthbearer.config (may carry a token), ...
_SECRET_PROPERTY = re.compile(r"password|secret|key|token|credential|sasl\.oauthbearer\.config|sasl\.jaas", re.I)


def is_secret_property(name: str) -> bool:
    return bool(_SECRET_PROPERTY.search(name))


def _names(listed: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in listed.split(",") if name.strip())


class Settings(BaseModel):
    bootstrap_servers: str = "localhost:9092"
    kafka_properties: dict[str, str] = Field(default_factory=dict)
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    tenancy_mode: TenancyMode = TenancyMode.OFF
    trusted_namespaces: frozenset[str] = frozenset()
    drift_interval_seconds: float = Field(300.0, gt=0)
    operator_namespace: str | None = None  # None: the pod's namespace
    cluster_probe_interval_seconds: float = Field(30.0, gt=0)
    batch_linger_ms: float = Field(50.0, ge=0)
    mutation_linger_ms: float = Field(100.0, ge=0)
    request_timeout_seconds: float = Field(30.0, gt=0)
    deletion_timeout_seconds: float = Field(300.0, ge=0)
    cluster_wait_seconds: float = Field(120.0, ge=0)  # a missing KafkaCluster: InProgress, then Stalled
    max_concurrent_reconciles: int = Field(200, ge=1)
    metrics_port: int = Field(9090, ge=0, le=65535)  # 0: no metrics endpoint
    lag_granularity: LagGranularity = "partition"
    liveness_endpoint: str | None = None
    log_format: Literal["text", "json"] = "text"
    peering: bool = False
    stall_seconds: float = Field(health.STALL_SECONDS, gt=0)
    leader_election: bool = False
    lease_name: str = Field("kafkaops-leader", min_length=1)
    lease_namespace: str | None = None  # None: the pod's namespace
    lease_duration_seconds: float = leadership.LEASE_DURATION_SECONDS
    lease_renew_deadline_seconds: float = leadership.RENEW_DEADLINE_SECONDS
    lease_retry_period_seconds: float = leadership.RETRY_PERIOD_SECONDS

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Bad lease timings fail at start-up, not at the first failover."""
        self.lease_timings()
        if self.leader_election and self.peering:
            raise ValueError("leader election and kopf peering exclude each other: choose one")
        return self

    def lease_timings(self) -> leadership.Timings:
        return leadership.Timings(self.lease_duration_seconds, self.lease_renew_deadline_seconds,
                                  self.lease_retry_period_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "bootstrap_servers": env.get("KAFKAOPS_BOOTSTRAP_SERVERS") or env.get("KAFKA_BOOTSTRAP_SERVERS")
            or "localhost:9092",
            "kafka_properties": {key.removeprefix(_KAFKA_PREFIX).lower().replace("_", "."): value
                                 for key, value in env.items() if key.startswith(_KAFKA_PREFIX)},
            "namespaces": _names(env.get("KAFKAOPS_NAMESPACES", "")),
            "trusted_namespaces": frozenset(_names(env.get("KAFKAOPS_TRUSTED_NAMESPACES", ""))),
        }
        for field, variable in (("drift_interval_seconds", "KAFKAOPS_DRIFT_INTERVAL_SECONDS"),
                                ("operator_namespace", "KAFKAOPS_NAMESPACE"),
                                ("tenancy_mode", "KAFKAOPS_TENANCY_MODE"),
                                ("cluster_probe_interval_seconds", "KAFKAOPS_CLUSTER_PROBE_INTERVAL_SECONDS"),
                                ("batch_linger_ms", "KAFKAOPS_BATCH_LINGER_MS"),
                                ("mutation_linger_ms", "KAFKAOPS_MUTATION_LINGER_MS"),
                                ("request_timeout_seconds", "KAFKAOPS_REQUEST_TIMEOUT_SECONDS"),
                                ("deletion_timeout_seconds", "KAFKAOPS_DELETION_TIMEOUT_SECONDS"),
                                ("cluster_wait_seconds", "KAFKAOPS_CLUSTER_WAIT_SECONDS"),
                                ("max_concurrent_reconciles", "KAFKAOPS_MAX_CONCURRENT_RECONCILES"),
                                ("metrics_port", "KAFKAOPS_METRICS_PORT"),
                                ("lag_granularity", "KAFKAOPS_LAG_GRANULARITY"),
                                ("liveness_endpoint", "KAFKAOPS_LIVENESS_ENDPOINT"),
                                ("log_format", "KAFKAOPS_LOG_FORMAT"),
                                ("peering", "KAFKAOPS_PEERING"),
                                ("stall_seconds", "KAFKAOPS_STALL_SECONDS"),
                                ("leader_election", "KAFKAOPS_LEADER_ELECTION"),
                                ("lease_name", "KAFKAOPS_LEASE_NAME"),
                                ("lease_namespace", "KAFKAOPS_LEASE_NAMESPACE"),
                                ("lease_duration_seconds", "KAFKAOPS_LEASE_DURATION_SECONDS"),
                                ("lease_renew_deadline_seconds", "KAFKAOPS_LEASE_RENEW_DEADLINE_SECONDS"),
                                ("lease_retry_period_seconds", "KAFKAOPS_LEASE_RETRY_PERIOD_SECONDS")):
            if env.get(variable):
                values[field] = env[variable]
        return cls.model_validate(values)

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka configuration for the admin client (security settings included). Never log
        this: log ``redacted()``."""
        return {**self.kafka_properties, "bootstrap.servers": self.bootstrap_servers}

    def redacted(self) -> dict[str, str]:
        """The Kafka client config with every secret property replaced by ``***``: safe to log."""
        return {key: REDACTED if is_secret_property(key) else value
                for key, value in self.kafka_client_config().items()}

    def secret_values(self) -> frozenset[str]:
        """The secret values themselves, so that log output can be scrubbed of them wherever they appear."""
        return frozenset(value for key, value in self.kafka_properties.items() if is_secret_property(key) and value)

    def startup_summary(self) -> str:
        """The one line the operator logs when it starts (secrets redacted)."""
        namespaces = ",".join(self.namespaces) or "all namespaces"
        return (f"kafkaops configured: Kafka client {self.redacted()}, watching {namespaces}, "
                f"drift interval {self.drift_interval_seconds:g}s, metrics port {self.metrics_port or 'off'}, "
                f"max concurrent reconciles {self.max_concurrent_reconciles}, tenancy {self.tenancy_mode.value}")

    def __repr_args__(self) -> Any:
        """Settings printed or logged as a whole show redacted Kafka properties."""
        for name, value in super().__repr_args__():
            if name == "kafka_properties":
                value = {k: REDACTED if is_secret_property(k) else v for k, v in value.items()}
            yield name, value
