"""The collector's bookkeeping: which admin reads a cycle makes, and the lag it computes from them.
The reader here is a table of offsets (the adapter itself is tested against a real broker)."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.consumers.collector import METADATA_REFRESH_SECONDS, AppQuery, LagCollector
from kafkaops.types.errors import TopicMissing

pytestmark = pytest.mark.unit


class OffsetTable:
    def __init__(self) -> None:
        self.partitions = {"orders": 2}
        self.start = {("orders", 0): 0, ("orders", 1): 10}
        self.end = {("orders", 0): 100, ("orders", 1): 50}
        self.committed = {"g": {("orders", 0): 40}}
        self.calls: list[str] = []

    async def partition_counts(self, topics):
        self.calls.append("partition_counts")
        return {t: self.partitions.get(t, 0) for t in topics}

    async def log_offsets(self, partitions, spec):
        self.calls.append(f"log_offsets:{spec}")
        table = self.start if spec == "earliest" else self.end
        return {key: table[key] for key in partitions}

    async def describe_groups(self, groups):
        self.calls.append("describe_groups")
        return dict.fromkeys(groups, ("Stable", 1))

    async def committed_offsets(self, groups):
        self.calls.append("committed_offsets")
        return {g: self.committed.get(g, {}) for g in groups}


APP = AppQuery(key=("ns", "app"), group="g", topics=("orders",), reset="earliest", stale_after_seconds=300)


def test_metadata_is_read_once_per_refresh_and_log_ends_every_cycle():
    table, collector = OffsetTable(), LagCollector()
    first = asyncio.run(collector.collect(table, [APP], now=1000.0))
    # partition 0: 100 - 40; partition 1 never committed, earliest: 50 - 10 (not 50: retention moved the start)
    assert first[APP.key].snapshot.total_lag == 60 + 40
    assert first[APP.key].per_partition == {("orders", 0): 60, ("orders", 1): 40}
    assert table.calls == ["partition_counts", "log_offsets:latest", "log_offsets:earliest", "describe_groups",
                           "committed_offsets"]
    table.calls.clear()
    table.end[("orders", 0)] = 120
    second = asyncio.run(collector.collect(table, [APP], now=1005.0))
    assert second[APP.key].snapshot.total_lag == 80 + 40
    assert table.calls == ["log_offsets:latest", "describe_groups", "committed_offsets"]
    table.calls.clear()
    table.partitions["orders"] = 3
    table.start[("orders", 2)], table.end[("orders", 2)] = 0, 7
    third = asyncio.run(collector.collect(table, [APP], now=1000.0 + METADATA_REFRESH_SECONDS))
    assert third[APP.key].snapshot.partitions == 3 and third[APP.key].per_partition[("orders", 2)] == 7
    assert "partition_counts" in table.calls and "log_offsets:earliest" in table.calls


def test_a_topic_seen_for_the_first_time_is_described_at_once():
    table, collector = OffsetTable(), LagCollector()
    asyncio.run(collector.collect(table, [APP], now=1000.0))
    table.partitions["refunds"] = 1
    table.start[("refunds", 0)], table.end[("refunds", 0)] = 0, 5
    table.calls.clear()
    other = AppQuery(key=("ns", "refunds"), group="r", topics=("refunds",), reset="earliest", stale_after_seconds=300)
    reports = asyncio.run(collector.collect(table, [APP, other], now=1001.0))
    assert reports[other.key].snapshot.total_lag == 5
    assert table.calls[0] == "partition_counts"


def test_a_recreated_topic_whose_log_end_fell_below_the_cached_start_counts_from_zero():
    table, collector = OffsetTable(), LagCollector()
    asyncio.run(collector.collect(table, [APP], now=1000.0))
    table.start[("orders", 1)], table.end[("orders", 1)] = 0, 4  # deleted and created again: offsets start over
    table.calls.clear()
    reports = asyncio.run(collector.collect(table, [APP], now=1001.0))
    assert reports[APP.key].per_partition[("orders", 1)] == 4
    assert "log_offsets:earliest" in table.calls


def test_topics_the_broker_does_not_have_are_named():
    table, collector = OffsetTable(), LagCollector()
    app = AppQuery(key=("ns", "app"), group="g", topics=("orders", "no-such-topic"), reset="earliest",
                   stale_after_seconds=300)
    report = asyncio.run(collector.collect(table, [app], now=1000.0))[app.key]
    assert report.missing_topics == ("no-such-topic",)
    assert report.snapshot.partitions == 2  # the lag of the topics that exist still counts
    table.partitions["no-such-topic"] = 1  # created meanwhile: noticed at the next cycle, not the next refresh
    table.start[("no-such-topic", 0)], table.end[("no-such-topic", 0)] = 0, 3
    report = asyncio.run(collector.collect(table, [app], now=1001.0))[app.key]
    assert report.missing_topics == () and report.snapshot.partitions == 3


def test_the_report_says_when_the_groups_offsets_last_moved():
    table, collector = OffsetTable(), LagCollector()
    assert asyncio.run(collector.collect(table, [APP], now=1000.0))[APP.key].moved_at == 1000.0  # first seen
    assert asyncio.run(collector.collect(table, [APP], now=1015.0))[APP.key].moved_at == 1000.0  # nothing moved
    table.end[("orders", 1)] = 60  # produced
    assert asyncio.run(collector.collect(table, [APP], now=1030.0))[APP.key].moved_at == 1030.0
    table.committed["g"][("orders", 0)] = 45  # consumed
    assert asyncio.run(collector.collect(table, [APP], now=1045.0))[APP.key].moved_at == 1045.0
    assert asyncio.run(collector.collect(table, [APP], now=1060.0))[APP.key].moved_at == 1045.0


def test_a_topic_deleted_since_it_was_described_is_described_again_not_a_failed_cycle():
    class Deleting(OffsetTable):
        async def log_offsets(self, partitions, spec):
            if any(topic not in self.partitions for topic, _ in partitions):
                self.calls.append(f"log_offsets:{spec}:TopicMissing")
                raise TopicMissing("unknown topic")
            return await super().log_offsets(partitions, spec)

    table, collector = Deleting(), LagCollector()
    table.partitions["refunds"] = 1
    table.start[("refunds", 0)], table.end[("refunds", 0)] = 0, 5
    other = AppQuery(key=("ns", "refunds"), group="r", topics=("refunds",), reset="earliest", stale_after_seconds=300)
    asyncio.run(collector.collect(table, [APP, other], now=1000.0))
    del table.partitions["refunds"]  # deleted; the collector still knows it as 1 partition
    table.calls.clear()
    reports = asyncio.run(collector.collect(table, [APP, other], now=1001.0))
    assert table.calls[:3] == ["log_offsets:latest:TopicMissing", "partition_counts", "log_offsets:latest"]
    assert reports[other.key].missing_topics == ("refunds",)
    assert reports[APP.key].snapshot.total_lag == 100
