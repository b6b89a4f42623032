"""Status conditions as the Kubernetes API conventions describe them.

``lastTransitionTime`` moves only when ``status`` flips, so repeated reconciles with the same
outcome write nothing new (no status churn, no watch-event storms).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

Condition = dict[str, Any]


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_since(timestamp: str, now: datetime.datetime | None = None) -> float:
    """Age of an RFC 3339 timestamp from the API server (e.g. a deletion's, so a restarted operator
    keeps counting from when the deletion began)."""
    when = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return ((now or datetime.datetime.now(datetime.UTC)) - when).total_seconds()


def set_condition(conditions: Sequence[Mapping[str, Any]], *, type_: str, status: bool, reason: str,
                  message: str, generation: int | None, now: str | None = None) -> list[Condition]:
    """Return a new list with the condition of ``type_`` replaced (others kept in order)."""
    status_word = "True" if status else "False"
    previous = find_condition(conditions, type_)
    if previous is not None and previous.get("status") == status_word:
        transition = previous.get("lastTransitionTime") or now or utc_now()
    else:
        transition = now or utc_now()
    updated: Condition = {"type": type_, "status": status_word, "reason": reason, "message": message,
                          "lastTransitionTime": transition}
    if generation is not None:
        updated["observedGeneration"] = generation
    result = [dict(c) for c in conditions if c.get("type") != type_]
    index = next((i for i, c in enumerate(conditions) if c.get("type") == type_), len(result))
    result.insert(index, updated)
    return result


def find_condition(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def ready_condition(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``Ready`` condition of a status, or an empty mapping when there is none yet."""
    return find_condition(status.get("conditions") or [], "Ready") or {}


def changed_fields(status: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``new`` that differ from ``status``: what a status patch must carry (a no-op
    writes nothing)."""
    return {key: value for key, value in new.items() if status.get(key) != value}
