"""Rendering the Helm chart with the harness's helm, for the chart's unit and e2e tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "kafkaops"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE, RELEASE_NAMESPACE = "kafkaops", "kafkaops-system"


def run_helm(binary: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def render(binary: Path, *args: str, values: Path | None = None, crds: bool = False) -> str:
    """``helm template`` of the chart as release ``kafkaops`` in ``kafkaops-system``."""
    extra = ["-f", str(values)] if values else []
    return run_helm(binary, "template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, *extra,
                *(["--include-crds"] if crds else []), *args).stdout


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]
