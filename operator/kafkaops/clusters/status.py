"""A KafkaCluster's status from a probe outcome (pure): what the controller patches.

A failed probe keeps ``clusterId`` (which cluster this was is still true and helps the reader) but
clears ``brokers`` and ``controllerId`` (``None`` deletes them in a merge patch), so the printer
columns never show a stale broker count next to ``Ready=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafkaops.conditions import set_condition
from kafkaops.types.clusters import ClusterProbe, ClusterProbeFailed, ClusterReason

MAX_MESSAGE_LENGTH = 1024
REDACTED = "***"


def _clean(message: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message if len(message) <= MAX_MESSAGE_LENGTH else message[:MAX_MESSAGE_LENGTH - 1] + "…"


def cluster_status(outcome: ClusterProbe | ClusterProbeFailed, *, status: Mapping[str, Any],
                   generation: int | None, now: str, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The status patch for ``outcome``; ``secrets`` (the credentials' values) are scrubbed from the
    message once more, so that no path can copy a password into status."""
    conditions = status.get("conditions") or []
    if isinstance(outcome, ClusterProbe):
        brokers = f"{outcome.brokers} broker{'s' if outcome.brokers != 1 else ''}"
        return {"observedGeneration": generation, "clusterId": outcome.cluster_id, "brokers": outcome.brokers,
                "controllerId": outcome.controller_id, "lastProbeTime": now,
                "conditions": set_condition(conditions, type_="Ready", status=True,
                                            reason=ClusterReason.CONNECTED.value,
                                            message=f"connected to cluster {outcome.cluster_id}, {brokers}",
                                            generation=generation, now=now)}
    return {"observedGeneration": generation, "brokers": None, "controllerId": None, "lastProbeTime": now,
            "conditions": set_condition(conditions, type_="Ready", status=False, reason=str(outcome.reason),
                                        message=_clean(outcome.message, secrets), generation=generation, now=now)}
