"""Which ConsumerApps a scaler cycle collects, and when the next cycle is due (pure)."""

from __future__ import annotations

import pytest

from kafkaops.consumers.schedule import due_at, schedule

pytestmark = pytest.mark.unit


def test_an_app_never_polled_is_due_at_once():
    plan = schedule({"new": 15.0}, {}, now=1003.2)
    assert plan.due == ["new"] and plan.delay == 0.0 and plan.next_at is None


def test_polls_align_to_the_interval_so_apps_polled_apart_are_collected_together():
    # Handed over at different moments of one interval: both are due at its end, in one collection.
    polled = {"a": 1005.4, "b": 1019.9}
    assert due_at(1005.4, 15) == due_at(1019.9, 15) == 1020.0
    early = schedule({"a": 15.0, "b": 15.0}, polled, now=1019.95)
    assert early.due == [] and early.next_at == 1020.0
    plan = schedule({"a": 15.0, "b": 15.0}, polled, now=1020.0)
    assert plan.due == ["a", "b"] and plan.delay == 0.0


def test_apps_of_different_intervals_meet_at_common_multiples():
    intervals = {"fast": 5.0, "slow": 15.0}
    polled = {"fast": 1035.0, "slow": 1035.0}
    assert schedule(intervals, polled, now=1040.0).due == ["fast"]
    assert schedule(intervals, {"fast": 1045.0, "slow": 1035.0}, now=1050.0).due == ["fast", "slow"]


def test_a_slow_cycle_is_one_late_collection_not_a_queue_of_missed_ones():
    # The last collection began at 1015 and took 40 s: the slots it overran are not made up for;
    # the app is due once, and the delay says how late.
    plan = schedule({"a": 15.0}, {"a": 1015.0}, now=1055.0)
    assert plan.due == ["a"]
    assert plan.delay == pytest.approx(35.0)  # due at 1020
    after = schedule({"a": 15.0}, {"a": 1055.0}, now=1055.1)
    assert after.due == [] and after.next_at == 1065.0


def test_next_at_is_the_earliest_waiting_app():
    plan = schedule({"a": 15.0, "b": 5.0, "c": 60.0}, {"a": 1001.0, "b": 1001.0, "c": 1001.0}, now=1002.0)
    assert plan.due == [] and plan.next_at == 1005.0
