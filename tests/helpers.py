"""Helpers for tests that drive the real API server: bounded waits, never bare sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.25,
               what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for condition in obj.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            return condition
    return None


def reconciled(obj: dict[str, Any]) -> bool:
    """The operator has acted on the current generation (Ready may be True or False)."""
    status = obj.get("status", {})
    condition = ready_condition(obj)
    return (status.get("observedGeneration") == obj["metadata"]["generation"] and condition is not None
            and condition.get("observedGeneration") == obj["metadata"]["generation"])
