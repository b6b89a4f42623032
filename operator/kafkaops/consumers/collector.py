"""One operator-wide lag collection per cycle, for every ConsumerApp at once.

Per cycle: one list_offsets request (log ends) for all partitions of all apps, one
describe_consumer_groups for all groups, and the committed offsets of all groups (batched per
coordinator). Partition counts (describe_topics) and log starts (a second list_offsets) change
rarely, with partition growth and retention: they are refreshed every ``METADATA_REFRESH_SECONDS``
and at once for a topic seen for the first time. Every scaling decision of the cycle is served
from this one poll.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kafkaops.consumers.autoscale import GroupSnapshot
from kafkaops.consumers.lag import OffsetHistory, OffsetReset, lag_of, seconds_behind
from kafkaops.types.errors import TopicMissing
from kafkaops.types.groups import GroupReader

# A partition whose lag stays at most this, with nothing produced or consumed for the stale
# window, is counted as drained: transaction markers and compaction gaps leave such offsets.
STALE_LAG_PER_PARTITION = 2


METADATA_REFRESH_SECONDS = 30.0


@dataclass(frozen=True, kw_only=True)
class AppQuery:
    key: tuple[str, str]  # (namespace, name)
    group: str
    topics: tuple[str, ...]
    reset: OffsetReset
    stale_after_seconds: float


@dataclass(frozen=True, kw_only=True)
class GroupReport:
    snapshot: GroupSnapshot
    state: str
    members: int
    per_partition: Mapping[tuple[str, int], int]  # lag per partition (for the metrics)
    missing_topics: tuple[str, ...] = ()  # topics of the app the broker does not have
    moved_at: float = 0.0  # when the group's log ends or committed offsets last moved (first seen: then)


@dataclass
class _Progress:
    fingerprint: tuple[int, ...] = ()
    since: float = 0.0


@dataclass
class LagCollector:
    """Keeps the (log end, time) history of every partition and each group's last progress."""

    histories: dict[tuple[str, int], OffsetHistory] = field(default_factory=dict)
    progress: dict[tuple[str, str], _Progress] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # partitions per topic
    starts: dict[tuple[str, int], int] = field(default_factory=dict)  # log start per partition
    metadata_at: float = float("-inf")

    async def collect(self, reader: GroupReader, apps: Sequence[AppQuery],
                      now: float | None = None) -> dict[tuple[str, str], GroupReport]:
        now = time.time() if now is None else now
        topics = sorted({t for app in apps for t in app.topics})
        refresh = now - self.metadata_at >= METADATA_REFRESH_SECONDS
        # Topics seen for the first time, or missing last time (they may exist now), are described at once.
        new_topics = topics if refresh else [t for t in topics if not self.counts.get(t)]
        if new_topics:
            self.counts.update(await reader.partition_counts(new_topics))
        counts = {t: self.counts.get(t, 0) for t in topics}
        partitions = [(t, p) for t in topics for p in range(counts[t])]
        try:
            ends = await reader.log_offsets(partitions, "latest")
        except TopicMissing:
            # A topic deleted (or re-created smaller) since it was described: describe them all again
            # and ask once more, rather than fail every app's collection until the next refresh.
            self.counts.update(await reader.partition_counts(topics))
            counts = {t: self.counts.get(t, 0) for t in topics}
            partitions = [(t, p) for t in topics for p in range(counts[t])]
            ends = await reader.log_offsets(partitions, "latest")
        # A log end below the cached start: the topic was deleted and created again; ask anew.
        unknown_starts = partitions if refresh else [key for key in partitions
                                                     if key not in self.starts or ends[key] < self.starts[key]]
        if unknown_starts:
            self.starts.update(await reader.log_offsets(unknown_starts, "earliest"))
        if refresh:
            self.metadata_at = now
            self.counts = {t: self.counts[t] for t in topics if t in self.counts}
            self.starts = {key: self.starts[key] for key in partitions if key in self.starts}
            self.histories = {key: self.histories[key] for key in partitions if key in self.histories}
        groups = sorted({app.group for app in apps})
        states = await reader.describe_groups(groups)
        committed = await reader.committed_offsets(groups)
        histories = self.histories
        for key, end in ends.items():
            history = histories.get(key)
            if history is None:
                history = histories[key] = OffsetHistory()
            history.record(end, now)
        return {app.key: self._report(app, counts, ends, states, committed.get(app.group, {}), now) for app in apps}

    def _report(self, app: AppQuery, counts: Mapping[str, int], ends: Mapping[tuple[str, int], int],
                states: Mapping[str, tuple[str, int]], committed: Mapping[tuple[str, int], int],
                now: float) -> GroupReport:
        # Plain numbers per partition, no object each: this runs for every partition of every group.
        lags: dict[tuple[str, int], int] = {}
        seconds = 0.0
        fingerprint: list[int] = []
        starts, reset = self.starts, app.reset
        for topic in app.topics:
            for partition in range(counts.get(topic, 0)):
                key = (topic, partition)
                end = ends.get(key)
                if end is None:
                    continue
                start, position = starts.get(key, 0), committed.get(key)
                lag = lags[key] = lag_of(start, end, position, reset)
                if lag:
                    seconds = max(seconds, seconds_behind(self.histories[key], start, position, now))
                fingerprint += (end, -1 if position is None else position)
        moved = tuple(fingerprint)
        progress = self.progress.setdefault(app.key, _Progress(moved, now))
        if progress.fingerprint != moved:
            progress.fingerprint, progress.since = moved, now
        stale = (bool(lags) and max(lags.values()) <= STALE_LAG_PER_PARTITION
                 and now - progress.since >= app.stale_after_seconds)
        state, members = states.get(app.group, ("Unknown", 0))
        snapshot = GroupSnapshot(total_lag=sum(lags.values()), lag_seconds=seconds,
                                 partitions=sum(counts.get(t, 0) for t in app.topics), stale=stale)
        missing = tuple(t for t in app.topics if not counts.get(t))
        return GroupReport(snapshot=snapshot, state=state, members=members, per_partition=lags, missing_topics=missing,
                           moved_at=progress.since)

    def forget(self, key: tuple[str, str]) -> None:
        self.progress.pop(key, None)
