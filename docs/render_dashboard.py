"""Render docs/dashboard.png: the Grafana dashboard's main panels, drawn from a real operator's metrics.

Scrapes the operator's /metrics endpoint every ``--interval`` seconds for ``--duration`` seconds, then
computes per panel what the panel's PromQL computes (same grouping, rates over a window, Prometheus's
histogram_quantile interpolation) and draws it in Grafana's dark style. No Prometheus or Grafana needed.

    python docs/render_dashboard.py --metrics-url http://127.0.0.1:9090/metrics --duration 600
    python docs/render_dashboard.py --save scrapes.jsonl ...   # keep the raw scrapes
    python docs/render_dashboard.py --load scrapes.jsonl       # re-render them without scraping
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
Key = tuple[str, ...]  # values of the grouping labels, in "by" order
Series = dict[Key, list[tuple[float, float]]]  # (unix time, value); NaN where PromQL has no value

WIDTH_PX, HEIGHT_PX, DPI = 1800, 1560, 100
BACKGROUND, PANEL, BORDER, TEXT, MUTED, GRID = "#111217", "#181b1f", "#2c3235", "#ccccdc", "#8e8e8e", "#24272b"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a", "#37872d",
           "#ff9830", "#c4162a", "#1f60c4"]
GREEN, RED = "#73bf69", "#f2495c"


@dataclass(frozen=True)
class Scrape:
    time: float
    samples: dict[str, dict[Labels, float]]  # sample name (e.g. x_bucket, y_total) -> labels -> value


def parse_scrape(text: str, at: float) -> Scrape:
    """One text-format exposition, keyed by sample name as PromQL sees it."""
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = float(sample.value)
    return Scrape(at, samples)


def _key(labels: Labels, by: Sequence[str]) -> Key:
    values = dict(labels)
    return tuple(values.get(name, "") for name in by)


def _grouped(values: dict[Labels, float], by: Sequence[str], agg: Callable[[Iterable[float]], float],
             where: Callable[[dict[str, str], float], bool] | None = None) -> dict[Key, float]:
    groups: dict[Key, list[float]] = {}
    for labels, value in values.items():
        if where is None or where(dict(labels), value):
            groups.setdefault(_key(labels, by), []).append(value)
    return {key: agg(group) for key, group in groups.items()}


def gauge(scrapes: Sequence[Scrape], name: str, by: Sequence[str], agg: Callable[[Iterable[float]], float] = sum,
          where: Callable[[dict[str, str], float], bool] | None = None) -> Series:
    """``agg by (by) (name)`` at every scrape; a group absent from a scrape is a gap, as in Grafana."""
    series: Series = {}
    for scrape in scrapes:
        for key, value in _grouped(scrape.samples.get(name, {}), by, agg, where).items():
            series.setdefault(key, []).append((scrape.time, value))
    return series


def _increase(points: Sequence[tuple[float, float]]) -> float:
    """Counter increase over consecutive samples, a drop counting as a reset (PromQL's rule)."""
    total = 0.0
    for (_, before), (_, after) in itertools.pairwise(points):
        total += after - before if after >= before else after
    return total


def rate(scrapes: Sequence[Scrape], name: str, by: Sequence[str], window: float) -> Series:
    """``sum by (by) (rate(name[window]))``: per series, increase over the samples in the window / its span."""
    series: Series = {}
    for end, scrape in enumerate(scrapes):
        window_scrapes = [s for s in scrapes[:end + 1] if scrape.time - s.time <= window]
        per_series: dict[Labels, list[tuple[float, float]]] = {}
        for s in window_scrapes:
            for labels, value in s.samples.get(name, {}).items():
                per_series.setdefault(labels, []).append((s.time, value))
        rates: dict[Labels, float] = {}
        for labels, points in per_series.items():
            if len(points) >= 2 and points[-1][0] == scrape.time:
                rates[labels] = _increase(points) / (points[-1][0] - points[0][0])
        for key, value in _grouped(rates, by, sum).items():
            series.setdefault(key, []).append((scrape.time, value))
    return series


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile over (upper bound, cumulative count) pairs, linear in a bucket."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]) or len(ordered) < 2:
        return math.nan
    counts, highest = [], 0.0
    for _, count in ordered:  # rates of cumulative buckets can be slightly non-monotonic
        highest = max(highest, count)
        counts.append(highest)
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, count in enumerate(counts) if count >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        start, count, rank = ordered[b - 1][0], count - counts[b - 1], rank - counts[b - 1]
    return start + (end - start) * rank / count


def histogram_quantile(q: float, scrapes: Sequence[Scrape], histogram: str, by: Sequence[str],
                       window: float) -> Series:
    """``histogram_quantile(q, sum by (by, le) (rate(histogram_bucket[window])))``."""
    bucket_rates = rate(scrapes, f"{histogram}_bucket", [*by, "le"], window)
    per_time: dict[Key, dict[float, list[tuple[float, float]]]] = {}
    for key, points in bucket_rates.items():
        upper = float(key[-1])
        for t, value in points:
            per_time.setdefault(key[:-1], {}).setdefault(t, []).append((upper, value))
    return {key: [(t, bucket_quantile(q, buckets)) for t, buckets in sorted(times.items())]
            for key, times in per_time.items()}


def ratio(numerator: Series, denominator: Series) -> Series:
    """``a / b`` matched on the grouping labels; 0/0 is NaN as in PromQL."""
    out: Series = {}
    for key, points in numerator.items():
        below = dict(denominator.get(key, []))
        out[key] = [(t, value / below[t] if below[t] else math.nan) for t, value in points if t in below]
    return out


def latest(scrapes: Sequence[Scrape], name: str) -> dict[Labels, float]:
    return scrapes[-1].samples.get(name, {}) if scrapes else {}


# --- drawing ---------------------------------------------------------------------------------

@dataclass
class Line:
    label: str
    points: list[tuple[float, float]]
    dashed: bool
    color_key: Key  # a quantity's lines for one group (p50 and p95, replicas and desired) share a color


def _style_axes(ax: Axes, title: str) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_color(BORDER)
    ax.set_title(title, loc="left", color=TEXT, fontsize=11, fontweight="bold", pad=8)


def _time_series(ax: Axes, title: str, lines: Sequence[Line], unit: str = "",
                 span: tuple[datetime, datetime] | None = None) -> None:
    _style_axes(ax, title)
    ax.tick_params(colors=MUTED, labelsize=8)
    ax.grid(color=GRID, linewidth=0.8)
    if span:  # every panel shows the whole scraped range, as Grafana's time picker does
        ax.set_xlim(*span)
        short = (span[1] - span[0]).total_seconds() < 180
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=11))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S" if short else "%H:%M"))
    if unit:
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:g} {unit}")
    if not lines:
        ax.text(0.5, 0.5, "No data", color=MUTED, ha="center", va="center", fontsize=14,
                transform=ax.transAxes)
        return
    colors: dict[str, str] = {}
    for line in lines:
        color = colors.setdefault("/".join(line.color_key), PALETTE[len(colors) % len(PALETTE)])
        times = [datetime.fromtimestamp(t) for t, _ in line.points]
        values = [v for _, v in line.points]
        ax.plot(times, values, color=color, linewidth=1.4, label=line.label,
                linestyle=(0, (4, 3)) if line.dashed else "-")
        if not line.dashed:
            ax.fill_between(times, values, color=color, alpha=0.08)
    ax.set_ylim(bottom=0)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1), ncol=3, fontsize=8,
                       frameon=False, labelcolor=TEXT, handlelength=1.2)
    legend.set_in_layout(True)


