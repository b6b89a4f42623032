"""Every Prometheus metric of the operator, defined once.

Label sets are bounded: ``kind``, ``result`` and ``operation`` take a handful of fixed values;
per-object series (topics, consumer groups, ConsumerApps) are not kept in mutable gauges but
produced at scrape time from the operator's current state, so the series of a deleted resource
disappear with it and nothing has to remember to remove them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Literal, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from kafkaops.httpserver import Answer, serve_in_thread
from kafkaops.types.groups import GroupType

T = TypeVar("T")
log = logging.getLogger(__name__)
_QUIET = threading.local()  # set while serve() lets the library render everything but the StateCollector
# ``partition``: kafka_consumergroup_lag (kafkaops_sharegroup_lag) per partition and its _sum per topic
# (kafka_exporter's series); ``topic``: the _sum only, one series per group and topic (kminion's setting): 12 times
# fewer series for groups on 12 partitions, and what the dashboard and alerts query either way.
LagGranularity = Literal["partition", "topic"]

RECONCILIATIONS = Counter(
    "kafkaops_reconciliations_total", "Reconciliations by resource kind and result (ok, retry, error).",
    ["kind", "result"])
RECONCILE_SECONDS = Histogram(
    "kafkaops_reconcile_duration_seconds", "Time spent in one reconciliation.", ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ADMIN_REQUEST_SECONDS = Histogram(
    "kafkaops_admin_request_duration_seconds", "Kafka admin requests (one batch each), by admin operation.",
    ["operation"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ADMIN_BATCH_SIZE = Histogram(
    "kafkaops_admin_batch_size", "Items (topics, partitions, groups) carried by one admin request.", ["operation"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000))
DRIFT_CORRECTIONS = Counter(
    "kafkaops_drift_corrections_total", "Topics corrected after a change made outside the operator.")
LAG_COLLECTION_SECONDS = Histogram(
    "kafkaops_lag_collection_duration_seconds", "One operator-wide lag collection for every due ConsumerApp.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
LAG_COLLECTION_DELAY = Gauge(
    "kafkaops_lag_collection_delay_seconds", "How late the last lag collection began: seconds past the time "
    "its most overdue ConsumerApp was due (0 on time; grows when collections outlast the poll interval).")
LEADER = Gauge(
    "kafkaops_leader", "1 while this process leads (holds the leader lease; always 1 without leader election).")


WORKQUEUE_DEPTH = Gauge("kafkaops_workqueue_depth", "Objects waiting in the work queue to be reconciled.",
                        ["kind"])
WORKQUEUE_OLDEST = Gauge("kafkaops_workqueue_oldest_seconds",
                         "How long the longest-waiting object of the work queue has waited.", ["kind"])
STARTUP_RECHECK = Gauge("kafkaops_startup_recheck_seconds", "Seconds from the operator's start until every "
                        "object present at start had been reconciled once (absent until then).", ["kind"])


@contextlib.contextmanager
def admin_request(operation: str, items: int) -> Iterator[None]:
    """Count one admin request: its size and how long it took (failed ones too)."""
    ADMIN_BATCH_SIZE.labels(operation).observe(items)
    started = time.perf_counter()
    try:
        yield
    finally:
        ADMIN_REQUEST_SECONDS.labels(operation).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class TopicSample:
    namespace: str
    kafkatopic: str
    topic: str
    partitions: int | None
    replication_factor: int | None
    ready: bool
    cluster: str = "default"  # the KafkaCluster (``default``: the operator's configured cluster)


@dataclass(frozen=True)
class GroupSample:
    namespace: str
    consumerapp: str
    consumergroup: str
    replicas: int
    desired_replicas: int
    lag: Mapping[tuple[str, int], int]  # per (topic, partition); empty while Kafka cannot be read
    lag_seconds: float | None = None
    members: int | None = None
    cluster: str = "default"
    group_type: GroupType = "consumer"  # share groups are exported under LAG_SERIES["share"]


@dataclass(eq=False)  # registries keep collectors in a dict: identity, not value
class StateCollector(Collector):
    """Per-object gauges, read at scrape time from sources the running operator registers."""

    topics: Callable[[], Iterable[TopicSample]] = field(default=lambda: ())
    groups: Callable[[], Iterable[GroupSample]] = field(default=lambda: ())
    granularity: LagGranularity = "partition"

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if getattr(_QUIET, "on", False):
            return
        yield from topic_families(_snapshot(self.topics))
        yield from group_families(_snapshot(self.groups), self.granularity)

    def describe(self) -> list[GaugeMetricFamily]:
        """Every family this collector may yield, empty: a scrape that asks for other metrics only
        (``/metrics?name[]=...``) then skips building tens of thousands of per-object series."""
        return [*topic_families([]), *group_families([], "partition")]


def _snapshot(source: Callable[[], Iterable[T]]) -> list[T]:
    """Scrapes run in the HTTP server's thread while the event loop updates the operator's
    indexes; a read that races a change is simply read again."""
    for _ in range(5):
        try:
            return list(source())
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return []


def topic_families(samples: list[TopicSample]) -> list[GaugeMetricFamily]:
    labels = ["cluster", "namespace", "kafkatopic", "topic"]
    partitions = GaugeMetricFamily("kafkaops_topic_partitions", "Partitions of the topic, as last observed.",
                                   labels=labels)
    replicas = GaugeMetricFamily("kafkaops_topic_replication_factor", "Replication factor, as last observed.",
                                 labels=labels)
    ready = GaugeMetricFamily("kafkaops_topic_ready", "1 when the KafkaTopic's Ready condition is True, else 0.",
                              labels=labels)
    for sample in samples:
        values = [sample.cluster, sample.namespace, sample.kafkatopic, sample.topic]
        if sample.partitions is not None:
            partitions.add_metric(values, sample.partitions)
        if sample.replication_factor is not None:
            replicas.add_metric(values, sample.replication_factor)
        ready.add_metric(values, 1.0 if sample.ready else 0.0)
    return [partitions, replicas, ready]


class LagSeries(NamedTuple):
    """The names a group type's lag is exported under, and the label naming the group."""

    lag: str  # per partition (only at ``partition`` granularity)
    lag_sum: str  # per topic
    seconds: str
    members: str
    group_label: str


