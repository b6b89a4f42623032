"""Build Prometheus's ``promtool`` from the Go module proxy, cached under ``<cache>/promtool/<version>/bin``,
so the chart's alert rules are checked (``promtool check rules``, ``promtool test rules``) by the real parser
and rule evaluator. Prometheus 3.x is published to the proxy as ``v0.3XX.Y`` (v3.16.0 is v0.316.0).
About 6 minutes cold on 2 cores, seconds once Go's build cache is warm.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from kafkaops.harness.gobuild import _go_env
from kafkaops.harness.procs import HarnessError, cache_root, progress, run_logged

PROMETHEUS_MODULE_VERSION = os.environ.get("KAFKAOPS_PROMETHEUS_VERSION", "v0.316.0")


def prometheus_release(module_version: str) -> str:
    """The release a ``v0.3XX.Y`` module version stands for: v0.316.0 -> 3.16.0."""
    minor, patch = module_version.removeprefix("v0.").split(".")[:2]
    return f"{int(minor) // 100}.{int(minor) % 100}.{patch}"


def promtool_path() -> Path:
    return cache_root() / "promtool" / PROMETHEUS_MODULE_VERSION / "bin" / "promtool"


def ensure_promtool() -> Path:
    """Build promtool if missing; return its path. Idempotent and cheap when cached."""
    path = promtool_path()
    if path.exists():
        return path
    if shutil.which("go") is None:
        raise HarnessError("Go is needed to build promtool (go not on PATH)")
    path.parent.mkdir(parents=True, exist_ok=True)
    env = _go_env(Path.cwd())
    env["GOBIN"] = str(path.parent)
    log = path.parent.parent / "build.log"
    progress(f"building promtool {PROMETHEUS_MODULE_VERSION} (cold: about 6 minutes on 2 cores); log {log}")
    started = time.monotonic()
    ldflags = f"-s -w -X github.com/prometheus/common/version.Version={prometheus_release(PROMETHEUS_MODULE_VERSION)}"
    run_logged(["go", "install", "-trimpath", "-ldflags", ldflags,
                f"github.com/prometheus/prometheus/cmd/promtool@{PROMETHEUS_MODULE_VERSION}"],
               log, env=env, what="building promtool")
    progress(f"built promtool in {time.monotonic() - started:.0f}s")
    return path