def _lines(series: Series, label: Callable[[Key], str], limit: int = 9, dashed: bool = False) -> list[Line]:
    """The ``limit`` series with the highest last value (a panel legend stays readable)."""
    def last(points: list[tuple[float, float]]) -> float:
        finite = [v for _, v in points if not math.isnan(v)]
        return finite[-1] if finite else -math.inf
    ranked = sorted(series.items(), key=lambda item: (-last(item[1]), item[0]))[:limit]
    return [Line(label(key), points, dashed, key) for key, points in ranked]


def _stat(ax: Axes, title: str, ready: int, not_ready: int) -> None:
    _style_axes(ax, title)
    ax.set_xticks([])
    ax.set_yticks([])
    for row, (name, value, color) in enumerate((("Ready", ready, GREEN), ("Not ready", not_ready, RED))):
        y = 0.53 - row * 0.47
        ax.add_patch(FancyBboxPatch((0.04, y), 0.92, 0.4, boxstyle="round,pad=0,rounding_size=0.02",
                                    transform=ax.transAxes, color=color, alpha=0.85))
        ax.text(0.08, y + 0.2, name, color="white", fontsize=14, va="center",
                transform=ax.transAxes)
        ax.text(0.92, y + 0.2, str(value), color="white", fontsize=30, fontweight="bold", va="center",
                ha="right", transform=ax.transAxes)


