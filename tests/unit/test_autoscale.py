"""The replica decision, including the KEDA pitfalls it must avoid."""

from __future__ import annotations

import pytest

from kafkaops.consumers.autoscale import GroupSnapshot, ScalingPolicy, Stabilizer, recommend

pytestmark = pytest.mark.unit


def policy(**kw) -> ScalingPolicy:
    return ScalingPolicy(**{"min_replicas": 1, "max_replicas": 12, "lag_threshold": 1000, **kw})


@pytest.mark.parametrize(("lag", "partitions", "kw", "expected"), [
    (0, 6, {}, 1),  # minReplicas
    (1, 6, {}, 1),
    (2500, 6, {}, 3),  # ceil(2500 / 1000)
    (3000, 6, {}, 3),
    (50_000, 6, {}, 6),  # capped at partitions, not partitions + 1
    (50_000, 6, {"allow_idle_consumers": True}, 12),  # then maxReplicas
    (50_000, 24, {}, 12),
    (0, 6, {"min_replicas": 0}, 0),  # scale to zero
    (5, 6, {"min_replicas": 0, "activation_lag_threshold": 10}, 0),
    (11, 6, {"min_replicas": 0, "activation_lag_threshold": 10}, 1),  # back to at least one
    (0, 2, {"min_replicas": 4}, 4),  # an explicit minReplicas beats the partition cap
    (20_000, 1, {"share_group": True}, 12),  # a share group is not capped at the partition count...
    (8_000, 1, {"share_group": True}, 8),
    (0, 1, {"share_group": True, "min_replicas": 0}, 0),  # ...scales to zero like any group
    (50_000, 1, {"share_group": True, "max_replicas": 4}, 4),  # ...and stays within maxReplicas
])
def test_recommendation(lag, partitions, kw, expected):
    snapshot = GroupSnapshot(total_lag=lag, lag_seconds=0.0, partitions=partitions)
    replicas, reason = recommend(snapshot, policy(**kw), current=1)
    assert replicas == expected, reason


def test_stale_lag_of_markers_does_not_keep_a_group_from_zero():
    snapshot = GroupSnapshot(total_lag=3, lag_seconds=900, partitions=3, stale=True)
    replicas, reason = recommend(snapshot, policy(min_replicas=0), current=1)
    assert replicas == 0 and "stale" in reason


def test_time_lag_adds_replicas_when_draining_would_take_too_long():
    snapshot = GroupSnapshot(total_lag=500, lag_seconds=120, partitions=12)
    replicas, reason = recommend(snapshot, policy(max_lag_seconds=60), current=2)
    assert replicas == 4 and "maxLagSeconds" in reason  # 2 replicas x 120 s / 60 s


def test_scale_up_is_immediate_and_scale_down_waits_for_the_window():
    stabilizer = Stabilizer()
    assert stabilizer.decide(6, "up", current=1, now=0, window_seconds=300).replicas == 6
    held = stabilizer.decide(2, "down", current=6, now=100, window_seconds=300)
    assert held.replicas == 6 and held.recommendation == 2 and "stabilization" in held.reason
    assert stabilizer.decide(2, "down", current=6, now=299, window_seconds=300).replicas == 6
    assert stabilizer.decide(2, "down", current=6, now=301, window_seconds=300).replicas == 2


def test_scale_down_goes_to_the_largest_recent_recommendation():
    stabilizer = Stabilizer()
    stabilizer.decide(6, "", current=6, now=0, window_seconds=10)
    stabilizer.decide(4, "", current=6, now=5, window_seconds=10)
    assert stabilizer.decide(1, "", current=6, now=12, window_seconds=10).replicas == 4


@pytest.mark.parametrize(("status", "changes", "last", "now", "due"), [
    ({}, {"totalLag": 5}, None, 0.0, True),  # never written
    ({"totalLag": 5}, {"totalLag": 9, "lagSeconds": 3.0}, 100.0, 105.0, False),  # lag moved, too soon
    ({"totalLag": 5}, {"totalLag": 9}, 100.0, 115.0, True),  # the interval has passed
    ({"totalLag": 5}, {"totalLag": 0}, 100.0, 101.0, True),  # drained: at once
    ({"totalLag": 0}, {"totalLag": 3}, 100.0, 101.0, True),  # lag appears: at once
    ({"totalLag": 5}, {"desiredReplicas": 2, "totalLag": 9}, 100.0, 101.0, True),  # a decision: at once
    ({"totalLag": 5}, {"lagSeconds": 40.0}, 100.0, 101.0, False),
    # A figure that barely moved waits for its share (a tenth of totalLag, half of lagSeconds, which
    # a standing backlog grows with the clock) or ten minutes.
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 400.0}, 100.0, 200.0, False),
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 450.0}, 100.0, 250.0, True),
    ({"totalLag": 1000, "lagSeconds": 300.0}, {"totalLag": 1050}, 100.0, 699.0, False),
    ({"totalLag": 1000, "lagSeconds": 300.0}, {"totalLag": 1100}, 100.0, 120.0, True),
    ({"totalLag": 1000, "lagSeconds": 300.0}, {"totalLag": 1050}, 100.0, 700.0, True),
])
def test_lag_only_status_changes_wait_for_the_interval_and_a_real_move(status, changes, last, now, due):
    from kafkaops.consumers.status import status_write_due

    assert status_write_due(status, changes, last, now) is due


@pytest.mark.parametrize(("status", "changes", "now", "due"), [
    # Nothing produced or consumed since the last write: a standing backlog's growing lagSeconds waits
    # for the hour, however far it grew.
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 600.0}, 250.0, False),
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 900.0}, 700.0, False),
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 3600.0}, 3699.0, False),
    ({"totalLag": 5, "lagSeconds": 300.0}, {"lagSeconds": 3700.0}, 3700.0, True),
    # Decisions and conditions are written at once all the same.
    ({"totalLag": 5, "lagSeconds": 300.0}, {"desiredReplicas": 2, "lagSeconds": 600.0}, 101.0, True),
])
def test_lag_only_changes_of_a_group_whose_offsets_did_not_move_wait_for_an_hour(status, changes, now, due):
    from kafkaops.consumers.status import status_write_due

    assert status_write_due(status, changes, 100.0, now, moved=False) is due


def test_a_new_stabilizer_holds_the_running_replicas_for_one_window():
    """After a restart the stabilizer has no memory: a busy group must not drop at the first poll."""
    stabilizer = Stabilizer.starting_at(8, now=1000)
    held = stabilizer.decide(3, "down", current=8, now=1000, window_seconds=300)
    assert held.replicas == 8 and held.recommendation == 3
    assert stabilizer.decide(3, "down", current=8, now=1299, window_seconds=300).replicas == 8
    assert stabilizer.decide(3, "down", current=8, now=1301, window_seconds=300).replicas == 3
    assert Stabilizer.starting_at(2, now=0).decide(9, "up", current=2, now=0, window_seconds=300).replicas == 9
