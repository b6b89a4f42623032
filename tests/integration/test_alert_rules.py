"""The chart's alert rules, checked and evaluated by Prometheus's own promtool.

``promtool test rules`` feeds synthetic series through the real rule evaluator: each alert must
fire on its trouble (with the labels and expanded annotations a receiver would get) and stay
quiet on healthy input and on trouble shorter than its ``for``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from kafkaops.harness.promtool import ensure_promtool

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "charts" / "kafkaops" / "files" / "alerts.yaml"


@dataclass
class Case:
    alert: str
    series: dict[str, str]  # series selector -> promtool values notation, one sample per minute
    quiet_at: list[str]  # eval times at which nothing fires
    fires_at: str
    firing: list[tuple[dict[str, str], str]] = field(default_factory=list)  # (labels, $value as rendered)


CASES = [
    Case("KafkaConsumerGroupLagGrowing",
         {'kafka_consumergroup_lag_sum{consumergroup="growing",topic="a"}': "0+150x40",
          'kafka_consumergroup_lag_sum{consumergroup="growing",topic="b"}': "0+50x40",
          'kafka_consumergroup_lag_sum{consumergroup="steady",topic="a"}': "5000x40",  # high but not growing
          'kafka_consumergroup_lag_sum{consumergroup="small",topic="a"}': "0+10x40"},  # growing, below the floor
         quiet_at=["5m", "15m"], fires_at="20m",
         firing=[({"consumergroup": "growing"}, "")]),
    Case("KafkaConsumerGroupTimeLagHigh",
         {'kafkaops_consumergroup_lag_seconds{consumergroup="slow"}': "600x20",
          'kafkaops_consumergroup_lag_seconds{consumergroup="fast"}': "2x20",
          'kafkaops_consumergroup_lag_seconds{consumergroup="hiccup"}': "0 0 900 900 0x16"},
         quiet_at=["4m"], fires_at="6m",
         firing=[({"consumergroup": "slow"}, "10m 0s")]),
    Case("KafkaConsumerAppReplicasMismatch",
         {'kafkaops_consumerapp_replicas{namespace="shop",consumerapp="stuck"}': "2x30",
          'kafkaops_consumerapp_desired_replicas{namespace="shop",consumerapp="stuck"}': "4x30",
          'kafkaops_consumerapp_replicas{namespace="shop",consumerapp="fine"}': "3x30",
          'kafkaops_consumerapp_desired_replicas{namespace="shop",consumerapp="fine"}': "3x30",
          'kafkaops_consumerapp_replicas{namespace="shop",consumerapp="rolling"}': "2x5 3x25",
          'kafkaops_consumerapp_desired_replicas{namespace="shop",consumerapp="rolling"}': "3x30"},
         quiet_at=["14m"], fires_at="16m",
         firing=[({"namespace": "shop", "consumerapp": "stuck"}, "2")]),
    Case("KafkaTopicNotReady",
         {'kafkaops_topic_ready{namespace="shop",kafkatopic="orders",topic="shop.orders"}': "0x20",
          'kafkaops_topic_ready{namespace="shop",kafkatopic="users",topic="users"}': "1x20",
          'kafkaops_topic_ready{namespace="shop",kafkatopic="flaky",topic="flaky"}': "0x5 1x15"},
         quiet_at=["9m"], fires_at="11m",
         firing=[({"namespace": "shop", "kafkatopic": "orders", "topic": "shop.orders"}, "")]),
    Case("KafkaopsReconcileErrors",
         {'kafkaops_reconciliations_total{kind="KafkaTopic",result="error"}': "0+6x30",  # 0.1 errors/s
          'kafkaops_reconciliations_total{kind="ConsumerApp",result="error"}': "3 3 4x28",  # one error
          'kafkaops_reconciliations_total{kind="ConsumerApp",result="ok"}': "0+60x30"},
         quiet_at=["9m"], fires_at="20m",
         firing=[({"kind": "KafkaTopic"}, "0.1")]),
    Case("KafkaopsLagCollectionSlow",
         {'kafkaops_lag_collection_duration_seconds_bucket{le="1"}': "0x40",
          'kafkaops_lag_collection_duration_seconds_bucket{le="10"}': "0x40",
          'kafkaops_lag_collection_duration_seconds_bucket{le="30"}': "0+4x40",  # every cycle 10..30 s
          'kafkaops_lag_collection_duration_seconds_bucket{le="+Inf"}': "0+4x40"},
         quiet_at=["10m"], fires_at="25m",
         firing=[({}, "29s")]),
]

QUIET_LAG_COLLECTION = {  # every cycle under a second: never slow
    'kafkaops_lag_collection_duration_seconds_bucket{le="1"}': "0+4x40",
    'kafkaops_lag_collection_duration_seconds_bucket{le="10"}': "0+4x40",
    'kafkaops_lag_collection_duration_seconds_bucket{le="30"}': "0+4x40",
    'kafkaops_lag_collection_duration_seconds_bucket{le="+Inf"}': "0+4x40",
}


def expand(template: str, labels: dict[str, str], value: str) -> str:
    """What Prometheus renders for our annotations (they use only $labels.x and a formatted $value)."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    return re.sub(r"\{\{ \$value[^}]*\}\}", value, text)


