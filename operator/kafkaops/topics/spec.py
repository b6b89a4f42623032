"""The KafkaTopic spec as a typed model. The CRD schema (crds/kafkatopics.yaml) rejects bad
input at admission; this model repeats the checks so that the operator never acts on input
the schema would have refused (e.g. an object stored before a CRD upgrade)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kafkaops.topics.config_keys import KAFKA_VERSION, TOPIC_CONFIG_KEYS
from kafkaops.types.specs import ClusterRef, check_topic_name, cluster_name, parse_spec


def config_value(value: Any) -> str:
    """Kafka config values are strings; YAML ints and bools are accepted and rendered as Kafka
    expects them (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"config values must be strings, numbers or booleans, not {type(value).__name__}")


class TopicSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    cluster_ref: ClusterRef | None = Field(None, alias="clusterRef")
    topic_name: str | None = Field(None, alias="topicName")
    partitions: int = Field(ge=1, le=1_000_000)
    replication_factor: int | None = Field(None, alias="replicationFactor", ge=1, le=32767)
    config: dict[str, str] = Field(default_factory=dict)
    extra_config_keys: tuple[str, ...] = Field((), alias="extraConfigKeys", max_length=50)
    deletion_policy: Literal["Retain", "Delete"] = Field("Retain", alias="deletionPolicy")

    @field_validator("topic_name")
    @classmethod
    def _topic_name(cls, value: str | None) -> str | None:
        return None if value is None else check_topic_name(value)

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("config must be a map of Kafka topic config keys to values")
        return {str(k): config_value(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _known_config_keys(self) -> TopicSpec:
        """The CRD's rule, repeated: a key Kafka does not define must be named in extraConfigKeys."""
        unknown = sorted(set(self.config) - TOPIC_CONFIG_KEYS - set(self.extra_config_keys))
        if unknown:
            raise ValueError(f'config key "{unknown[0]}" is not a Kafka {KAFKA_VERSION} topic config; '
                             "name a broker-specific key in spec.extraConfigKeys")
        return self

    def kafka_name(self, resource_name: str) -> str:
        return self.topic_name or resource_name

    @property
    def cluster(self) -> str:
        return cluster_name(self.cluster_ref)


def parse_topic_spec(spec: Any) -> TopicSpec:
    return parse_spec(TopicSpec, spec)
