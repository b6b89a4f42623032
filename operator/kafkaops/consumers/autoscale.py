"""The replica decision (pure): how many consumers a group should have.

- ``ceil(total_lag / lagThreshold)``, and with ``maxLagSeconds`` also enough replicas to drain the
  time lag in that bound (current replicas scaled by lagSeconds / maxLagSeconds);
- clamped to [minReplicas, maxReplicas] and, for a classic consumer group unless
  ``allowIdleConsumers``, capped at the topics' partition count: the replica count itself is capped
  (KEDA capped the metric, and the HPA's ceil and tolerance then gave partitions + 1 replicas). A
  share group (KIP-932) has no such cap: its consumers share partitions record by record;
- scale to zero when minReplicas is 0 and the lag is at most ``activationLagThreshold``, or when
  the remaining lag is *stale*: nothing was produced and nothing was consumed over the window
  (transaction markers and compaction gaps leave a few offsets that no consumer can ever commit);
- scale up at once; scale down to the largest recommendation of the stabilization window (the
  HPA's rule), so a dip in lag does not flap the Deployment; a window starts out holding the
  replicas that run when the operator first sees the app (after a restart too).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class ScalingPolicy:
    min_replicas: int = 1
    max_replicas: int = 10
    lag_threshold: int = 1000
    activation_lag_threshold: int = 0
    max_lag_seconds: float | None = None
    stabilization_window_seconds: float = 300.0
    allow_idle_consumers: bool = False
    share_group: bool = False  # a share group is never capped at the partition count


@dataclass(frozen=True, kw_only=True)
class GroupSnapshot:
    """One poll's view of a group."""

    total_lag: int
    lag_seconds: float
    partitions: int
    stale: bool = False  # lag unchanged, log ends unchanged and no commits over the window


@dataclass(frozen=True)
class Decision:
    replicas: int
    recommendation: int  # before stabilization
    reason: str  # in words, for a status condition and an Event


def recommend(snapshot: GroupSnapshot, policy: ScalingPolicy, current: int) -> tuple[int, str]:
    """The replica count this one snapshot asks for, and why."""
    effective_lag = 0 if snapshot.stale else snapshot.total_lag
    if effective_lag <= policy.activation_lag_threshold and policy.min_replicas == 0:
        why = "stale lag of transaction markers or compaction gaps" if snapshot.stale and snapshot.total_lag \
            else f"lag {snapshot.total_lag} at or below activationLagThreshold {policy.activation_lag_threshold}"
        return 0, f"{why}: scale to zero"
    by_lag = math.ceil(effective_lag / policy.lag_threshold)
    reasons = [f"lag {effective_lag} / lagThreshold {policy.lag_threshold} -> {by_lag}"]
    wanted = by_lag
    if policy.max_lag_seconds and snapshot.lag_seconds > policy.max_lag_seconds:
        by_time = math.ceil(max(current, 1) * snapshot.lag_seconds / policy.max_lag_seconds)
        reasons.append(f"time lag {snapshot.lag_seconds:.0f}s > maxLagSeconds {policy.max_lag_seconds:.0f}s "
                       f"-> {by_time}")
        wanted = max(wanted, by_time)
    bounded = max(policy.min_replicas, min(wanted, policy.max_replicas))
    if effective_lag > policy.activation_lag_threshold:
        bounded = max(bounded, 1)
    if bounded != wanted:
        reasons.append(f"within [{policy.min_replicas}, {policy.max_replicas}] -> {bounded}")
    capped = not (policy.allow_idle_consumers or policy.share_group)
    if capped and snapshot.partitions and bounded > snapshot.partitions:
        bounded = max(policy.min_replicas, snapshot.partitions)  # an explicit minReplicas still wins
        reasons.append(f"capped at {snapshot.partitions} partitions -> {bounded}")
    return bounded, "; ".join(reasons)


@dataclass
class Stabilizer:
    """Remembers recent recommendations of one group (the HPA's scale-down stabilization)."""

    history: deque[tuple[float, int]] = field(default_factory=deque)

    @classmethod
    def starting_at(cls, current: int, now: float) -> Stabilizer:
        """A stabilizer with no memory yet (a new app, or the operator just restarted): it counts
        the replicas running now as recommended now, so nothing scales down before a whole window
        of its own observations says so (a restart must not drop a busy group to minReplicas)."""
        return cls(deque([(now, current)]))

    def decide(self, recommendation: int, reason: str, current: int, now: float,
               window_seconds: float) -> Decision:
        self.history.append((now, recommendation))
        while self.history and self.history[0][0] < now - window_seconds:
            self.history.popleft()
        if recommendation >= current:
            return Decision(recommendation, recommendation, reason)
        held = min(max(r for _, r in self.history), current)
        if held > recommendation:
            return Decision(held, recommendation,
                            f"{reason}; scale-down held at {held} by the {window_seconds:.0f}s stabilization window")
        return Decision(recommendation, recommendation, reason)
