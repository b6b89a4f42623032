"""Status conditions as the Kubernetes API conventions describe them.

``lastTransitionTime`` moves only when ``status`` flips, so repeated reconciles with the same
outcome write nothing new (no status churn, no watch-event storms).

Every write of ``Ready`` also writes ``Reconciling`` and ``Stalled``, the abnormal-true conditions that
kstatus (Flux, kpt, cli-utils) reads: a failure the operator keeps retrying on its own is Reconciling
(kstatus: InProgress), any other failure is Stalled (kstatus: Failed), so a health check does not wait for
a KafkaTopic that only a person can fix, nor give up on one that is waiting for a broker.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

Condition = dict[str, Any]

READY = "Ready"
# Ready=False reasons that resolve without anyone changing anything: the operator retries them.
TRANSIENT_REASONS = frozenset({"BrokerUnavailable", "ClusterNotReady", "Reassigning", "Unreachable",
                               "CredentialsPending"})
# Holds a person asked for: neither in progress nor failed, whatever Ready says.
HOLD_REASONS = frozenset({"Paused", "Unmanaged"})


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_since(timestamp: str, now: datetime.datetime | None = None) -> float:
    """Age of an RFC 3339 timestamp from the API server (e.g. a deletion's, so a restarted operator
    keeps counting from when the deletion began)."""
    when = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return ((now or datetime.datetime.now(datetime.UTC)) - when).total_seconds()


def set_condition(conditions: Sequence[Mapping[str, Any]], *, type_: str, status: bool, reason: str,
                  message: str, generation: int | None, now: str | None = None,
                  pending: bool = False) -> list[Condition]:
    """Return a new list with the condition of ``type_`` replaced (others kept in order); for ``Ready``,
    with ``Reconciling`` and ``Stalled`` following it. ``pending``: a hold (paused) that leaves a spec
    change unapplied is Reconciling, so that kstatus says InProgress, never Current."""
    result = _set_one(conditions, type_=type_, status=status, reason=reason, message=message,
                      generation=generation, now=now)
    if type_ != READY:
        return result
    reconciling = (not status and reason in TRANSIENT_REASONS) or (pending and reason in HOLD_REASONS)
    stalled = not status and reason not in TRANSIENT_REASONS | HOLD_REASONS
    for kind, value in (("Reconciling", reconciling), ("Stalled", stalled)):
        result = _set_one(result, type_=kind, status=value, reason=reason, message=message, generation=generation,
                          now=now)
    return result


def _set_one(conditions: Sequence[Mapping[str, Any]], *, type_: str, status: bool, reason: str,
             message: str, generation: int | None, now: str | None) -> list[Condition]:
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


def change_pending(status: Mapping[str, Any], generation: int) -> bool:
    """While paused: is a spec change not applied? Either this generation was never handled, or an
    earlier paused check already found it unapplied (its Reconciling says Paused)."""
    reconciling = find_condition(status.get("conditions") or [], "Reconciling") or {}
    return status.get("observedGeneration") != generation or (
        reconciling.get("status") == "True" and reconciling.get("reason") in HOLD_REASONS)


def missing_cluster_reason(status: Mapping[str, Any], wait_seconds: float,
                           now: datetime.datetime | None = None) -> str:
    """``ClusterNotReady`` (retried: it may be applied in the same sync) until the object has waited
    ``wait_seconds`` for its missing KafkaCluster, then ``ClusterNotFound`` (Stalled) until it appears."""
    ready = ready_condition(status)
    if ready.get("reason") == "ClusterNotFound":
        return "ClusterNotFound"
    since = ready.get("lastTransitionTime") if ready.get("reason") == "ClusterNotReady" else None
    waited = seconds_since(since, now) if since else 0.0
    return "ClusterNotFound" if waited >= wait_seconds else "ClusterNotReady"


def find_condition(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def ready_condition(status: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``Ready`` condition of a status, or an empty mapping when there is none yet."""
    return find_condition(status.get("conditions") or [], "Ready") or {}


def changed_fields(status: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``new`` that differ from ``status``: what a status patch must carry (a no-op
    writes nothing)."""
    return {key: value for key, value in new.items() if status.get(key) != value}
