"""Operator configuration, read in one place from the environment (the Helm chart and
``kafkaops run`` flags set the same variables).

| variable | default | meaning |
|---|---|---|
| ``KAFKAOPS_BOOTSTRAP_SERVERS`` (or ``KAFKA_BOOTSTRAP_SERVERS``) | ``localhost:9092`` | Kafka cluster |
| ``KAFKAOPS_KAFKA_<PROPERTY>`` | | any librdkafka property: ``KAFKAOPS_KAFKA_SECURITY_PROTOCOL`` sets |
|   | | ``security.protocol`` |
| ``KAFKAOPS_DRIFT_INTERVAL_SECONDS`` | ``300`` | how often every topic is compared with the broker |
| ``KAFKAOPS_BATCH_LINGER_MS`` | ``50`` | how long describe/alter requests wait to be coalesced |
| ``KAFKAOPS_MUTATION_LINGER_MS`` | ``100`` | the same for topic creation, partition growth, deletion |
| ``KAFKAOPS_REQUEST_TIMEOUT_SECONDS`` | ``30`` | admin request timeout |
| ``KAFKAOPS_DELETION_TIMEOUT_SECONDS`` | ``300`` | how long deletion waits for an unreachable Kafka |
| ``KAFKAOPS_MAX_CONCURRENT_RECONCILES`` | ``200`` | resources processed at once (caps memory) |
| ``KAFKAOPS_METRICS_PORT`` | ``9090`` | Prometheus ``/metrics`` port; ``0`` turns it off |
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field

_KAFKA_PREFIX = "KAFKAOPS_KAFKA_"


class Settings(BaseModel):
    bootstrap_servers: str = "localhost:9092"
    kafka_properties: dict[str, str] = Field(default_factory=dict)
    drift_interval_seconds: float = Field(300.0, gt=0)
    batch_linger_ms: float = Field(50.0, ge=0)
    mutation_linger_ms: float = Field(100.0, ge=0)
    request_timeout_seconds: float = Field(30.0, gt=0)
    deletion_timeout_seconds: float = Field(300.0, ge=0)
    max_concurrent_reconciles: int = Field(200, ge=1)
    metrics_port: int = Field(9090, ge=0, le=65535)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "bootstrap_servers": env.get("KAFKAOPS_BOOTSTRAP_SERVERS") or env.get("KAFKA_BOOTSTRAP_SERVERS")
            or "localhost:9092",
            "kafka_properties": {key.removeprefix(_KAFKA_PREFIX).lower().replace("_", "."): value
                                 for key, value in env.items() if key.startswith(_KAFKA_PREFIX)},
        }
        for field, variable in (("drift_interval_seconds", "KAFKAOPS_DRIFT_INTERVAL_SECONDS"),
                                ("batch_linger_ms", "KAFKAOPS_BATCH_LINGER_MS"),
                                ("mutation_linger_ms", "KAFKAOPS_MUTATION_LINGER_MS"),
                                ("request_timeout_seconds", "KAFKAOPS_REQUEST_TIMEOUT_SECONDS"),
                                ("deletion_timeout_seconds", "KAFKAOPS_DELETION_TIMEOUT_SECONDS"),
                                ("max_concurrent_reconciles", "KAFKAOPS_MAX_CONCURRENT_RECONCILES"),
                                ("metrics_port", "KAFKAOPS_METRICS_PORT")):
            if env.get(variable):
                values[field] = env[variable]
        return cls.model_validate(values)

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka configuration for the admin client (security settings included)."""
        return {**self.kafka_properties, "bootstrap.servers": self.bootstrap_servers}
