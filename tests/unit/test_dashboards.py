"""The chart's Grafana dashboard and Prometheus alerts query only what the operator exports.

A dashboard panel or an alert on a misspelt or renamed metric shows "No data" or never fires,
silently; these tests catch that at build time by pulling every metric name out of every PromQL
expression and comparing with the operator's metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "charts" / "kafkaops" / "files"

# The operator's metrics contract (issue 5): name -> type.


def exported_metric_names() -> dict[str, str]:
    """Every metric the operator exports, name -> Prometheus type (counters with their _total),
    read from the registry kafkaops.metrics fills: the per-object gauges are yielded (empty) even
    before the operator holds any object."""
    import kafkaops.metrics  # noqa: F401  (registers every metric)

    return {(family.name + "_total" if family.type == "counter" else family.name): family.type
            for family in REGISTRY.collect() if family.name.startswith(("kafka_", "kafkaops_"))}


def queryable_series(exported: dict[str, str]) -> set[str]:
    """Series names Prometheus stores: a histogram is queried through _bucket, _sum and _count."""
    names = set(exported)
    for name, kind in exported.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


# --- PromQL metric-name extraction -----------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "atan2", "inf", "nan",
             # aggregations: ``sum by (x) (...)`` puts a label list between the name and its parenthesis
             "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
             "quantile", "limitk", "limit_ratio"}
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9][0-9a-zA-Z_.]*")  # numbers and durations (5m, 1h30m)
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\]")
_NAME_MATCHER = re.compile(r"""__name__\s*(=~|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)""")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<expr>.*),)?\s*(?P<label>[a-zA-Z_]\w*)\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.S)


def _skip_string(text: str, start: int) -> int:
    """Index just past the string literal opening at ``start``."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {text!r}")


def _skip_group(text: str, start: int, close: str) -> int:
    """Index just past the bracket closing the one at ``start`` (strings inside are skipped)."""
    i = start + 1
    while i < len(text):
        if text[i] in "\"'`":
            i = _skip_string(text, i)
            continue
        if text[i] == close:
            return i + 1
        i += 1
    raise ValueError(f"unclosed {text[start]!r} in {text!r}")


def _names_in_name_matcher(matchers: str) -> Iterator[str]:
    """``{__name__=~"a|b"}`` selects metrics by name: yield the names (a regex must be a plain alternation)."""
    for match in _NAME_MATCHER.finditer(matchers):
        value = match.group(2)[1:-1]
        names = value.split("|") if match.group(1) == "=~" else [value]
        for name in names:
            if not _IDENT.fullmatch(name):
                raise ValueError(f"__name__ matcher {value!r} is not a list of metric names")
            yield name


def metric_names(promql: str) -> set[str]:
    """Metric names a PromQL expression selects (Grafana variables allowed in it)."""
    text = _GRAFANA_VARIABLE.sub("0", promql)
    names: set[str] = set()
    i = 0
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _skip_string(text, i)
        elif char == "{":
            end = _skip_group(text, i, "}")
            names.update(_names_in_name_matcher(text[i + 1:end - 1]))
            i = end
        elif char == "[":  # range or subquery: durations, a step
            i = _skip_group(text, i, "]")
        elif char == "#":  # comment to the end of the line
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif number := _NUMBER.match(text, i):
            i = number.end()
        elif ident := _IDENT.match(text, i):
            word = ident.group()
            i = ident.end()
            rest = text[i:].lstrip()
            following = rest[:1]
            if word.lower() in _LABEL_LIST_KEYWORDS and following == "(":
                i = _skip_group(text, len(text) - len(rest), ")")  # a label list, not metrics
            elif following == "(" or word.lower() in _KEYWORDS:
                continue  # a function, an aggregation or a keyword
            else:
                names.add(word)
        else:
            i += 1
    return names


def variable_query_names(query: str) -> set[str]:
    """Metric names in a Grafana Prometheus template-variable query."""
    if match := _LABEL_VALUES.match(query):
        return metric_names(match.group("expr")) if match.group("expr") else set()
    if match := _QUERY_RESULT.match(query):
        return metric_names(match.group("expr"))
    return metric_names(query)


# --- the dashboard and the rules -------------------------------------------------------------

def load_dashboard() -> dict:
    return json.loads((FILES / "dashboard.json").read_text())


def load_rule_groups() -> list[dict]:
    return yaml.safe_load((FILES / "alerts.yaml").read_text())


def all_panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))  # panels inside collapsed rows


def dashboard_queries(dashboard: dict) -> Iterator[tuple[str, set[str]]]:
    """(where, metric names) for every target expression and every query variable."""
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} target {target['refId']}", metric_names(target["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", variable_query_names(query)


def rule_queries(groups: list[dict]) -> Iterator[tuple[str, set[str]]]:
    for group in groups:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", metric_names(rule["expr"])


# --- the extractor itself --------------------------------------------------------------------