def _table(ax: Axes, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    _style_axes(ax, title)
    ax.set_xticks([])
    ax.set_yticks([])
    columns = [0.03, 0.26, 0.52, 0.78]
    for x, name in zip(columns, header, strict=False):
        ax.text(x, 0.92, name, color=PALETTE[2], fontsize=9, fontweight="bold",
                transform=ax.transAxes, va="center")
    if not rows:
        ax.text(0.5, 0.45, "No data (every KafkaTopic is Ready)", color=MUTED, fontsize=11,
                ha="center", transform=ax.transAxes)
    for i, row in enumerate(rows[:9]):
        y = 0.82 - i * 0.09
        for x, cell in zip(columns, row, strict=False):
            ax.text(x, y, cell, color=TEXT, fontsize=9, transform=ax.transAxes, va="center")
    if len(rows) > 9:
        ax.text(0.03, 0.02, f"... and {len(rows) - 9} more", color=MUTED, fontsize=8,
                transform=ax.transAxes)


def _join(key: Key) -> str:
    return " / ".join(key)


def render(scrapes: Sequence[Scrape], out: Path, window: float) -> list[str]:
    """Draw the dashboard's main panels from ``scrapes`` into ``out`` (WIDTH_PX x HEIGHT_PX); return their titles."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor=BACKGROUND)
    grid = fig.add_gridspec(4, 3, left=0.04, right=0.985, top=0.915, bottom=0.05, hspace=0.62, wspace=0.17)
    span, times = "", None
    if scrapes:
        times = (datetime.fromtimestamp(scrapes[0].time), datetime.fromtimestamp(scrapes[-1].time))
        span = f"{times[0]:%Y-%m-%d %H:%M:%S} to {times[1]:%H:%M:%S}  ·  {len(scrapes)} scrapes"
    series = functools.partial(_time_series, span=times)
    fig.text(0.012, 0.975, "Dashboards  /  kafkaops", color=TEXT, fontsize=16, fontweight="bold", va="center")
    fig.text(0.985, 0.975, span, color=MUTED, fontsize=10, ha="right", va="center")
    fig.text(0.012, 0.952, "Data source: Prometheus     Namespace: All     Consumer group: All", color=MUTED,
             fontsize=10, va="center")
    cell = iter([grid[r, c] for r in range(4) for c in range(3)])

    def axes() -> Axes:
        return fig.add_subplot(next(cell))

    # sum by (consumergroup, topic) (kafka_consumergroup_lag_sum{consumergroup=~"$consumergroup"})
    series(axes(), "Lag per group and topic", _lines(
        gauge(scrapes, "kafka_consumergroup_lag_sum", ["consumergroup", "topic"]), _join))
    # max by (consumergroup) (kafkaops_consumergroup_lag_seconds{consumergroup=~"$consumergroup"})
    series(axes(), "Time lag per group", _lines(
        gauge(scrapes, "kafkaops_consumergroup_lag_seconds", ["consumergroup"], max), _join), "s")
    # kafkaops_consumerapp_replicas{namespace=~"$namespace"} and kafkaops_consumerapp_desired_replicas{...}
    by_app = ["namespace", "consumerapp"]
    replicas = _lines(gauge(scrapes, "kafkaops_consumerapp_replicas", by_app), lambda k: f"{'/'.join(k)} replicas", 5)
    desired = _lines(gauge(scrapes, "kafkaops_consumerapp_desired_replicas", by_app),
                     lambda k: f"{'/'.join(k)} desired", 5, dashed=True)
    series(axes(), "Replicas vs desired per ConsumerApp", [*replicas, *desired])
    # kafkaops_consumergroup_members{consumergroup=~"$consumergroup"}
    series(axes(), "Group members", _lines(
        gauge(scrapes, "kafkaops_consumergroup_members", ["consumergroup"]), _join))
    # count(kafkaops_topic_ready == 1) or vector(0); count(kafkaops_topic_ready == 0) or vector(0)
    ready = latest(scrapes, "kafkaops_topic_ready")
    _stat(axes(), "KafkaTopics ready / not ready", sum(v == 1 for v in ready.values()),
          sum(v == 0 for v in ready.values()))
    # kafkaops_topic_ready == 0, joined with kafkaops_topic_partitions on (namespace, kafkatopic)
    partitions = {_key(labels, ["namespace", "kafkatopic"]): value
                  for labels, value in latest(scrapes, "kafkaops_topic_partitions").items()}
    rows = sorted(
        [*_key(labels, ["namespace", "kafkatopic", "topic"]),
         f"{partitions.get(_key(labels, ['namespace', 'kafkatopic']), math.nan):.0f}"]
        for labels, value in ready.items() if value == 0)
    _table(axes(), "KafkaTopics not ready", ["namespace", "kafkatopic", "topic", "partitions"], rows)
    # sum by (kind, result) (rate(kafkaops_reconciliations_total[$__rate_interval]))
    series(axes(), "Reconcile rate by kind and result", _lines(
        rate(scrapes, "kafkaops_reconciliations_total", ["kind", "result"], window), " ".join), "/s")
    # histogram_quantile(0.5 | 0.95, sum by (kind, le) (rate(kafkaops_reconcile_duration_seconds_bucket[...])))
    series(axes(), "Reconcile latency p50 / p95", [
        *_lines(histogram_quantile(0.5, scrapes, "kafkaops_reconcile_duration_seconds", ["kind"], window),
                lambda k: f"{k[0]} p50"),
        *_lines(histogram_quantile(0.95, scrapes, "kafkaops_reconcile_duration_seconds", ["kind"], window),
                lambda k: f"{k[0]} p95", dashed=True)], "s")
    # sum(rate(kafkaops_drift_corrections_total[$__rate_interval]))
    series(axes(), "Drift corrections", _lines(
        rate(scrapes, "kafkaops_drift_corrections_total", [], window), lambda _k: "corrections"), "/s")
    # histogram_quantile(0.95, sum by (operation, le) (rate(kafkaops_admin_request_duration_seconds_bucket[...])))
    series(axes(), "Admin request latency p95 by operation", _lines(
        histogram_quantile(0.95, scrapes, "kafkaops_admin_request_duration_seconds", ["operation"], window),
        _join), "s")
    # sum by (operation) (rate(kafkaops_admin_batch_size_sum[...])) / sum by (operation) (rate(..._count[...]))
    # and histogram_quantile(0.95, sum by (operation, le) (rate(kafkaops_admin_batch_size_bucket[...])))
    series(axes(), "Admin batch size", [
        *_lines(ratio(rate(scrapes, "kafkaops_admin_batch_size_sum", ["operation"], window),
                      rate(scrapes, "kafkaops_admin_batch_size_count", ["operation"], window)),
                lambda k: f"{k[0]} mean", 5),
        *_lines(histogram_quantile(0.95, scrapes, "kafkaops_admin_batch_size", ["operation"], window),
                lambda k: f"{k[0]} p95", 5, dashed=True)])
    # sum(rate(kafkaops_lag_collection_duration_seconds_sum[...])) / sum(rate(..._count[...]))
    # and histogram_quantile(0.95, sum by (le) (rate(kafkaops_lag_collection_duration_seconds_bucket[...])))
    series(axes(), "Lag collection duration", [
        *_lines(ratio(rate(scrapes, "kafkaops_lag_collection_duration_seconds_sum", [], window),
                      rate(scrapes, "kafkaops_lag_collection_duration_seconds_count", [], window)),
                lambda _k: "mean"),
        *_lines(histogram_quantile(0.95, scrapes, "kafkaops_lag_collection_duration_seconds", [], window),
                lambda _k: "p95", dashed=True)], "s")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=BACKGROUND)
    return [ax.get_title(loc="left") for ax in fig.axes]


# --- scraping --------------------------------------------------------------------------------

def scrape_loop(url: str, interval: float, duration: float, save: Path | None) -> list[Scrape]:
    """Scrape ``url`` every ``interval`` s for ``duration`` s; a failed scrape is reported and skipped."""
    scrapes: list[Scrape] = []
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started <= duration:
        try:
            with urllib.request.urlopen(url, timeout=max(interval, 5)) as response:
                text = response.read().decode()
            now = time.time()
            scrapes.append(parse_scrape(text, now))
            if save:
                with save.open("a") as out:
                    out.write(json.dumps({"time": now, "text": text}) + "\n")
        except OSError as error:
            print(f"scrape of {url} failed: {error}", file=sys.stderr)
        tick += 1
        time.sleep(max(0.0, started + tick * interval - time.monotonic()))
    return scrapes


def load_scrapes(path: Path) -> list[Scrape]:
    return [parse_scrape(record["text"], record["time"])
            for record in map(json.loads, path.read_text().splitlines()) if record]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics-url", default="http://127.0.0.1:9090/metrics")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between scrapes")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds to scrape for")
    parser.add_argument("--rate-window", type=float, help="rate() window in seconds (default: 4 intervals)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "dashboard.png")
    parser.add_argument("--save", type=Path, help="append the raw scrapes to this JSON-lines file")
    parser.add_argument("--load", type=Path, help="render scrapes saved with --save instead of scraping")
    args = parser.parse_args(argv)
    scrapes = load_scrapes(args.load) if args.load else scrape_loop(args.metrics_url, args.interval, args.duration,
                                                                    args.save)
    if len(scrapes) < 2:
        print(f"need at least 2 scrapes, got {len(scrapes)}", file=sys.stderr)
        return 1
    window = args.rate_window or 4 * (scrapes[-1].time - scrapes[0].time) / (len(scrapes) - 1)
    panels = render(scrapes, args.out, window)
    print(f"wrote {args.out}: {len(panels)} panels from {len(scrapes)} scrapes (rate window {window:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