# Classic groups keep kafka_exporter's names, so dashboards and alerts built for it work. A share group's
# backlog is another quantity (records not yet acknowledged, whatever their offsets) of another kind of group
# that kafka_exporter and kminion do not see: it gets a family of its own, and a query on
# kafka_consumergroup_lag never mixes the two (KIP-932 keeps one id from being both kinds at once).
LAG_SERIES: Mapping[GroupType, LagSeries] = {
    "consumer": LagSeries("kafka_consumergroup_lag", "kafka_consumergroup_lag_sum",
                          "kafkaops_consumergroup_lag_seconds", "kafkaops_consumergroup_members", "consumergroup"),
    "share": LagSeries("kafkaops_sharegroup_lag", "kafkaops_sharegroup_lag_sum", "kafkaops_sharegroup_lag_seconds",
                       "kafkaops_sharegroup_members", "sharegroup"),
}
_LAG_HELP: Mapping[GroupType, tuple[str, str, str, str]] = {
    "consumer": ("Messages behind the log end, per partition (kafka_exporter's name).",
                 "Messages behind, summed over a topic's partitions (kafka_exporter's name).",
                 "Estimated time lag of the group: the age of the oldest unconsumed message, in seconds.",
                 "Members of the consumer group."),
    "share": ("Backlog of the share group per partition: records not yet acknowledged (the broker's lag, KIP-1226).",
              "Backlog of the share group, summed over a topic's partitions.",
              "Estimated time lag of the share group: the age of the oldest record not yet acknowledged, in seconds.",
              "Members of the share group."),
}


