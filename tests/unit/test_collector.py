"""The collector's bookkeeping: which admin reads a cycle makes, and the lag it computes from them.
The reader here is a table of offsets (the adapter itself is tested against a real broker)."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.consumers.collector import METADATA_REFRESH_SECONDS, AppQuery, LagCollector
from kafkaops.types.errors import KafkaRejected, TopicMissing
from kafkaops.types.groups import NOT_FOUND, GroupStatus, SharePartitionOffsets

pytestmark = pytest.mark.unit


class OffsetTable:
    def __init__(self) -> None:
        self.partitions = {"orders": 2}
        self.start = {("orders", 0): 0, ("orders", 1): 10}
        self.end = {("orders", 0): 100, ("orders", 1): 50}
        self.committed = {"g": {("orders", 0): 40}}
        self.shared: dict[str, dict[tuple[str, int], SharePartitionOffsets]] = {}
        self.share_refusal = ""
        self.statuses = {"g": GroupStatus("classic", "Stable", 1)}
        self.calls: list[str] = []

    async def partition_counts(self, topics):
        self.calls.append("partition_counts")
        return {t: self.partitions.get(t, 0) for t in topics}

    async def log_offsets(self, partitions, spec):
        self.calls.append(f"log_offsets:{spec}")
        table = self.start if spec == "earliest" else self.end
        return {key: table[key] for key in partitions}

    async def describe_groups(self, groups):
        self.calls.append(f"describe_groups:{','.join(groups)}")
        return {g: self.statuses.get(g, GroupStatus("share", "Stable", 5) if g in self.shared else NOT_FOUND)
                for g in groups}

    async def committed_offsets(self, groups):
        self.calls.append("committed_offsets")
        return {g: self.committed.get(g, {}) for g in groups}

    async def share_group_offsets(self, groups):
        if self.share_refusal:
            raise KafkaRejected("IncompatibleBrokerVersion", self.share_refusal)
        self.calls.append(f"share_group_offsets:{sorted((g, sorted(t.items())) for g, t in groups.items())}")
        return {g: self.shared.get(g, {}) for g in groups}


APP = AppQuery(key=("ns", "app"), group="g", topics=("orders",), reset="earliest", stale_after_seconds=300)


def test_metadata_is_read_once_per_refresh_and_log_ends_every_cycle():
    table, collector = OffsetTable(), LagCollector()
    first = asyncio.run(collector.collect(table, [APP], now=1000.0))
    # partition 0: 100 - 40; partition 1 never committed, earliest: 50 - 10 (not 50: retention moved the start)
    assert first[APP.key].snapshot.total_lag == 60 + 40
    assert first[APP.key].per_partition == {("orders", 0): 60, ("orders", 1): 40}
    assert table.calls == ["partition_counts", "log_offsets:latest", "log_offsets:earliest", "describe_groups:g",
                           "committed_offsets"]
    table.calls.clear()
    table.end[("orders", 0)] = 120
    second = asyncio.run(collector.collect(table, [APP], now=1005.0))
    assert second[APP.key].snapshot.total_lag == 80 + 40
    assert table.calls == ["log_offsets:latest", "describe_groups:g", "committed_offsets"]
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


def share_app(name: str, group: str, topics: tuple[str, ...] = ("orders",), reset="earliest") -> AppQuery:
    return AppQuery(key=("ns", name), group=group, topics=topics, reset=reset, stale_after_seconds=300,
                    group_type="share")


@pytest.mark.parametrize(("shared", "reset", "per_partition"), [
    # the broker's lag (KIP-1226) per partition, whatever the log end says
    ({("orders", 0): SharePartitionOffsets(30, 55), ("orders", 1): SharePartitionOffsets(50, 0)}, "earliest",
     {("orders", 0): 55, ("orders", 1): 0}),
    # a partition the share group never read counts by the offset-reset rule: earliest 50 - 10, latest 0
    ({("orders", 0): SharePartitionOffsets(30, 55)}, "earliest", {("orders", 0): 55, ("orders", 1): 40}),
    ({("orders", 0): SharePartitionOffsets(30, 55)}, "latest", {("orders", 0): 55, ("orders", 1): 0}),
    ({}, "earliest", {("orders", 0): 100, ("orders", 1): 40}),  # a group the broker does not know yet
])
def test_share_group_backlog(shared, reset, per_partition):
    table, collector = OffsetTable(), LagCollector()
    if shared:
        table.shared["s"] = shared
    app = share_app("queue", "s", reset=reset)
    report = asyncio.run(collector.collect(table, [app], now=1000.0))[app.key]
    assert report.per_partition == per_partition
    assert report.snapshot.total_lag == sum(per_partition.values())
    assert (report.protocol, report.state, report.members) == (
        ("share", "Stable", 5) if shared else (None, "NotFound", 0))
    assert not report.snapshot.stale


def test_share_groups_are_read_in_one_request_per_kind_beside_the_classic_ones():
    table, collector = OffsetTable(), LagCollector()
    table.partitions["refunds"] = 1
    table.start[("refunds", 0)], table.end[("refunds", 0)] = 0, 5
    apps = [APP, share_app("a", "s1"), share_app("b", "s2", ("orders", "refunds")), share_app("c", "s2", ("orders",))]
    asyncio.run(collector.collect(table, apps, now=1000.0))
    assert table.calls[-3:] == [  # one describe for the groups of every protocol
        "describe_groups:g,s1,s2", "committed_offsets",
        "share_group_offsets:[('s1', [('orders', 2)]), ('s2', [('orders', 2), ('refunds', 1)])]"]
    table.calls.clear()
    asyncio.run(collector.collect(table, apps[1:], now=1001.0))  # share groups only: no committed offsets
    assert "describe_groups:s1,s2" in table.calls and "committed_offsets" not in table.calls


def test_share_group_time_lag_is_the_age_of_the_oldest_unacknowledged_record():
    table, collector = OffsetTable(), LagCollector()
    app = share_app("queue", "s")
    table.shared["s"] = {("orders", 0): SharePartitionOffsets(100, 0), ("orders", 1): SharePartitionOffsets(50, 0)}
    asyncio.run(collector.collect(table, [app], now=1000.0))  # log ends 100 and 50 seen at 1000
    table.end[("orders", 0)] = 160
    table.shared["s"] = {("orders", 0): SharePartitionOffsets(100, 60), ("orders", 1): SharePartitionOffsets(50, 0)}
    report = asyncio.run(collector.collect(table, [app], now=1030.0))[app.key]
    # offset 100 was the log end at 1000: the oldest record not yet acknowledged waited 30 s
    assert report.snapshot.total_lag == 60 and report.snapshot.lag_seconds == 30.0


def test_a_failed_share_read_leaves_the_share_apps_without_a_report_and_the_classic_ones_with_theirs():
    table, collector = OffsetTable(), LagCollector()
    table.share_refusal = "DescribeShareGroupOffsets v1 not supported"  # a broker older than Kafka 4.2
    share = share_app("queue", "s")
    reports = asyncio.run(collector.collect(table, [APP, share], now=1000.0))
    assert set(reports) == {APP.key} and reports[APP.key].snapshot.total_lag == 100
    assert collector.share_problem == "share groups: DescribeShareGroupOffsets v1 not supported"
    table.share_refusal = ""  # the broker upgraded: share apps report again
    reports = asyncio.run(collector.collect(table, [APP, share], now=1001.0))
    assert set(reports) == {APP.key, share.key} and collector.share_problem == ""


def test_a_share_group_whose_topics_do_not_exist_is_described_but_not_asked_for_offsets():
    table, collector = OffsetTable(), LagCollector()
    app = share_app("queue", "s", topics=("no-such-topic",))
    report = asyncio.run(collector.collect(table, [app], now=1000.0))[app.key]
    assert report.missing_topics == ("no-such-topic",) and report.snapshot.total_lag == 0
    assert "describe_groups:s" in table.calls
    assert not any(call.startswith("share_group_offsets") for call in table.calls)


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


def test_a_share_report_says_when_the_share_groups_offsets_last_moved():
    table, collector = OffsetTable(), LagCollector()
    app = share_app("queue", "s")
    table.shared["s"] = {("orders", 0): SharePartitionOffsets(30, 70)}
    assert asyncio.run(collector.collect(table, [app], now=1000.0))[app.key].moved_at == 1000.0  # first seen
    assert asyncio.run(collector.collect(table, [app], now=1015.0))[app.key].moved_at == 1000.0  # nothing moved
    table.shared["s"] = {("orders", 0): SharePartitionOffsets(40, 60)}  # acknowledged
    assert asyncio.run(collector.collect(table, [app], now=1030.0))[app.key].moved_at == 1030.0
