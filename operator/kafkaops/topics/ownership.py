"""Who may act on a topic, decided before any Kafka call (pure).

- ``kafkaops.io/managed: "false"`` lets the topic go: never touched or deleted again.
- ``kafkaops.io/paused: "true"`` stops reconciling and keeps everything as it is.
- A KafkaTopic that breaks its namespace's KafkaAccessPolicy is held with ``PolicyViolation``
  and claims nothing (the caller leaves its claim out of ``claims``).
- Two KafkaTopics naming one Kafka topic (in any namespaces): the oldest owns it; the other
  is held with reason ``Conflict`` and takes over only once the owner is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafkaops import GROUP

PAUSED_ANNOTATION = f"{GROUP}/paused"
MANAGED_ANNOTATION = f"{GROUP}/managed"


@dataclass(frozen=True, order=True)
class Claim:
    """A KafkaTopic's claim on a Kafka topic; ordering makes the oldest claim the smallest."""

    created: str  # RFC 3339 creationTimestamp: sorts chronologically as text
    namespace: str
    name: str
    uid: str = field(compare=False)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Hold:
    """Reconciliation does not go ahead; ``ready`` None keeps the last known readiness."""

    reason: str
    message: str
    ready: bool | None


def is_unmanaged(annotations: Mapping[str, str]) -> bool:
    return annotations.get(MANAGED_ANNOTATION, "").lower() == "false"


def is_paused(annotations: Mapping[str, str]) -> bool:
    return annotations.get(PAUSED_ANNOTATION, "").lower() == "true"


def owner(claims: Iterable[Claim]) -> Claim | None:
    return min(claims, default=None)


def hold(annotations: Mapping[str, str], topic: str, me: Claim, claims: Iterable[Claim],
         violation: str | None = None) -> Hold | None:
    if is_unmanaged(annotations):
        return Hold("Unmanaged", f"{MANAGED_ANNOTATION} is \"false\": topic {topic!r} is no longer touched "
                    "or deleted by the operator", ready=True)
    if is_paused(annotations):
        return Hold("Paused", f"reconciliation paused by {PAUSED_ANNOTATION}; topic {topic!r} is left as it is",
                    ready=None)
    if violation is not None:
        return Hold("PolicyViolation", f"{violation}; topic {topic!r} is not touched", ready=False)
    winner = owner(claims)
    if winner is not None and winner.uid != me.uid:
        return Hold("Conflict", f"topic {topic!r} is already managed by KafkaTopic {winner.ref} (created "
                    f"{winner.created}); this resource will not touch it", ready=False)
    return None
