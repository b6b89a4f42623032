"""When each ConsumerApp's lag is collected (pure).

Polls are aligned to multiples of the poll interval on the clock (Prometheus aligns scrapes the
same way): an app polled at any time within one interval is due again at the start of the next,
so every app with the same interval lands in the same collection, however its first poll fell
(apps handed over one by one at start-up join the others after one interval). A collection that
outlasts the interval does not queue the missed ones: the app is due once, and the delay (how
long past its due time its collection began) says how far behind the loop is.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Schedule(Generic[K]):
    due: list[K]  # collect these now, together
    delay: float  # seconds the most overdue of them has waited past its due time (0: on time)
    next_at: float | None  # when the next app becomes due; None: no app is waiting


def due_at(polled: float, interval: float) -> float:
    """The start of the interval after the one ``polled`` fell in."""
    return (math.floor(polled / interval) + 1) * interval


def schedule(intervals: Mapping[K, float], polled: Mapping[K, float], now: float) -> Schedule[K]:
    """Which apps to collect at ``now``: every app never polled, and every app whose next aligned
    poll time has come."""
    due: list[K] = []
    delay = 0.0
    next_at: float | None = None
    for key, interval in intervals.items():
        last = polled.get(key)
        if last is None:
            due.append(key)
            continue
        when = due_at(last, interval)
        if when <= now:
            due.append(key)
            delay = max(delay, now - when)
        elif next_at is None or when < next_at:
            next_at = when
    return Schedule(due, delay, next_at)
