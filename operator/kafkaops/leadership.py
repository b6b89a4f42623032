"""Leader election by a lease, as client-go's ``leaderelection`` does it, without Kubernetes imports.

Several operator processes share one lease record; the holder renews it every ``retry_period``, the
others poll it. A standby never compares the holder's ``renewTime`` with its own clock (the nodes'
clocks may disagree): it notes the LOCAL monotonic time at which it first saw the record as it now is
(``observedTime``) and takes the lease over only when the record has not changed for the holder's
``leaseDuration`` since then. The holder, in turn, stops acting as leader when its last successful
renewal is older than ``renewDeadline`` (< ``leaseDuration``), so that by the time a standby can take
over, the old leader has already stopped. ``fence(action)`` is the guard every writer calls right
before it sends (the Kubernetes adapter on its API thread, the Kafka adapter before each state-changing
request, the renewer before the lease write), so a leader frozen past its deadline (SIGSTOP, a stalled
VM) sends nothing once it runs again, whichever thread wakes first.

The lease itself is reached through a ``LeaseStore`` (``kafkaops.kube.lease`` is the real one).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

LEASE_DURATION_SECONDS = 15.0
RENEW_DEADLINE_SECONDS = 10.0
RETRY_PERIOD_SECONDS = 2.0

logger = logging.getLogger("kafkaops.leadership")


@dataclass(frozen=True)
class LeaseRecord:
    """What a ``coordination.k8s.io/v1`` Lease says; ``resource_version`` makes writes conditional."""

    holder: str | None
    lease_duration_seconds: int | None
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int = 0
    resource_version: str | None = None


@dataclass(frozen=True)
class Timings:
    """client-go's three durations; a renew deadline at or above the lease duration would let a
    standby take over while the old leader still thinks it leads."""

    lease_duration: float = LEASE_DURATION_SECONDS
    renew_deadline: float = RENEW_DEADLINE_SECONDS
    retry_period: float = RETRY_PERIOD_SECONDS

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(f"leader election needs 0 < retryPeriod ({self.retry_period:g}s) < renewDeadline "
                             f"({self.renew_deadline:g}s) < leaseDuration ({self.lease_duration:g}s)")


class Action(enum.Enum):
    ACQUIRE = "acquire"  # write the record with me as holder (a new term: transitions + 1)
    RENEW = "renew"      # I hold it: write it again with a new renew time
    WAIT = "wait"        # someone else holds it and it has not expired


@dataclass(frozen=True)
class Decision:
    action: Action
    record: LeaseRecord | None  # the record to write; None for WAIT
    reason: str


def observed_at(previous: LeaseRecord | None, previous_at: float | None, current: LeaseRecord | None,
                now: float) -> float:
    """client-go's observedTime: the local monotonic time at which ``current`` was first seen. Any write
    changes the resource version, so an unchanged record means nobody renewed it since."""
    if previous_at is None or previous != current:
        return now
    return previous_at


def decide(current: LeaseRecord | None, identity: str, observed: float, now: float, wall_now: datetime,
           timings: Timings) -> Decision:
    """Acquire, renew or wait, given the record as last read (None: no lease yet) and when it was
    first seen locally (``observed``, monotonic)."""
    duration = round(timings.lease_duration)
    if current is None:
        return Decision(Action.ACQUIRE, LeaseRecord(identity, duration, wall_now, wall_now, 0), "no lease yet")
    if current.holder == identity:
        return Decision(Action.RENEW, replace(current, lease_duration_seconds=duration, renew_time=wall_now),
                        "held by me")
    if current.holder:
        held_for = current.lease_duration_seconds or timings.lease_duration
        if observed + held_for > now:
            return Decision(Action.WAIT, None, f"held by {current.holder}")
        reason = f"expired: {current.holder} did not renew within {held_for:g}s"
    else:
        reason = "released"
    taken = replace(current, holder=identity, lease_duration_seconds=duration, acquire_time=wall_now,
                    renew_time=wall_now, transitions=current.transitions + 1)
    return Decision(Action.ACQUIRE, taken, reason)


def release_record(current: LeaseRecord, wall_now: datetime) -> LeaseRecord:
    """What a leader writes on a graceful stop (client-go's ReleaseOnCancel): no holder and a 1 s
    duration, so a standby takes over at its next poll; the transition count is kept."""
    return replace(current, holder=None, lease_duration_seconds=1, acquire_time=wall_now, renew_time=wall_now)


class _Leadership:
    """The process-wide answer to "may I write?"; assignments of floats are atomic under the GIL."""

    def __init__(self) -> None:
        self.enabled = False
        self.renew_deadline = RENEW_DEADLINE_SECONDS
        self.renewed_at: float | None = None  # monotonic time at which the last successful renewal began


_STATE = _Leadership()


def enable(renew_deadline: float) -> None:
    """Leader election is on: until a renewal succeeds, this process does not lead."""
    _STATE.enabled, _STATE.renew_deadline, _STATE.renewed_at = True, renew_deadline, None


def disable() -> None:
    """Standalone: the only process, always leading."""
    _STATE.enabled, _STATE.renewed_at = False, None


def is_leading(now: float | None = None) -> bool:
    """True while the last successful renewal is younger than renewDeadline (always, standalone). A
    process frozen for longer (SIGSTOP, a stalled VM) is not leading the moment it resumes."""
    if not _STATE.enabled:
        return True
    renewed = _STATE.renewed_at
    now = time.monotonic() if now is None else now
    return renewed is not None and now - renewed < _STATE.renew_deadline


class LeadershipLost(RuntimeError):
    """This process no longer holds the leader lease: the write was not sent."""


def fence(action: str) -> None:
    """Raise ``LeadershipLost`` unless this process leads now; called right before a write is sent."""
    if not is_leading():
        raise LeadershipLost(f"not leading: {action} not sent")


def _renewed(at: float) -> None:
    _STATE.renewed_at = at


def _stepped_down() -> None:
    _STATE.renewed_at = None


class Conflict(Exception):
    """Someone else wrote the lease first (a stale resource version, or it already exists)."""


class LeaseUnavailable(Exception):
    """The lease could not be read or written (network, API server, authorization)."""


class LeaseStore(Protocol):
    def get(self, timeout: float) -> LeaseRecord | None: ...
    def create(self, record: LeaseRecord, timeout: float) -> LeaseRecord: ...
    def replace(self, record: LeaseRecord, timeout: float) -> LeaseRecord: ...


class LeaderElector:
    """Acquire, renew in a thread, release: client-go's loop over one ``LeaseStore``."""

    def __init__(self, store: LeaseStore, identity: str, timings: Timings, lease: str,
                 on_lost: Callable[[], None]) -> None:
        self.store, self.identity, self.timings, self.lease, self.on_lost = store, identity, timings, lease, on_lost
        self._seen: LeaseRecord | None = None
        self._seen_at: float | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def try_acquire_or_renew(self, timeout: float) -> Decision:
        """One round: read, decide, write if it is my turn. Returns the decision (WAIT when the
        write lost a race)."""
        started = time.monotonic()
        current = self.store.get(timeout)
        self._seen_at = observed_at(self._seen, self._seen_at, current, started)
        self._seen = current
        decision = decide(current, self.identity, self._seen_at, started, datetime.now(UTC), self.timings)
        if decision.record is None:
            return decision
        if decision.action is Action.RENEW and not is_leading():
            # Frozen or stalled past the renew deadline while this round ran: a standby may hold the
            # lease by now, so the holder writes nothing more (client-go cancels the renewal likewise).
            return Decision(Action.WAIT, None, f"renew deadline of {self.timings.renew_deadline:g}s passed")
        try:
            write = self.store.create if current is None else self.store.replace
            self._seen = write(decision.record, timeout)
        except Conflict:
            return Decision(Action.WAIT, None, "written first by another process")
        self._seen_at = time.monotonic()
        _renewed(started)
        return decision

    def acquire(self, stop: threading.Event) -> float | None:
        """Block until this process holds the lease (seconds it took), or None when ``stop`` is set."""
        enable(self.timings.renew_deadline)
        started, reported = time.monotonic(), None
        poll_at = started
        while not stop.is_set():
            try:
                decision = self.try_acquire_or_renew(timeout=self.timings.retry_period)
            except LeaseUnavailable as error:
                logger.warning("cannot read or write lease %s: %s", self.lease, error)
            else:
                if decision.action is not Action.WAIT:
                    return time.monotonic() - started
                if decision.reason != reported:
                    logger.info("standing by: lease %s %s", self.lease, decision.reason)
                    reported = decision.reason
            # At a fixed rate, not a period after each round: takeover stays within leaseDuration +
            # 2 retry periods of the leader's last renewal, however long the reads take.
            poll_at = max(poll_at + self.timings.retry_period, time.monotonic())
            stop.wait(max(0.0, poll_at - time.monotonic()))
        return None

    def start_renewing(self) -> None:
        self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.timings.retry_period):
            if not is_leading():
                self._lost()
                return
            remaining = self.timings.renew_deadline - (time.monotonic() - (_STATE.renewed_at or 0.0))
            try:
                decision = self.try_acquire_or_renew(timeout=max(0.5, remaining))
            except LeaseUnavailable as error:
                logger.warning("lease %s not renewed: %s", self.lease, error)
                continue
            if decision.action is Action.WAIT:
                logger.warning("lease %s not renewed: %s", self.lease, decision.reason)

    def _lost(self) -> None:
        _stepped_down()
        logger.error("leadership lost: lease %s not renewed within %gs", self.lease, self.timings.renew_deadline)
        self.on_lost()

    def release(self) -> None:
        """Stop renewing and hand the lease back if it is still mine, so a standby takes over at once."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.timings.renew_deadline)
        still_mine = is_leading()
        _stepped_down()
        if not still_mine or self._seen is None or self._seen.holder != self.identity:
            return
        try:
            self.store.replace(release_record(self._seen, datetime.now(UTC)), timeout=self.timings.retry_period)
        except (Conflict, LeaseUnavailable) as error:
            logger.warning("lease %s not released (a standby takes over when it expires): %s", self.lease, error)
            return
        logger.info("released lease %s", self.lease)
