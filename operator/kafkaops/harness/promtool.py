"""Build Prometheus's ``promtool`` from the Go module proxy, cached under ``<cache>/promtool/<version>/bin``,
so the chart's alert rules are checked (``promtool check rules``, ``promtool test rules``) by the real parser
and rule evaluator. Prometheus 3.x is published to the proxy as ``v0.3XX.Y`` (v3.16.0 is v0.316.0).
About 6 minutes cold on 2 cores, seconds once Go's build cache is warm.
"""

from __future__ import annotations

import os
from pathlib import Path

from kafkaops.harness.gobuild import go_install
from kafkaops.harness.procs import cache_root

PROMETHEUS_MODULE_VERSION = os.environ.get("KAFKAOPS_PROMETHEUS_VERSION", "v0.316.0")


def prometheus_release(module_version: str) -> str:
    """The release a ``v0.3XX.Y`` module version stands for: v0.316.0 -> 3.16.0."""
    minor, patch = module_version.removeprefix("v0.").split(".")[:2]
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def promtool_path() -> Path:
    return cache_root() / "promtool" / PROMETHEUS_MODULE_VERSION / "bin" / "promtool"


def ensure_promtool() -> Path:
    """Build promtool if missing (about 6 minutes cold); return its path."""
    ldflags = f"-s -w -X github.com/prometheus/common/version.Version={prometheus_release(PROMETHEUS_MODULE_VERSION)}"
    return go_install(promtool_path(), f"github.com/prometheus/prometheus/cmd/promtool@{PROMETHEUS_MODULE_VERSION}",
                      ldflags, f"promtool {PROMETHEUS_MODULE_VERSION}")
