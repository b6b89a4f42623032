"""The scaling step of one ConsumerApp, table-driven (KEDA's scaler tests are the model): inputs
are an app's status, Deployment and lag report; the outcome is the replicas to set, the Events
to post and the status to write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kafkaops.consumers.autoscale import GroupSnapshot, ScalingPolicy, Stabilizer
from kafkaops.consumers.collector import GroupReport
from kafkaops.consumers.deployment import DeploymentView
from kafkaops.consumers.scaling import ScalingInputs, decide_scaling

pytestmark = pytest.mark.unit
NOW = 10_000.0
POLICY = ScalingPolicy(min_replicas=1, max_replicas=10, lag_threshold=100, stabilization_window_seconds=300)


def report(lag: int, partitions: int = 12, missing: tuple[str, ...] = (), lag_seconds: float = 3.0,
           moved_at: float = NOW) -> GroupReport:
    return GroupReport(snapshot=GroupSnapshot(total_lag=lag, lag_seconds=lag_seconds, partitions=partitions),
                       state="Stable", members=2, per_partition={("orders", 0): lag}, missing_topics=missing,
                       moved_at=moved_at)


def condition(type_: str, status: str, reason: str) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": "", "lastTransitionTime": "t0"}


@dataclass
class Case:
    name: str
    lag: int | None  # None: the collection failed
    current: int = 2
    status: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    history: tuple[tuple[float, int], ...] = ()
    last_write: float = NOW - 60
    replicas: int | None = None
    events: tuple[tuple[str, str], ...] = ()
    ready: tuple[str, str] | None = None  # (status, reason) of Ready in the written status
    scaling: str | None = None  # reason of Scaling in the written status
    written: frozenset[str] | None = None  # exactly these status fields written
    lag_seconds: float = 3.0
    moved_at: float = NOW  # when the group's offsets last moved


def step(*, lag: int | None, current: int = 2, status: dict[str, Any] | None = None, missing: tuple[str, ...] = (),
         history: tuple[tuple[float, int], ...] = (), last_write: float = NOW - 60, lag_seconds: float = 3.0,
         moved_at: float = NOW):
    stabilizer = Stabilizer.starting_at(current, NOW - 500)
    stabilizer.history.extend(history)
    return decide_scaling(ScalingInputs(
        group="g", generation=1, status=status or {}, deployment=DeploymentView(current, 2, 2, "h", edited=False),
        policy=POLICY, problem="broker down",
        report=None if lag is None else report(lag, missing=missing, lag_seconds=lag_seconds, moved_at=moved_at),
        stabilizer=stabilizer, now=NOW, timestamp="2026-12-02T00:00:00Z", last_status_write=last_write))


# What a first step with lag 150 on 2 replicas writes: the status of an app that has settled.
STEADY_STATUS = step(lag=150).status_changes

CASES = [
    Case("lag above the threshold scales up at once", lag=950, replicas=10, events=(("Normal", "ScaledUp"),),
         ready=("True", "LagCollected"), scaling="ScaledUp"),
    Case("lag within what runs keeps the replicas", lag=150, ready=("True", "LagCollected"), scaling="Steady"),
    Case("scale-down is held by the stabilization window", lag=0, current=5, history=((NOW - 60, 5),),
         scaling="Steady"),
    Case("scale-down once the window has passed", lag=0, current=5, history=((NOW - 400, 5),), replicas=1,
         events=(("Normal", "ScaledDown"),), scaling="ScaledDown"),
    Case("collection failed: replicas kept, Ready False", lag=None, ready=("False", "BrokerUnavailable")),
    Case("missing topic: a Warning the first time", lag=0, current=1, missing=("gone",),
         ready=("False", "TopicNotFound"), events=(("Warning", "TopicNotFound"),)),
    Case("missing topic already reported: no second Event", lag=0, current=1, missing=("gone",),
         status={"conditions": [condition("Ready", "False", "TopicNotFound")]}, ready=("False", "TopicNotFound")),
    Case("nothing changed: nothing written", lag=150, status=STEADY_STATUS, written=frozenset()),
    Case("only the lag moved, written recently: not yet due", lag=170, status=STEADY_STATUS, last_write=NOW - 5,
         written=frozenset()),
    Case("only the lag moved, interval passed: written", lag=170, status=STEADY_STATUS, last_write=NOW - 20,
         written=frozenset({"totalLag"})),
    Case("a standing backlog's lagSeconds grew by half, offsets moved: written", lag=150, status=STEADY_STATUS,
         last_write=NOW - 20, lag_seconds=30.0, written=frozenset({"lagSeconds"})),
    Case("lagSeconds grew by half, nothing produced or consumed since the last write: not written", lag=150,
         status=STEADY_STATUS, last_write=NOW - 20, lag_seconds=30.0, moved_at=NOW - 30, written=frozenset()),
    Case("lag reached zero: written at once", lag=0, status=STEADY_STATUS, last_write=NOW - 5,
         written=frozenset({"totalLag"}), history=((NOW - 10, 2),)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_scaling_step(case: Case) -> None:
    outcome = step(lag=case.lag, current=case.current, status=case.status, missing=case.missing,
                   history=case.history, last_write=case.last_write, lag_seconds=case.lag_seconds,
                   moved_at=case.moved_at)
    assert outcome.replicas == case.replicas
    assert tuple((e.type, e.reason) for e in outcome.events) == case.events
    written = outcome.status_changes
    if case.written is not None:
        assert set(written) == case.written
    conditions = {c["type"]: c for c in written.get("conditions", [])}
    if case.ready is not None:
        assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == case.ready
    if case.scaling is not None:
        assert conditions["Scaling"]["reason"] == case.scaling
    assert ("lastScaleTime" in written) == (case.replicas is not None)
    if case.lag is None:
        assert "desiredReplicas" not in written and outcome.desired_replicas == case.current


def test_a_scale_event_names_from_and_to_and_the_lag_that_caused_it() -> None:
    """What a KEDA/HPA user reads in kubectl events: the replica change and the lag behind it."""
    (event,) = step(lag=950, current=2, lag_seconds=42.0).events
    assert event.message.startswith("scaled from 2 to 10 replicas on a lag of 950 messages (42s): lag 950")
