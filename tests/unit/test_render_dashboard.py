"""docs/render_dashboard.py computes what the dashboard's PromQL computes, from scraped samples."""

from __future__ import annotations

import importlib.util
import json
import math
import struct
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def _load_renderer():
    spec = importlib.util.spec_from_file_location("render_dashboard", REPO / "docs" / "render_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rd = _load_renderer()


def exposition(*, ok: float, errors: float, buckets: dict[str, float], lag_b: float | None, ready_orders: int) -> str:
    """A scrape as prometheus_client writes it."""
    hist = "\n".join(f'kafkaops_reconcile_duration_seconds_bucket{{kind="KafkaTopic",le="{le}"}} {count}'
                     for le, count in buckets.items())
    topic_b = f'kafka_consumergroup_lag_sum{{consumergroup="g1",topic="b"}} {lag_b}\n' if lag_b is not None else ""
    return f"""# HELP kafka_consumergroup_lag_sum Lag per group and topic.
# TYPE kafka_consumergroup_lag_sum gauge
kafka_consumergroup_lag_sum{{consumergroup="g1",topic="a"}} 100.0
{topic_b}kafka_consumergroup_lag_sum{{consumergroup="g2",topic="a"}} 7.0
# HELP kafkaops_consumergroup_lag_seconds Time lag.
# TYPE kafkaops_consumergroup_lag_seconds gauge
kafkaops_consumergroup_lag_seconds{{consumergroup="g1"}} 12.5
# HELP kafkaops_reconciliations_total Reconciliations.
# TYPE kafkaops_reconciliations_total counter
kafkaops_reconciliations_total{{kind="KafkaTopic",result="ok"}} {ok}
kafkaops_reconciliations_total{{kind="KafkaTopic",result="error"}} {errors}
kafkaops_reconciliations_created{{kind="KafkaTopic",result="ok"}} 1.7e9
# HELP kafkaops_reconcile_duration_seconds Reconcile time.
# TYPE kafkaops_reconcile_duration_seconds histogram
{hist}
kafkaops_reconcile_duration_seconds_count{{kind="KafkaTopic"}} {buckets["+Inf"]}
kafkaops_reconcile_duration_seconds_sum{{kind="KafkaTopic"}} {buckets["+Inf"] * 0.3}
# HELP kafkaops_topic_ready Ready condition.
# TYPE kafkaops_topic_ready gauge
kafkaops_topic_ready{{namespace="shop",kafkatopic="orders",topic="shop.orders"}} {ready_orders}
kafkaops_topic_ready{{namespace="shop",kafkatopic="users",topic="users"}} 1.0
# HELP kafkaops_topic_partitions Partitions.
# TYPE kafkaops_topic_partitions gauge
kafkaops_topic_partitions{{namespace="shop",kafkatopic="orders",topic="shop.orders"}} 6.0
"""


def buckets(b01: float, b05: float, b1: float, inf: float) -> dict[str, float]:
    return {"0.1": b01, "0.5": b05, "1.0": b1, "+Inf": inf}


SCRAPES = [
    rd.parse_scrape(exposition(ok=10, errors=1, buckets=buckets(0, 0, 0, 0), lag_b=None, ready_orders=1), 1000.0),
    rd.parse_scrape(exposition(ok=30, errors=1, buckets=buckets(2, 8, 10, 10), lag_b=50, ready_orders=1), 1010.0),
    # the operator restarted: counters start again
    rd.parse_scrape(exposition(ok=5, errors=0, buckets=buckets(0, 1, 2, 2), lag_b=60, ready_orders=0), 1020.0),
    rd.parse_scrape(exposition(ok=25, errors=0, buckets=buckets(0, 1, 2, 2), lag_b=70, ready_orders=0), 1030.0),
]


def test_parse_keys_samples_by_their_promql_name():
    scrape = SCRAPES[1]
    assert scrape.time == 1010.0
    assert scrape.samples["kafkaops_reconciliations_total"][(("kind", "KafkaTopic"), ("result", "ok"))] == 30
    assert scrape.samples["kafkaops_reconcile_duration_seconds_bucket"][(("kind", "KafkaTopic"), ("le", "+Inf"))] == 10
    assert "kafkaops_reconcile_duration_seconds_count" in scrape.samples


def test_gauge_groups_and_aggregates_with_gaps_for_absent_groups():
    by_topic = rd.gauge(SCRAPES, "kafka_consumergroup_lag_sum", ["consumergroup", "topic"])
    assert by_topic[("g1", "b")] == [(1010.0, 50), (1020.0, 60), (1030.0, 70)]  # not there at the first scrape
    by_group = rd.gauge(SCRAPES, "kafka_consumergroup_lag_sum", ["consumergroup"])
    assert [v for _, v in by_group[("g1",)]] == [100, 150, 160, 170]
    assert rd.gauge(SCRAPES, "kafka_consumergroup_lag_sum", ["consumergroup"], max)[("g1",)][-1] == (1030.0, 100)
    assert rd.gauge(SCRAPES, "kafka_consumergroup_lag_sum", [])[()][0] == (1000.0, 107)


def test_rate_over_a_window_counts_a_drop_as_a_counter_reset():
    rates = rd.rate(SCRAPES, "kafkaops_reconciliations_total", ["kind", "result"], window=20)
    ok = dict(rates[("KafkaTopic", "ok")])
    assert 1000.0 not in ok  # one sample is no rate
    assert ok[1010.0] == pytest.approx(2.0)  # 10 -> 30 over 10 s
    assert ok[1020.0] == pytest.approx((20 + 5) / 20)  # 10 -> 30, reset, 5
    assert ok[1030.0] == pytest.approx((5 + 20) / 20)  # 30 -> 5 (reset) -> 25
    assert dict(rd.rate(SCRAPES, "kafkaops_reconciliations_total", ["kind"], window=10)[("KafkaTopic",)]) == {
        1010.0: pytest.approx(2.0), 1020.0: pytest.approx(0.5), 1030.0: pytest.approx(2.0)}


@pytest.mark.parametrize(("q", "bucket_counts", "expected"), [
    (0.5, [(0.1, 0.2), (0.5, 0.8), (1.0, 1.0), (math.inf, 1.0)], 0.1 + 0.4 * 0.3 / 0.6),
    (0.95, [(0.1, 0.2), (0.5, 0.8), (1.0, 1.0), (math.inf, 1.0)], 0.5 + 0.5 * 0.15 / 0.2),
    (0.1, [(0.1, 0.2), (0.5, 0.8), (1.0, 1.0), (math.inf, 1.0)], 0.05),  # first bucket starts at 0
    (0.99, [(0.1, 0.2), (0.5, 0.8), (1.0, 0.9), (math.inf, 1.0)], 1.0),  # in +Inf: the highest finite bound
    (0.5, [(0.1, 0.0), (math.inf, 0.0)], math.nan),  # no observations
    (0.5, [(0.1, 1.0), (0.5, 2.0)], math.nan),  # no +Inf bucket
])
def test_bucket_quantile_interpolates_as_prometheus_does(q, bucket_counts, expected):
    result = rd.bucket_quantile(q, bucket_counts)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == pytest.approx(expected)


def test_histogram_quantile_over_scrapes():
    by_kind = rd.histogram_quantile(0.5, SCRAPES, "kafkaops_reconcile_duration_seconds", ["kind"], 10)
    p50 = dict(by_kind[("KafkaTopic",)])
    assert p50[1010.0] == pytest.approx(0.3)  # bucket rates 0.2, 0.8, 1.0, 1.0 per second
    assert math.isnan(p50[1030.0])  # nothing observed in the window
    p95 = dict(rd.histogram_quantile(0.95, SCRAPES, "kafkaops_reconcile_duration_seconds", [], 10)[()])
    assert p95[1010.0] == pytest.approx(0.875)


def test_ratio_of_rates_is_the_mean_per_observation():
    mean = rd.ratio(rd.rate(SCRAPES, "kafkaops_reconcile_duration_seconds_sum", ["kind"], 10),
                    rd.rate(SCRAPES, "kafkaops_reconcile_duration_seconds_count", ["kind"], 10))
    values = dict(mean[("KafkaTopic",)])
    assert values[1010.0] == pytest.approx(0.3)
    assert math.isnan(values[1030.0])  # 0/0


def test_latest_is_the_last_scrape():
    ready = rd.latest(SCRAPES, "kafkaops_topic_ready")
    assert sorted(ready.values()) == [0, 1]
    assert rd.latest([], "kafkaops_topic_ready") == {}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_render_writes_a_png_of_the_dashboards_panels(tmp_path):
    out = tmp_path / "dashboard.png"
    titles = rd.render(SCRAPES, out, window=20)
    assert _png_size(out) == (rd.WIDTH_PX, rd.HEIGHT_PX)
    assert out.stat().st_size > 50_000  # drawn panels, not an empty canvas
    dashboard = json.loads((REPO / "charts" / "kafkaops" / "files" / "dashboard.json").read_text())
    assert len(titles) == 12
    assert set(titles) <= {panel["title"] for panel in dashboard["panels"]}


def test_render_without_metrics_shows_no_data(tmp_path):
    empty = [rd.parse_scrape("", 1000.0), rd.parse_scrape("", 1005.0)]
    rd.render(empty, tmp_path / "empty.png", window=20)
    assert _png_size(tmp_path / "empty.png") == (rd.WIDTH_PX, rd.HEIGHT_PX)


def test_saved_scrapes_load_back(tmp_path):
    saved = tmp_path / "scrapes.jsonl"
    saved.write_text(json.dumps({"time": 5.0, "text": "# TYPE x gauge\nx 1\n"}) + "\n")
    assert rd.load_scrapes(saved)[0] == rd.Scrape(5.0, {"x": {(): 1.0}})
