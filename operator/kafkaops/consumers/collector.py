"""One operator-wide lag collection per cycle, for every ConsumerApp at once.

Per cycle: one list_offsets request (log ends) for all partitions of all apps, the protocol, state
and members of every group of every protocol (one ListGroups per broker, one describe per coordinator
and protocol), and the committed offsets of all consumer groups (batched per coordinator); for share
groups (KIP-932) instead one DescribeShareGroupOffsets per coordinator, whose per-partition lag is the
broker's (KIP-1226).
Partition counts (describe_topics) and log starts (a second list_offsets) change
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
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable, TopicMissing
from kafkaops.types.groups import GroupReader, GroupStatus, GroupType, SharePartitionOffsets

# A partition whose lag stays at most this, with nothing produced or consumed for the stale
# window, is counted as drained: transaction markers and compaction gaps leave such offsets.
STALE_LAG_PER_PARTITION = 2


METADATA_REFRESH_SECONDS = 30.0
UNKNOWN = GroupStatus(None, "Unknown", None)  # a group the reader did not answer for


@dataclass(frozen=True, kw_only=True)
class AppQuery:
    key: tuple[str, str]  # (namespace, name)
    group: str
    topics: tuple[str, ...]
    reset: OffsetReset
    stale_after_seconds: float
    group_type: GroupType = "consumer"


@dataclass(frozen=True, kw_only=True)
class GroupReport:
    snapshot: GroupSnapshot
    state: str  # as the group's protocol names it; NotFound when no such group exists
    members: int | None  # None: not known (a group the operator may not describe, a streams group)
    protocol: str | None = None  # the group's type on the broker (classic, consumer, share); None: not found
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
    share_problem: str = ""  # why the last collection has no reports for share groups ("" when it has)

    async def collect(self, reader: GroupReader, apps: Sequence[AppQuery],
                      now: float | None = None) -> dict[tuple[str, str], GroupReport]:
        """A report per app; share apps are left out when their reads failed (``share_problem`` says why)."""
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
        all_groups = sorted({app.group for app in apps})
        states = await reader.describe_groups(all_groups) if all_groups else {}
        groups = sorted({app.group for app in apps if app.group_type == "consumer"})
        committed = await reader.committed_offsets(groups) if groups else {}
        share_topics: dict[str, dict[str, int]] = {}
        for app in apps:
            if app.group_type == "share":
                share_topics.setdefault(app.group, {}).update({t: counts[t] for t in app.topics if counts[t]})
        shared, self.share_problem = {}, ""
        if share_topics:
            try:
                with_partitions = {group: topics for group, topics in share_topics.items() if topics}
                shared = await reader.share_group_offsets(with_partitions) if with_partitions else {}
            except (KafkaUnavailable, KafkaRejected) as error:
                # Only the share apps go without a report (e.g. a broker older than Kafka 4.2): classic
                # groups on the same cluster still scale.
                self.share_problem = f"share groups: {error}"
        histories = self.histories
        for key, end in ends.items():
            history = histories.get(key)
            if history is None:
                history = histories[key] = OffsetHistory()
            history.record(end, now)
        return {app.key: self._report(app, counts, ends, states, committed.get(app.group, {}), now)
                if app.group_type == "consumer" else
                self._share_report(app, counts, ends, states, shared.get(app.group, {}), now)
                for app in apps if app.group_type == "consumer" or not self.share_problem}

    def _report(self, app: AppQuery, counts: Mapping[str, int], ends: Mapping[tuple[str, int], int],
                states: Mapping[str, GroupStatus], committed: Mapping[tuple[str, int], int],
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
        moved_at = self._moved_at(app.key, tuple(fingerprint), now)
        stale = (bool(lags) and max(lags.values()) <= STALE_LAG_PER_PARTITION
                 and now - moved_at >= app.stale_after_seconds)
        status = states.get(app.group, UNKNOWN)
        snapshot = GroupSnapshot(total_lag=sum(lags.values()), lag_seconds=seconds,
                                 partitions=sum(counts.get(t, 0) for t in app.topics), stale=stale)
        missing = tuple(t for t in app.topics if not counts.get(t))
        return GroupReport(snapshot=snapshot, state=status.state, members=status.members, protocol=status.protocol,
                           per_partition=lags, missing_topics=missing, moved_at=moved_at)

    def _share_report(self, app: AppQuery, counts: Mapping[str, int], ends: Mapping[tuple[str, int], int],
                      states: Mapping[str, GroupStatus], offsets: Mapping[tuple[str, int], SharePartitionOffsets],
                      now: float) -> GroupReport:
        """A share group's backlog: the broker's lag per partition (records not yet acknowledged);
        a partition the group never read counts by the app's offset-reset rule, as a classic group's
        partition without a commit does. Its time lag is the age of the oldest record not yet
        acknowledged (the share-partition start offset, on the same log-end history). The stale rule is
        a classic-group rule (offsets a classic group can never commit) and is not applied here."""
        lags: dict[tuple[str, int], int] = {}
        seconds = 0.0
        fingerprint: list[int] = []
        for topic in app.topics:
            for partition in range(counts.get(topic, 0)):
                key = (topic, partition)
                end = ends.get(key)
                if end is None:
                    continue
                start, known = self.starts.get(key, 0), offsets.get(key)
                lag = lags[key] = (lag_of(start, end, None, app.reset) if known is None
                                   else max(0, known.lag))
                position = None if known is None else known.start_offset
                if lag:
                    seconds = max(seconds, seconds_behind(self.histories[key], start, position, now))
                fingerprint += (end, -1 if position is None else position, lag)
        status = states.get(app.group, UNKNOWN)
        snapshot = GroupSnapshot(total_lag=sum(lags.values()), lag_seconds=seconds,
                                 partitions=sum(counts.get(t, 0) for t in app.topics))
        missing = tuple(t for t in app.topics if not counts.get(t))
        return GroupReport(snapshot=snapshot, state=status.state, members=status.members, protocol=status.protocol,
                           per_partition=lags, missing_topics=missing,
                           moved_at=self._moved_at(app.key, tuple(fingerprint), now))

    def _moved_at(self, key: tuple[str, str], fingerprint: tuple[int, ...], now: float) -> float:
        """When the app's log ends or group offsets last changed (first seen: now)."""
        progress = self.progress.setdefault(key, _Progress(fingerprint, now))
        if progress.fingerprint != fingerprint:
            progress.fingerprint, progress.since = fingerprint, now
        return progress.since

    def forget(self, key: tuple[str, str]) -> None:
        self.progress.pop(key, None)
