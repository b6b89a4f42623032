"""Checks every spec model shares: Kafka's topic-name rule and one user-facing message out of a
pydantic validation error."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kafkaops.types.errors import InvalidSpec

# Kafka's own rule (org.apache.kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
TOPIC_NAME_PATTERN = r"^[a-zA-Z0-9._-]{1,249}$"
MAX_TOPIC_NAME_LENGTH = 249
ModelT = TypeVar("ModelT", bound=BaseModel)
# The KafkaCluster objects without a clusterRef live on: the one the operator's environment configures.
DEFAULT_CLUSTER = "default"


class ClusterRef(BaseModel):
    """``spec.clusterRef``: which KafkaCluster a KafkaTopic or ConsumerApp lives on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=253)


def cluster_name(ref: ClusterRef | None) -> str:
    return ref.name if ref is not None else DEFAULT_CLUSTER


def check_topic_name(name: str) -> str:
    if name in {".", ".."}:
        raise ValueError(f"topic name {name!r} is not allowed by Kafka")
    if not re.fullmatch(TOPIC_NAME_PATTERN, name):
        raise ValueError(f"topic name {name!r} must be 1-249 characters of a-z, A-Z, 0-9, '.', '_', '-'")
    return name


def parse_spec(model: type[ModelT], spec: Any) -> ModelT:
    """Validate a raw ``spec`` mapping; raise InvalidSpec with a one-line, user-facing message."""
    try:
        return model.model_validate(dict(spec or {}))
    except ValidationError as error:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in error.errors())
        raise InvalidSpec(problems) from None
