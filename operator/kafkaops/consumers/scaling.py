"""One ConsumerApp's scaling step, decided without I/O: from the app's spec and status, its
Deployment, this cycle's lag report and the stabilizer's memory, what replicas to set, which
Events to post and which status fields to write. The scaler loop gathers the inputs and carries
out the result (KEDA's scalers and crate-operator's handlers split their work the same way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafkaops.conditions import changed_fields, find_condition, ready_condition, set_condition
from kafkaops.consumers.autoscale import Decision, ScalingPolicy, Stabilizer, recommend
from kafkaops.consumers.collector import AppQuery, GroupReport
from kafkaops.consumers.deployment import DeploymentView
from kafkaops.consumers.spec import ConsumerAppSpec
from kafkaops.consumers.status import status_write_due


@dataclass(frozen=True, kw_only=True)
class ScalingInputs:
    group: str
    generation: int | None
    status: Mapping[str, Any]  # as last written
    deployment: DeploymentView
    policy: ScalingPolicy
    report: GroupReport | None  # None: the lag could not be collected this cycle
    problem: str = ""  # why there is no report
    problem_reason: str = "BrokerUnavailable"  # or ClusterNotReady
    stabilizer: Stabilizer  # the one piece of state a decision updates (its recommendation history)
    now: float
    timestamp: str  # ``now`` as RFC 3339, for lastScaleTime
    last_status_write: float


@dataclass(frozen=True)
class EventToPost:
    type: str
    reason: str
    message: str


@dataclass(frozen=True, kw_only=True)
class ScalingOutcome:
    replicas: int | None  # set the Deployment to this many; None: leave it
    desired_replicas: int
    decision: Decision | None
    status_changes: dict[str, Any]  # empty when nothing changed or a lag-only write is not yet due
    events: Sequence[EventToPost] = field(default_factory=tuple)


def lag_query(key: tuple[str, str], name: str, spec: ConsumerAppSpec) -> AppQuery:
    """What the collector must read for one app. Lag that has not moved for a stabilization window
    (or three polls) counts as stale."""
    return AppQuery(key=key, group=spec.group(name), topics=spec.topics, reset=spec.auto_offset_reset,
                    group_type=spec.group_type,
                    stale_after_seconds=max(spec.scaling.scale_down.stabilization_window_seconds,
                                            3 * spec.scaling.poll_interval_seconds))


def scaling_reason(current: int, wanted: int) -> str:
    return "ScaledUp" if wanted > current else "ScaledDown" if wanted < current else "Steady"


def decide_scaling(inputs: ScalingInputs) -> ScalingOutcome:
    status, generation = inputs.status, inputs.generation
    conditions = status.get("conditions") or []
    current = inputs.deployment.replicas
    new: dict[str, Any] = {"replicas": inputs.deployment.status_replicas,
                           "readyReplicas": inputs.deployment.ready_replicas}
    report = inputs.report
    if report is None:
        new["conditions"] = set_condition(conditions, type_="Ready", status=False, reason=inputs.problem_reason,
                                          message=f"lag unknown, replicas left at {current}: {inputs.problem}",
                                          generation=generation)
        return ScalingOutcome(replicas=None, desired_replicas=int(status.get("desiredReplicas", current)),
                              decision=None, status_changes=_due_changes(inputs, new))
    events: list[EventToPost] = []
    recommendation, why = recommend(report.snapshot, inputs.policy, current)
    decision = inputs.stabilizer.decide(recommendation, why, current, inputs.now,
                                        inputs.policy.stabilization_window_seconds)
    new.update(desiredReplicas=decision.replicas, totalLag=report.snapshot.total_lag,
               lagSeconds=round(report.snapshot.lag_seconds, 1), partitions=report.snapshot.partitions,
               groupState=report.state, members=report.members, groupProtocol=report.protocol)
    if report.missing_topics:
        message = (f"topic(s) {', '.join(report.missing_topics)} not found on the broker: group {inputs.group} "
                   "has no lag there to scale by")
        new["conditions"] = set_condition(conditions, type_="Ready", status=False, reason="TopicNotFound",
                                          message=message, generation=generation)
        if ready_condition(status).get("reason") != "TopicNotFound":
            events.append(EventToPost("Warning", "TopicNotFound", message))
    else:
        new["conditions"] = set_condition(conditions, type_="Ready", status=True, reason="LagCollected",
                                          message=f"lag of group {inputs.group} collected", generation=generation)
    scaled = decision.replicas != current
    if scaled or find_condition(conditions, "Scaling") is None:
        # The last scaling decision, in words; kept until the next one so status does not churn.
        new["conditions"] = set_condition(new["conditions"], type_="Scaling", status=scaled,
                                          reason=scaling_reason(current, decision.replicas),
                                          message=decision.reason, generation=generation)
    if scaled:
        new["lastScaleTime"] = inputs.timestamp
        events.append(EventToPost("Normal", scaling_reason(current, decision.replicas),
                                  f"scaled from {current} to {decision.replicas} replicas on a lag of "
                                  f"{report.snapshot.total_lag} messages ({report.snapshot.lag_seconds:.0f}s): "
                                  f"{decision.reason}"))
    return ScalingOutcome(replicas=decision.replicas if scaled else None, desired_replicas=decision.replicas,
                          decision=decision, status_changes=_due_changes(inputs, new), events=tuple(events))


def _due_changes(inputs: ScalingInputs, new: Mapping[str, Any]) -> dict[str, Any]:
    changes = changed_fields(inputs.status, new)
    moved = inputs.report is None or inputs.report.moved_at > inputs.last_status_write
    if changes and status_write_due(inputs.status, changes, inputs.last_status_write, inputs.now, moved):
        return changes
    return {}
