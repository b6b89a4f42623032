"""Prometheus's ``promtool``, so the chart's alert rules are checked (``promtool check rules``, ``promtool
test rules``) by the real parser and rule evaluator: taken from Debian's ``prometheus`` package (2.42 on
bookworm) into ``<cache>/promtool/debian-<version>/bin``. Building ``cmd/promtool`` from the Go module proxy
instead took 291 s of a cold CI run on 2 cores; the download and unpacking take seconds. The rules and their
tests use nothing 2.42 lacks (the integration tests run them)."""

from __future__ import annotations

import time
from pathlib import Path

from kafkaops.harness.debian import deb_version, download_deb, extract_member
from kafkaops.harness.procs import cache_root, progress


def ensure_promtool() -> Path:
    """The cached promtool, fetched from Debian when missing; return its path."""
    root = cache_root() / "promtool"
    cached = sorted(root.glob("debian-*/bin/promtool"))
    if cached:
        return cached[-1]
    started = time.monotonic()
    log = root / "fetch.log"
    deb = download_deb("prometheus", root / "debs", log)
    target = extract_member(deb, "usr/bin/promtool", root / f"debian-{deb_version(deb)}" / "bin" / "promtool")
    deb.unlink()
    progress(f"promtool {deb_version(deb)} from Debian's prometheus package in {time.monotonic() - started:.0f}s")
    return target
