"""Checks every spec model shares: Kafka's topic-name rule and one user-facing message out of a
pydantic validation error."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kafkaops.types.errors import InvalidSpec

# Kafka's own rule (org.apache.kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
TOPIC_NAME_PATTERN = r"^[a-zA-Z0-9._-]{1,249}$"
MAX_TOPIC_NAME_LENGTH = 249
ModelT = TypeVar("ModelT", bound=BaseModel)


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
