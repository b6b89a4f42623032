"""Per-object metrics come from the operator's state at scrape time: what it holds is exported,
what it forgot (a deleted resource) is gone."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kafkaops.metrics import GroupSample, StateCollector, TopicSample

pytestmark = pytest.mark.unit


def scrape(collector: StateCollector) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(collector)
    series: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def test_topic_series_follow_the_kafkatopics_held():
    topics = [TopicSample("ns", "user-events", "user_events", 3, 1, True),
              TopicSample("ns", "broken", "broken", None, None, False)]
    collector = StateCollector(topics=lambda: topics)
    series = scrape(collector)
    labels = (("cluster", "default"), ("kafkatopic", "user-events"), ("namespace", "ns"), ("topic", "user_events"))
    assert series["kafkaops_topic_partitions"] == {labels: 3}  # unknown partitions: no series, not 0
    assert series["kafkaops_topic_replication_factor"] == {labels: 1}
    assert series["kafkaops_topic_ready"][labels] == 1
    broken = (("cluster", "default"), ("kafkatopic", "broken"), ("namespace", "ns"), ("topic", "broken"))
    assert series["kafkaops_topic_ready"][broken] == 0
    topics.pop()
    topics.pop()
    assert "kafkaops_topic_ready" not in scrape(collector)


def test_group_series_sum_per_topic_and_appear_once_per_group():
    lag = {("orders", 0): 5, ("orders", 1): 7, ("refunds", 0): 1}
    samples = [GroupSample("a", "processor", "orders-group", 3, 4, lag, lag_seconds=12.5, members=3),
               GroupSample("b", "processor-copy", "orders-group", 1, 1, lag, lag_seconds=12.5, members=3)]
    series = scrape(StateCollector(groups=lambda: samples))
    assert series["kafka_consumergroup_lag"][
        (("cluster", "default"), ("consumergroup", "orders-group"), ("partition", "1"), ("topic", "orders"))] == 7
    assert len(series["kafka_consumergroup_lag"]) == 3
    assert series["kafka_consumergroup_lag_sum"] == {
        (("cluster", "default"), ("consumergroup", "orders-group"), ("topic", "orders")): 12,
        (("cluster", "default"), ("consumergroup", "orders-group"), ("topic", "refunds")): 1}
    group = (("cluster", "default"), ("consumergroup", "orders-group"))
    assert series["kafkaops_consumergroup_lag_seconds"] == {group: 12.5}
    assert series["kafkaops_consumergroup_members"] == {group: 3}
    assert series["kafkaops_consumerapp_replicas"] == {
        (("consumerapp", "processor"), ("namespace", "a")): 3,
        (("consumerapp", "processor-copy"), ("namespace", "b")): 1}
    assert series["kafkaops_consumerapp_desired_replicas"][(("consumerapp", "processor"), ("namespace", "a"))] == 4


@pytest.mark.parametrize(("granularity", "consumer", "share"), [
    ("partition", {"kafka_consumergroup_lag": 2, "kafka_consumergroup_lag_sum": 1},
     {"kafkaops_sharegroup_lag": 2, "kafkaops_sharegroup_lag_sum": 1}),
    ("topic", {"kafka_consumergroup_lag_sum": 1}, {"kafkaops_sharegroup_lag_sum": 1}),
])
def test_share_groups_have_a_family_of_their_own_at_either_granularity(granularity, consumer, share):
    """A share group's backlog never lands in kafka_consumergroup_lag (nor a classic group's in the share
    family); at ``topic`` granularity each family keeps only its sum."""
    lag = {("jobs", 0): 9000, ("jobs", 1): 11000}
    samples = [GroupSample("a", "jobs", "jobs-share", 8, 8, lag, lag_seconds=4.0, members=8, group_type="share"),
               GroupSample("a", "classic", "jobs-classic", 2, 2, {("jobs", 0): 10, ("jobs", 1): 20}, lag_seconds=1.0,
                           members=2)]
    series = scrape(StateCollector(groups=lambda: samples, granularity=granularity))
    counts = {name: len(values) for name, values in series.items() if "group_lag" in name and "seconds" not in name}
    assert counts == {**consumer, **share}
    assert all(("consumergroup", "jobs-classic") in labels for name in consumer for labels in series[name])
    shared = (("cluster", "default"), ("sharegroup", "jobs-share"))
    assert series["kafkaops_sharegroup_lag_sum"] == {(*shared, ("topic", "jobs")): 20000}
    assert series["kafkaops_sharegroup_lag_seconds"] == {shared: 4.0}
    assert series["kafkaops_sharegroup_members"] == {shared: 8}
    assert series["kafkaops_consumergroup_members"] == {(("cluster", "default"), ("consumergroup", "jobs-classic")): 2}
    if granularity == "partition":
        assert series["kafkaops_sharegroup_lag"][
            (("cluster", "default"), ("partition", "1"), ("sharegroup", "jobs-share"), ("topic", "jobs"))] == 11000
    assert series["kafkaops_consumerapp_replicas"][(("consumerapp", "jobs"), ("namespace", "a"))] == 8


def test_unknown_lag_exports_replicas_but_no_lag():
    samples = [GroupSample("a", "logs", "logs", 2, 2, {})]
    series = scrape(StateCollector(groups=lambda: samples))
    assert "kafka_consumergroup_lag" not in series and "kafkaops_consumergroup_lag_seconds" not in series
    assert series["kafkaops_consumerapp_replicas"] == {(("consumerapp", "logs"), ("namespace", "a")): 2}


def test_a_source_changing_while_read_is_read_again():
    calls = []

    def racing():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("dictionary changed size during iteration")
        return [TopicSample("ns", "t", "t", 1, 1, True)]

    assert scrape(StateCollector(topics=racing))["kafkaops_topic_partitions"]
    assert len(calls) == 2


def test_topic_granularity_exports_one_lag_series_per_group_and_topic():
    lag = {("orders", 0): 5, ("orders", 1): 7, ("refunds", 0): 1}
    samples = [GroupSample("a", "processor", "orders-group", 3, 4, lag, lag_seconds=12.5, members=3)]
    series = scrape(StateCollector(groups=lambda: samples, granularity="topic"))
    assert "kafka_consumergroup_lag" not in series
    assert series["kafka_consumergroup_lag_sum"] == {
        (("cluster", "default"), ("consumergroup", "orders-group"), ("topic", "orders")): 12,
        (("cluster", "default"), ("consumergroup", "orders-group"), ("topic", "refunds")): 1}
    assert series["kafkaops_consumergroup_lag_seconds"] and series["kafkaops_consumerapp_replicas"]


def parsed(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    series: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def test_the_served_exposition_is_what_the_library_renders(monkeypatch):
    """/metrics renders the per-object series itself (the library's per-sample escaping is too slow
    at 5,000 apps): the same series and values, label values with quotes, backslashes and newlines
    escaped, and ``name[]`` still selects."""
    from kafkaops import metrics

    samples = [GroupSample("a", "odd", 'group "q" \\ back\nline', 2, 3, {("orders", 0): 5}, lag_seconds=1.5,
                           members=1)]
    topics = [TopicSample("ns", "t", "t", 3, 1, True)]
    monkeypatch.setattr(metrics.STATE, "groups", lambda: samples)
    monkeypatch.setattr(metrics.STATE, "topics", lambda: topics)
    served = parsed(metrics.exposition().decode())
    expected = scrape(StateCollector(topics=lambda: topics, groups=lambda: samples))
    assert {name: served[name] for name in expected} == expected
    assert "kafkaops_lag_collection_duration_seconds_count" in served  # the fixed metrics too
    server = metrics.serve(0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/metrics"
                                    "?name[]=kafkaops_consumerapp_replicas&name[]=kafkaops_leader",
                                    timeout=10) as response:
            selected = parsed(response.read().decode())
    finally:
        server.shutdown()
        server.server_close()
    assert set(selected) == {"kafkaops_consumerapp_replicas", "kafkaops_leader"}