def lag_families(group_type: GroupType) -> tuple[GaugeMetricFamily, ...]:
    """Empty lag, lag-sum, time-lag and members families for groups of ``group_type``."""
    names, (lag, lag_sum, seconds, members) = LAG_SERIES[group_type], _LAG_HELP[group_type]
    group = ["cluster", names.group_label]
    return (GaugeMetricFamily(names.lag, lag, labels=[*group, "topic", "partition"]),
            GaugeMetricFamily(names.lag_sum, lag_sum, labels=[*group, "topic"]),
            GaugeMetricFamily(names.seconds, seconds, labels=group),
            GaugeMetricFamily(names.members, members, labels=group))


def group_families(samples: list[GroupSample], granularity: LagGranularity = "partition"
                   ) -> list[GaugeMetricFamily]:
    by_type = {group_type: lag_families(group_type) for group_type in LAG_SERIES}
    replicas = GaugeMetricFamily("kafkaops_consumerapp_replicas", "Replicas of the ConsumerApp's Deployment.",
                                 labels=["namespace", "consumerapp"])
    desired = GaugeMetricFamily("kafkaops_consumerapp_desired_replicas", "Replicas the autoscaler decided on.",
                                labels=["namespace", "consumerapp"])
    seen: set[tuple[str, str]] = set()
    for sample in samples:
        replicas.add_metric([sample.namespace, sample.consumerapp], sample.replicas)
        desired.add_metric([sample.namespace, sample.consumerapp], sample.desired_replicas)
        group = (sample.cluster, sample.consumergroup)
        if group in seen:  # two ConsumerApps naming one group: the group's series once
            continue
        seen.add(group)
        lag, lag_sum, seconds, members = by_type[sample.group_type]
        sums: dict[str, int] = {}
        if granularity == "partition":
            for (topic, partition), value in sorted(sample.lag.items()):
                lag.add_metric([*group, topic, str(partition)], value)
        for (topic, _), value in sample.lag.items():
            sums[topic] = sums.get(topic, 0) + value
        for topic, value in sums.items():
            lag_sum.add_metric([*group, topic], value)
        if sample.lag_seconds is not None:
            seconds.add_metric([*group], sample.lag_seconds)
        if sample.members is not None:
            members.add_metric([*group], sample.members)
    kept = [family for families in by_type.values()
            for family in (families if granularity == "partition" else families[1:])]
    return [*kept, replicas, desired]


STATE = StateCollector()
REGISTRY.register(STATE)


def exposition(names: set[str] | None = None) -> bytes:
    """/metrics in the text format, ``names`` (``name[]`` of the query) or all. The library renders
    the fixed metrics; the per-object families are rendered here: prometheus_client validates and
    escapes every label name of every sample, 2 s for the 85,000 series of 5,000 apps."""
    _QUIET.on = True
    try:
        fixed = generate_latest(REGISTRY if names is None else REGISTRY.restricted_registry(names))
    finally:
        _QUIET.on = False
    families: Iterable[GaugeMetricFamily] = ()
    if names is None:
        families = STATE.collect()
    elif not names.isdisjoint(family.name for family in STATE.describe()):  # else nothing of it is built
        families = (family for family in STATE.collect() if family.name in names)
    return fixed + render_gauges(families).encode()


def render_gauges(families: Iterable[GaugeMetricFamily]) -> str:
    """Gauge families in the text format, label values escaped as the format requires."""
    out = []
    for family in families:
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {family.name} {doc}\n# TYPE {family.name} gauge\n")
        for sample in family.samples:
            labels = ",".join(f'{key}="{_escaped(value)}"' for key, value in sample.labels.items())
            out.append(f"{sample.name}{{{labels}}} {floatToGoString(sample.value)}\n")
    return "".join(out)


def _escaped(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


def serve(port: int, address: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve ``exposition()`` on every path from a daemon thread (as prometheus_client's own server
    does); returns the server."""

    def answer(target: str) -> Answer:
        query = parse_qs(urlsplit(target).query)
        return Answer(200, CONTENT_TYPE_LATEST, exposition(set(query["name[]"]) if "name[]" in query else None))

    return serve_in_thread(address, port, answer, name="metrics-server", logger=log)
