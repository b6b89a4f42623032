"""Lag maths (messages and seconds), table-driven."""

from __future__ import annotations

import pytest

from kafkaops.consumers.lag import OffsetHistory, PartitionOffsets, partition_lag, partition_lag_seconds, total_lag

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("log_start", "log_end", "committed", "reset", "lag"), [
    (0, 100, 40, "latest", 60),
    (0, 100, 100, "latest", 0),
    (0, 100, 150, "earliest", 0),  # committed past the end (topic recreated): never negative
    (50, 100, None, "earliest", 50),  # no commit: what is still retained, not log_end
    (50, 100, None, "latest", 0),
    (50, 100, 10, "latest", 50),  # committed before the log start: retention deleted the rest
    (0, 0, None, "earliest", 0),
    (0, 100, -1001, "earliest", 100),  # librdkafka's OFFSET_INVALID means no commit
])
def test_partition_lag(log_start, log_end, committed, reset, lag):
    assert partition_lag(PartitionOffsets("t", 0, log_start, log_end, committed), reset) == lag


def test_total_lag_sums_partitions():
    parts = [PartitionOffsets("t", i, 0, 100, 90) for i in range(3)] + [PartitionOffsets("u", 0, 0, 5, None)]
    assert total_lag(parts, "earliest") == 35
    assert total_lag(parts, "latest") == 30


def test_time_lag_interpolates_when_the_committed_offset_was_produced():
    history = OffsetHistory()
    for offset, at in [(0, 100.0), (100, 110.0), (200, 120.0), (200, 125.0), (300, 130.0)]:
        history.record(offset, at)
    assert [o for o, _ in history.samples] == [0, 100, 200, 300]
    assert history.produced_at(150) == pytest.approx(115.0)
    assert history.produced_at(200) == pytest.approx(120.0)  # first seen, not last seen
    offsets = PartitionOffsets("t", 0, 0, 300, 150)
    assert partition_lag_seconds(offsets, history, now=140.0, reset="latest") == pytest.approx(25.0)
    caught_up = PartitionOffsets("t", 0, 0, 300, 300)
    assert partition_lag_seconds(caught_up, history, now=140.0, reset="latest") == 0.0


def test_time_lag_older_than_the_history_is_a_growing_lower_bound():
    history = OffsetHistory(max_samples=2)
    for offset, at in [(0, 0.0), (100, 10.0), (200, 20.0)]:
        history.record(offset, at)
    offsets = PartitionOffsets("t", 0, 0, 200, 50)
    assert partition_lag_seconds(offsets, history, now=30.0, reset="latest") == pytest.approx(20.0)
    assert partition_lag_seconds(offsets, history, now=40.0, reset="latest") == pytest.approx(30.0)


def test_a_recreated_topic_resets_the_history():
    history = OffsetHistory()
    history.record(500, 1.0)
    history.record(10, 2.0)
    assert list(history.samples) == [(10, 2.0)]


def test_committed_offsets_reader_speaks_the_same_connection_settings():
    from kafkaops.kafka.fallback_admin import python_client_config

    config = python_client_config({"bootstrap.servers": "a:9092,b:9092", "security.protocol": "sasl_ssl",
                                   "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p",
                                   "ssl.ca.location": "/ca.pem", "logger": object()}, request_timeout=5)
    assert config["bootstrap_servers"] == ["a:9092", "b:9092"]
    assert (config["security_protocol"], config["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (config["sasl_plain_username"], config["sasl_plain_password"], config["ssl_cafile"]) == ("u", "p", "/ca.pem")
    assert config["request_timeout_ms"] == 5000 and "logger" not in config
