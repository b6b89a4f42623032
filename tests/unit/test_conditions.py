from __future__ import annotations

import datetime

import pytest

from kafkaops.conditions import (
    HOLD_REASONS,
    TRANSIENT_REASONS,
    change_pending,
    find_condition,
    missing_cluster_reason,
    set_condition,
)

pytestmark = pytest.mark.unit


def test_transition_time_moves_only_when_status_flips():
    first = set_condition([], type_="Ready", status=False, reason="BrokerUnavailable", message="down",
                          generation=1, now="2026-01-01T00:00:00Z")
    same = set_condition(first, type_="Ready", status=False, reason="InvalidConfig", message="bad",
                         generation=2, now="2026-01-02T00:00:00Z")
    flipped = set_condition(same, type_="Ready", status=True, reason="Created", message="ok",
                            generation=2, now="2026-01-03T00:00:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["reason"] == "InvalidConfig" and same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"
    assert flipped[0]["status"] == "True"


def test_other_conditions_are_kept_in_place():
    conditions = [{"type": "A", "status": "True"}, {"type": "Ready", "status": "False"}, {"type": "B"}]
    updated = set_condition(conditions, type_="Ready", status=True, reason="R", message="m", generation=None)
    assert [c["type"] for c in updated] == ["A", "Ready", "B", "Reconciling", "Stalled"]
    assert "observedGeneration" not in find_condition(updated, "Ready")
    assert conditions[1]["status"] == "False"  # input untouched


def kstatus_view(conditions):
    return {c["type"]: c["status"] for c in conditions if c["type"] in ("Reconciling", "Stalled")}


@pytest.mark.parametrize("reason", sorted(TRANSIENT_REASONS))
def test_a_failure_the_operator_retries_is_reconciling(reason):
    updated = set_condition([], type_="Ready", status=False, reason=reason, message="m", generation=3)
    assert kstatus_view(updated) == {"Reconciling": "True", "Stalled": "False"}
    assert find_condition(updated, "Reconciling")["reason"] == reason
    assert find_condition(updated, "Reconciling")["observedGeneration"] == 3


@pytest.mark.parametrize("reason", ["InvalidConfig", "PolicyViolation", "DeploymentRejected", "TopicNotFound",
                                    "Conflict", "AuthenticationFailed", "SomeReasonAddedLater"])
def test_any_other_failure_is_stalled(reason):
    updated = set_condition([], type_="Ready", status=False, reason=reason, message="m", generation=3)
    assert kstatus_view(updated) == {"Reconciling": "False", "Stalled": "True"}
    assert find_condition(updated, "Stalled")["message"] == "m"


@pytest.mark.parametrize(("reason", "ready"), [("Created", True),
                                               *((hold, ready) for hold in sorted(HOLD_REASONS)
                                                 for ready in (True, False))])
def test_ready_or_held_is_neither(reason, ready):
    updated = set_condition([], type_="Ready", status=ready, reason=reason, message="m", generation=3)
    assert kstatus_view(updated) == {"Reconciling": "False", "Stalled": "False"}


def test_kstatus_conditions_move_their_transition_time_only_when_they_flip():
    down = set_condition([], type_="Ready", status=False, reason="BrokerUnavailable", message="a", generation=1,
                         now="2026-01-01T00:00:00Z")
    still = set_condition(down, type_="Ready", status=False, reason="ClusterNotReady", message="b", generation=1,
                          now="2026-01-02T00:00:00Z")
    stalled = set_condition(still, type_="Ready", status=False, reason="InvalidConfig", message="c", generation=2,
                            now="2026-01-03T00:00:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in still}
    assert times == dict.fromkeys(("Ready", "Reconciling", "Stalled"), "2026-01-01T00:00:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in stalled}
    assert times == {"Ready": "2026-01-01T00:00:00Z", "Reconciling": "2026-01-03T00:00:00Z",
                     "Stalled": "2026-01-03T00:00:00Z"}
    assert set_condition(stalled, type_="Ready", status=False, reason="InvalidConfig", message="c", generation=2,
                         now="2026-01-04T00:00:00Z") == stalled


def test_other_condition_types_get_no_kstatus_conditions():
    assert [c["type"] for c in set_condition([], type_="Synced", status=False, reason="X", message="m",
                                             generation=1)] == ["Synced"]


def _status(reason: str | None, *, ready: bool = False, observed: int | None = 2, pending: bool = False,
            at: str = "2026-12-02T10:00:00Z") -> dict:
    conditions = [] if reason is None else set_condition([], type_="Ready", status=ready, reason=reason, message="m",
                                                         generation=observed, now=at, pending=pending)
    return {"observedGeneration": observed, "conditions": conditions} if observed is not None else {}


@pytest.mark.parametrize(("status", "generation", "pending"), [
    (_status("Created", ready=True), 2, False),               # paused after the spec was applied
    (_status("Created", ready=True), 3, True),                # a change made while paused
    ({}, 1, True),                                            # created paused: nothing applied
    (_status("Paused", ready=True, pending=True), 3, True),   # a later check of the same pause
    (_status("Paused", ready=True), 2, False),
])
def test_change_pending(status, generation, pending):
    assert change_pending(status, generation) is pending


@pytest.mark.parametrize(("status", "waited", "reason"), [
    ({}, 0, "ClusterNotReady"),                                        # first sight
    (_status("ClusterNotReady"), 119, "ClusterNotReady"),
    (_status("ClusterNotReady"), 120, "ClusterNotFound"),
    (_status("ClusterNotFound"), 0, "ClusterNotFound"),               # stays until the cluster appears
    (_status("BrokerUnavailable"), 500, "ClusterNotReady"),            # the wait starts now
    (_status("Created", ready=True), 500, "ClusterNotReady"),
])
def test_missing_cluster_waits_then_stalls(status, waited, reason):
    now = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC) + datetime.timedelta(seconds=waited)
    assert missing_cluster_reason(status, 120, now) == reason


def test_paused_with_a_pending_change_is_reconciling_not_stalled():
    conditions = set_condition([], type_="Ready", status=True, reason="Paused", message="m", generation=3,
                               pending=True)
    assert [(c["type"], c["status"]) for c in conditions] == [("Ready", "True"), ("Reconciling", "True"),
                                                              ("Stalled", "False")]