def rules_by_name() -> dict[str, dict]:
    return {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text()) for rule in group["rules"]}


def unit_tests() -> dict:
    rules = rules_by_name()
    tests = []
    for case in CASES:
        rule = rules[case.alert]
        expected = [{"exp_labels": {**labels, **rule["labels"]},
                     "exp_annotations": {key: expand(text, labels, value) for key, text in rule["annotations"].items()}}
                    for labels, value in case.firing]
        checks = [{"eval_time": t, "alertname": case.alert, "exp_alerts": []} for t in case.quiet_at]
        checks.append({"eval_time": case.fires_at, "alertname": case.alert, "exp_alerts": expected})
        tests.append({"name": case.alert, "interval": "1m",
                      "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                      "alert_rule_test": checks})
    tests.append({"name": "fast lag collection", "interval": "1m",
                  "input_series": [{"series": s, "values": v} for s, v in QUIET_LAG_COLLECTION.items()],
                  "alert_rule_test": [{"eval_time": "30m", "alertname": "KafkaopsLagCollectionSlow",
                                       "exp_alerts": []}]})
    return {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_promtool()), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": yaml.safe_load(RULES.read_text())}))
    return tmp_path


def test_promtool_accepts_the_rules(rules_dir):
    result = promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule(rules_dir):
    """The check above means something: promtool parses the expressions."""
    broken = rules_dir / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "Broken", "expr": "sum by (consumergroup (kafka_consumergroup_lag_sum)"}]}]}))
    result = promtool("check", "rules", broken.name, cwd=rules_dir)
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_every_alert_fires_on_trouble_and_stays_quiet_otherwise(rules_dir):
    assert {case.alert for case in CASES} == set(rules_by_name())
    (rules_dir / "tests.yaml").write_text(yaml.safe_dump(unit_tests(), sort_keys=False))
    result = promtool("test", "rules", "tests.yaml", cwd=rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_fails_when_an_alert_does_not_fire(rules_dir):
    """promtool really evaluates: a topic that becomes Ready in time does not fire KafkaTopicNotReady."""
    tests = unit_tests()
    not_ready = next(t for t in tests["tests"] if t["name"] == "KafkaTopicNotReady")
    not_ready["input_series"] = [{"series": 'kafkaops_topic_ready{namespace="shop",kafkatopic="orders",'
                                            'topic="shop.orders"}', "values": "0x5 1x15"}]
    (rules_dir / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", "tests.yaml", cwd=rules_dir)
    assert result.returncode != 0
    assert "KafkaTopicNotReady" in result.stdout + result.stderr

