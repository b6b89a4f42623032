"""The KafkaTopic spec as a typed model. The CRD schema (crds/kafkatopics.yaml) rejects bad
input at admission; this model repeats the checks so that the operator never acts on input
the schema would have refused (e.g. an object stored before a CRD upgrade)."""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Kafka's own rule (org.apache.kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
TOPIC_NAME_PATTERN = r"^[a-zA-Z0-9._-]{1,249}$"
MAX_TOPIC_NAME_LENGTH = 249


class InvalidSpec(ValueError):
    """The spec cannot be acted on; the message is meant for the user (status condition)."""


def check_topic_name(name: str) -> str:
    if name in {".", ".."}:
        raise ValueError(f"topic name {name!r} is not allowed by Kafka")
    if not re.fullmatch(TOPIC_NAME_PATTERN, name):
        raise ValueError(f"topic name {name!r} must be 1-249 characters of a-z, A-Z, 0-9, '.', '_', '-'")
    return name


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

    topic_name: str | None = Field(None, alias="topicName")
    partitions: int = Field(ge=1, le=1_000_000)
    replication_factor: int | None = Field(None, alias="replicationFactor", ge=1, le=32767)
    config: dict[str, str] = Field(default_factory=dict)
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

    def kafka_name(self, resource_name: str) -> str:
        return self.topic_name or resource_name


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_spec(model: type[ModelT], spec: Any) -> ModelT:
    """Validate a raw ``spec`` mapping; raise InvalidSpec with a one-line, user-facing message."""
    try:
        return model.model_validate(dict(spec or {}))
    except ValidationError as error:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in error.errors())
        raise InvalidSpec(problems) from None


def parse_topic_spec(spec: Any) -> TopicSpec:
    return parse_spec(TopicSpec, spec)
