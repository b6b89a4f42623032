"""client-go's leader-election decisions, table by table: who acquires, renews or waits, judged by
the local monotonic clock only (the other node's renewTime is never compared with ours)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops import leadership
from kafkaops.leadership import Action, LeaseRecord, Timings, decide, observed_at, release_record

pytestmark = pytest.mark.unit
T = Timings()  # 15 s lease, 10 s renew deadline, 2 s retry
NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
# A renewTime far in the future or past (a skewed clock on the holder's node) must not matter.
SKEWED = NOW + timedelta(hours=3)


def held(holder: str | None, *, transitions: int = 4, duration: int | None = 15, renewed: datetime = SKEWED,
         version: str = "41") -> LeaseRecord:
    return LeaseRecord(holder, duration, renewed - timedelta(minutes=5), renewed, transitions, version)


@pytest.mark.parametrize(("current", "observed", "now", "action", "transitions", "reason"), [
    (None, 0.0, 0.0, Action.ACQUIRE, 0, "no lease yet"),
    (held("me"), 100.0, 100.0, Action.RENEW, 4, "held by me"),
    (held("me"), 100.0, 500.0, Action.RENEW, 4, "held by me"),  # my own lease: renew, never a new term
    (held("other"), 100.0, 100.0, Action.WAIT, None, "held by other"),
    (held("other"), 100.0, 114.9, Action.WAIT, None, "held by other"),
    (held("other"), 100.0, 115.0, Action.ACQUIRE, 5, "expired: other did not renew within 15s"),
    (held("other", renewed=NOW - timedelta(days=1)), 100.0, 101.0, Action.WAIT, None, "held by other"),
    (held("other", duration=60), 100.0, 150.0, Action.WAIT, None, "held by other"),  # the holder's duration
    (held("other", duration=None), 100.0, 115.0, Action.ACQUIRE, 5, "expired: other did not renew within 15s"),
    (held(None), 100.0, 100.0, Action.ACQUIRE, 5, "released"),
    (held(None, duration=1), 100.0, 100.0, Action.ACQUIRE, 5, "released"),
])
def test_decide(current, observed, now, action, transitions, reason):
    decision = decide(current, "me", observed, now, NOW, T)
    assert (decision.action, decision.reason) == (action, reason)
    if action is Action.WAIT:
        assert decision.record is None
        return
    record = decision.record
    assert record.holder == "me" and record.lease_duration_seconds == 15 and record.renew_time == NOW
    assert record.transitions == transitions
    if action is Action.RENEW:
        assert record.acquire_time == current.acquire_time and record.resource_version == "41"
    else:
        assert record.acquire_time == NOW
        assert record.resource_version == (None if current is None else "41")  # a conditional write


@pytest.mark.parametrize(("previous", "previous_at", "current", "expected"), [
    (None, None, held("other"), 50.0),                            # first read
    (held("other"), 10.0, held("other"), 10.0),                   # unchanged: the lease ages
    (held("other"), 10.0, held("other", version="42"), 50.0),     # renewed: observed again now
    (held("other"), 10.0, held("next", transitions=5), 50.0),     # taken over
    (None, 10.0, None, 10.0),                                     # still no lease
])
def test_observed_time_is_when_this_process_first_saw_the_record(previous, previous_at, current, expected):
    assert observed_at(previous, previous_at, current, 50.0) == expected


def test_a_standby_takes_over_only_after_a_whole_lease_duration_of_silence():
    """Poll every retry period; the holder stops renewing after t=20: takeover at the first poll at or
    after 20 + 15, however the renewTimes read."""
    seen, seen_at, taken = None, None, None
    for tick in range(40):
        now = tick * T.retry_period
        current = held("other", version=str(min(tick, 10)))  # renewed every poll until t=20
        seen_at, seen = observed_at(seen, seen_at, current, now), current
        if decide(current, "me", seen_at, now, NOW, T).action is Action.ACQUIRE:
            taken = now
            break
    assert taken == 36.0  # last change seen at 20; 20 + 15 = 35, next poll 36


def test_release_keeps_the_transitions_and_clears_the_holder():
    record = release_record(held("me", transitions=7), NOW)
    assert (record.holder, record.transitions, record.lease_duration_seconds) == (None, 7, 1)
    assert record.acquire_time == record.renew_time == NOW and record.resource_version == "41"
    assert decide(record, "standby", 0.0, 0.0, NOW, T).action is Action.ACQUIRE


@pytest.mark.parametrize("durations", [(15, 15, 2), (15, 20, 2), (15, 10, 10), (15, 10, 0), (10, 5, -1)])
def test_timings_must_leave_the_old_leader_time_to_stop(durations):
    with pytest.raises(ValueError, match="retryPeriod"):
        Timings(*durations)


@pytest.mark.parametrize(("renewed", "now", "leading"), [
    (None, 100.0, False),   # never renewed
    (100.0, 100.0, True),
    (100.0, 109.9, True),
    (100.0, 110.0, False),  # the renew deadline passed: stop writing, even before anyone took over
    (100.0, 400.0, False),  # resumed after a long SIGSTOP
])
def test_is_leading_follows_the_last_renewal(renewed, now, leading):
    leadership.enable(T.renew_deadline)
    try:
        if renewed is not None:
            leadership._renewed(renewed)
        assert leadership.is_leading(now) is leading
    finally:
        leadership.disable()


def test_standalone_always_leads():
    leadership.disable()
    assert leadership.is_leading() and leadership.is_leading(1e12)


class _FrozenStore:
    """A lease store whose read takes as long as a freeze: the process stops mid-round (SIGSTOP while
    the GET is on the wire) and resumes after the renew deadline. Records what was written."""

    def __init__(self, record: LeaseRecord, frozen_for: float) -> None:
        self.record, self.frozen_for, self.writes = record, frozen_for, []

    def get(self, timeout: float) -> LeaseRecord:
        leadership._renewed(leadership._STATE.renewed_at - self.frozen_for)  # as if the clock ran on
        return self.record

    def create(self, record: LeaseRecord, timeout: float) -> LeaseRecord:
        self.writes.append(record)
        return record

    def replace(self, record: LeaseRecord, timeout: float) -> LeaseRecord:
        self.writes.append(record)
        return record


@pytest.mark.parametrize(("frozen_for", "written"), [(0.0, 1), (T.renew_deadline + 5, 0)])
def test_a_renewal_that_resumes_past_the_renew_deadline_writes_nothing(frozen_for, written):
    store = _FrozenStore(held("me"), frozen_for)
    elector = leadership.LeaderElector(store, "me", T, "ns/lease", on_lost=lambda: None)
    leadership.enable(T.renew_deadline)
    try:
        leadership._renewed(time.monotonic())
        decision = elector.try_acquire_or_renew(timeout=1)
    finally:
        leadership.disable()
    assert len(store.writes) == written
    assert decision.action is (Action.RENEW if written else Action.WAIT)


def test_the_fence_refuses_once_the_renew_deadline_passed():
    leadership.enable(T.renew_deadline)
    try:
        with pytest.raises(leadership.LeadershipLost, match="create_topics not sent"):
            leadership.fence("create_topics")  # never renewed: not leading
        leadership._renewed(time.monotonic())
        leadership.fence("create_topics")  # leading: no error
    finally:
        leadership.disable()
    leadership.fence("create_topics")  # standalone
