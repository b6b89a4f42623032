"""Consumer-group lag, in messages and in seconds (pure).

Lag per partition is ``max(0, log_end - committed)``. A partition without a committed offset
counts as the consumer would start on it: ``earliest`` reads everything still retained
(``log_end - log_start``, not ``log_end``: KEDA counted from zero), ``latest`` reads nothing.
A committed offset older than the log start (retention deleted it) counts from the log start.

Time lag follows kafka-lag-exporter: keep a short table of (log-end offset, time) samples per
partition and interpolate the time at which the committed offset was the log end; the lag in
seconds is how long ago that was.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

OffsetReset = Literal["earliest", "latest"]


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str
    partition: int
    log_start: int
    log_end: int
    committed: int | None  # None: the group never committed on this partition


def partition_lag(offsets: PartitionOffsets, reset: OffsetReset) -> int:
    return lag_of(offsets.log_start, offsets.log_end, offsets.committed, reset)


def lag_of(log_start: int, log_end: int, committed: int | None, reset: OffsetReset) -> int:
    """``partition_lag`` on plain numbers: the collector computes it for every partition of every
    group each cycle, and 60,000 PartitionOffsets objects a cycle cost more than the arithmetic."""
    if committed is None or committed < 0:
        return max(0, log_end - log_start) if reset == "earliest" else 0
    return max(0, log_end - max(committed, log_start))


def total_lag(partitions: Iterable[PartitionOffsets], reset: OffsetReset) -> int:
    return sum(partition_lag(p, reset) for p in partitions)


@dataclass
class OffsetHistory:
    """Recent (log-end offset, time) samples of one partition, oldest first."""

    max_samples: int = 60
    samples: deque[tuple[int, float]] = field(default_factory=deque)

    def record(self, log_end: int, at: float) -> None:
        if self.samples and log_end < self.samples[-1][0]:
            self.samples.clear()  # the topic was recreated: old samples mean nothing
        if self.samples and log_end == self.samples[-1][0]:
            # No new messages: keep the first time this offset was seen, it is when it was produced.
            return
        self.samples.append((log_end, at))
        while len(self.samples) > self.max_samples:
            self.samples.popleft()

    def produced_at(self, offset: int) -> float | None:
        """When the log end was at ``offset`` (interpolated), or None if older than the history."""
        if not self.samples or offset < self.samples[0][0]:
            return None
        index = bisect.bisect_left(self.samples, offset, key=_offset)
        if index >= len(self.samples):
            return self.samples[-1][1]
        o1, t1 = self.samples[index]
        if o1 == offset or index == 0:
            return t1
        o0, t0 = self.samples[index - 1]
        return t0 + (t1 - t0) * (offset - o0) / (o1 - o0)


def _offset(sample: tuple[int, float]) -> int:
    return sample[0]


def partition_lag_seconds(offsets: PartitionOffsets, history: OffsetHistory, now: float,
                          reset: OffsetReset) -> float:
    """Seconds behind: 0 when caught up; when the committed offset predates the history, the age
    of the oldest sample (a lower bound, which only grows while the group stays behind)."""
    if partition_lag(offsets, reset) == 0:
        return 0.0
    return seconds_behind(history, offsets.log_start, offsets.committed, now)


def seconds_behind(history: OffsetHistory, log_start: int, committed: int | None, now: float) -> float:
    """``partition_lag_seconds`` of a partition known to have lag, on plain numbers."""
    position = log_start if committed is None or committed < 0 else committed
    produced = history.produced_at(max(position, log_start))
    if produced is None:
        produced = history.samples[0][1] if history.samples else now
    return max(0.0, now - produced)
