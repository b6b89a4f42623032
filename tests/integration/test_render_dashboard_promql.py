"""docs/render_dashboard.py's histogram_quantile agrees with Prometheus's own, evaluated by promtool."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kafkaops.harness.promtool import ensure_promtool

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BOUNDS = ("0.1", "0.5", "1", "2.5", "+Inf")
# per operation: how many observations land in each bucket per minute (not cumulative)
PER_MINUTE = {"create_topics": (2, 6, 2, 0, 0), "describe_topics": (0, 1, 3, 4, 2), "alter_configs": (9, 0, 0, 0, 1)}


def _load_renderer():
    spec = importlib.util.spec_from_file_location("render_dashboard", REPO / "docs" / "render_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quantiles_match_prometheus(tmp_path):
    rd = _load_renderer()
    series, checks = [], []
    for operation, counts in PER_MINUTE.items():
        cumulative = [sum(counts[:i + 1]) for i in range(len(counts))]
        series += [{"series": f'h_bucket{{operation="{operation}",le="{le}"}}', "values": f"1000+{step}x10"}
                   for le, step in zip(BOUNDS, cumulative, strict=True)]
    for q in (0.1, 0.5, 0.9, 0.95, 0.99):
        ours = []
        for operation, counts in PER_MINUTE.items():
            buckets = [(float(le), float(sum(counts[:i + 1]))) for i, le in enumerate(BOUNDS)]
            value = rd.bucket_quantile(q, buckets)
            ours.append(f'label_replace(vector({value!r}), "operation", "{operation}", "", "")')
        prometheus = f"histogram_quantile({q}, sum by (operation, le) (rate(h_bucket[5m])))"
        # promtool compares exactly; the two agree to rounding, for every operation
        checks.append({"expr": f"count(abs({prometheus} - on (operation) ({' or '.join(ours)})) < 1e-9)",
                       "eval_time": "8m", "exp_samples": [{"labels": "{}", "value": len(PER_MINUTE)}]})
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}]}))
    result = subprocess.run([str(ensure_promtool()), "test", "rules", "tests.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
