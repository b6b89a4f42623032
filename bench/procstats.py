"""What the benchmarks read of a process from /proc: its CPU time and its peak RSS."""

from __future__ import annotations

import os
import time
from pathlib import Path


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pids: list[int], limit: float = 0.2, timeout: float = 180) -> None:
    """Until these processes together use less than ``limit`` cores for 2 s. A broker keeps working
    for seconds after thousands of partitions were created; without this, whichever side runs
    second pays for the first one's leftovers."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 4:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.5)
        quiet = quiet + 1 if (sum(cpu_seconds(p) for p in pids) - before) / 0.5 < limit else 0
