"""Exponential backoff, the one formula every retry here uses: base, twice that, four times ...
up to a cap."""

from __future__ import annotations

from collections.abc import Iterator


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """The delay before retry number ``attempt`` (0 for the first)."""
    return min(cap, base * 2.0 ** min(attempt, 30))


def backoff_delays(base: float, cap: float) -> Iterator[float]:
    attempt = 0
    while True:
        yield backoff_delay(attempt, base, cap)
        attempt += 1