@pytest.mark.parametrize(("promql", "expected"), [
    ("kafkaops_topic_ready == 0", {"kafkaops_topic_ready"}),
    ('sum by (consumergroup, topic) (kafka_consumergroup_lag_sum{consumergroup=~"$consumergroup"})',
     {"kafka_consumergroup_lag_sum"}),
    ("deriv(sum by (consumergroup) (kafka_consumergroup_lag_sum)[10m:1m]) > 0 and sum without (topic) (x_total) > 1e3",
     {"kafka_consumergroup_lag_sum", "x_total"}),
    ("histogram_quantile(0.95, sum(rate(a_bucket{le!=\"+Inf\"}[$__rate_interval])) by (le))", {"a_bucket"}),
    ("a / on (namespace, name) group_left (owner) b offset 5m", {"a", "b"}),
    ("a > bool 3 unless ignoring (pod) c @ 1609746000", {"a", "c"}),
    ('label_replace(up, "dst", "$1 by (x)", "src", "(.*)") or vector(0)', {"up"}),
    ('{__name__=~"metric_one|metric_two", job="x"} # a comment with fake_name\n', {"metric_one", "metric_two"}),
    ("min_over_time(ns:sum_rate:5m[1h])", {"ns:sum_rate:5m"}),
    ("sum(a) by (le) + Inf - NaN + 0x1F", {"a"}),
])
def test_metric_names_are_pulled_out_of_promql(promql, expected):
    assert metric_names(promql) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("label_values(kafka_consumergroup_lag_sum, consumergroup)", {"kafka_consumergroup_lag_sum"}),
    ('label_values(kafkaops_topic_ready{namespace=~"$namespace"}, topic)', {"kafkaops_topic_ready"}),
    ("label_values(namespace)", set()),
    ("query_result(topk(5, kafkaops_topic_partitions))", {"kafkaops_topic_partitions"}),
])
def test_variable_queries(query, expected):
    assert variable_query_names(query) == expected


def test_an_unknown_metric_name_is_caught():
    """The check must fail on a made-up name hidden among exported ones, wherever it sits."""
    known = queryable_series(exported_metric_names())
    expressions = [
        'sum by (consumergroup) (rate(kafkaops_reconciliations_total{result="error"}[5m])) / kafkaops_made_up_total',
        'histogram_quantile(0.9, sum by (le) (rate(kafkaops_topic_ready_bucket[5m])))',  # a gauge has no buckets
        'kafkaops_topic_ready and on (topic) kafka_consumergroup_lag_total',
        '{__name__=~"kafkaops_topic_ready|kafkaops_topic_raedy"}',
    ]
    for expr in expressions:
        assert metric_names(expr) - known, expr


def test_a_regex_name_matcher_is_refused():
    with pytest.raises(ValueError, match="not a list of metric names"):
        metric_names('{__name__=~"kafkaops_.*"}')


# --- the files -------------------------------------------------------------------------------

def test_dashboard_and_rules_query_only_exported_metrics():
    known = queryable_series(exported_metric_names())
    queries = [*dashboard_queries(load_dashboard()), *rule_queries(load_rule_groups())]
    assert len(queries) > 20
    unknown = {where: sorted(names - known) for where, names in queries if names - known}
    assert not unknown
    assert all(names for where, names in queries), [where for where, names in queries if not names]


def test_dashboard_and_rules_need_no_per_partition_series():
    """At ``KAFKAOPS_LAG_GRANULARITY=topic`` the operator drops the per-partition lag series; the
    dashboard and the alerts must work from what is left."""
    from kafkaops.metrics import GroupSample, group_families

    sample = [GroupSample("ns", "app", "group", 1, 1, {("orders", 0): 3, ("orders", 1): 4}, lag_seconds=1.0,
                          members=1)]
    at_partition = {family.name for family in group_families(sample, "partition")}
    at_topic = {family.name for family in group_families(sample, "topic")}
    assert at_partition - at_topic == {"kafka_consumergroup_lag", "kafkaops_sharegroup_lag"}
    known = queryable_series(exported_metric_names()) - (at_partition - at_topic)
    queries = [*dashboard_queries(load_dashboard()), *rule_queries(load_rule_groups())]
    assert not {where: sorted(names - known) for where, names in queries if names - known}


def test_dashboard_is_a_grafana_dashboard_with_unique_panel_ids():
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    panels = list(all_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            assert all(target["datasource"]["uid"] == "${datasource}" for target in panel["targets"])


def test_dashboard_variables():
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "consumergroup", "sharegroup"):
        assert variables[name]["type"] == "query"
        assert variables[name]["query"]["query"].startswith("label_values(")
        assert variables[name]["query"]["query"].endswith(f", {name})")


def test_share_groups_have_their_own_row_on_their_own_series():
    """Share groups are exported in the kafkaops_sharegroup_* family: the row below "Share groups" (up to
    the next row) queries it, filtered by the ``sharegroup`` variable, and no other panel does."""
    from kafkaops.metrics import LAG_SERIES

    share_names = set(LAG_SERIES["share"][:4])
    rows: dict[str, set[str]] = {}
    row = ""
    for panel in load_dashboard()["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            continue
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            rows.setdefault(row, set()).update(names)
            assert bool(names & share_names) == (row == "Share groups") == ("$sharegroup" in target["expr"]), (
                panel["title"])
    assert rows["Share groups"] == share_names - {LAG_SERIES["share"].lag}  # the per-partition series is optional


def test_every_alert_has_severity_summary_and_description():
    rules = [rule for group in load_rule_groups() for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) >= 6
    for rule in rules:
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert "{{ $labels." in rule["annotations"]["description"] or "{{ $value" in rule["annotations"]["description"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
