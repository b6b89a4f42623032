"""A tiny checker around kstatus (``sigs.k8s.io/cli-utils/pkg/kstatus/status``), the health logic of Flux's
``healthChecks``/``wait``, kpt and cli-utils: it reads one object as JSON on stdin and prints
``{"status": "Current|InProgress|Failed|...", "message": ...}``. Built from the Go module proxy and cached
under ``<cache>/kstatus/<version>/bin``, so tests ask kstatus itself rather than a re-implementation of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from kafkaops.harness.gobuild import go_env
from kafkaops.harness.procs import HarnessError, cache_root, progress, run_logged

CLI_UTILS_VERSION = os.environ.get("KAFKAOPS_CLI_UTILS_VERSION", "v0.37.2")

MAIN_GO = """package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	result, err := status.Compute(&obj)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	verdict := map[string]string{"status": result.Status.String(), "message": result.Message}
	_ = json.NewEncoder(os.Stdout).Encode(verdict)
}
"""


def kstatus_path() -> Path:
    return cache_root() / "kstatus" / CLI_UTILS_VERSION / "bin" / "kstatus"


def ensure_kstatus() -> Path:
    """Build the checker if missing (a minute or two cold, most of it compiling apimachinery)."""
    path = kstatus_path()
    if path.exists():
        return path
    if shutil.which("go") is None:
        raise HarnessError("Go is needed to build the kstatus checker (go not on PATH)")
    work = path.parent.parent / "build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module kafkaops.local/kstatus\n\ngo 1.24\n\n"
                                 f"require sigs.k8s.io/cli-utils {CLI_UTILS_VERSION}\n")
    (work / "go.sum").touch()
    (work / "main.go").write_text(MAIN_GO)
    log = path.parent.parent / "build.log"
    progress(f"building the kstatus checker (cli-utils {CLI_UTILS_VERSION}) into {path.parent}; log {log}")
    started = time.monotonic()
    run_logged(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(path), "."], log, cwd=work,
               env=go_env(work), what="building the kstatus checker")
    progress(f"built the kstatus checker in {time.monotonic() - started:.0f}s")
    return path


def compute(checker: Path, obj: dict[str, Any]) -> dict[str, str]:
    """kstatus's verdict on ``obj`` (as read from the API server)."""
    out = subprocess.run([str(checker)], input=json.dumps(obj), capture_output=True, text=True, timeout=60,
                         check=False)
    if out.returncode != 0:
        raise HarnessError(f"kstatus failed (exit {out.returncode}): {out.stderr}")
    return dict(json.loads(out.stdout))
