"""Which ConsumerApp status changes are worth a write (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields that move with every poll while a group is behind: written at most every
# LAG_STATUS_INTERVAL, and then only when one moved by its share in LAG_STATUS_CHANGE of the last
# written value, or the last write is LAG_STATUS_MAX_AGE old (decisions, conditions and a lag
# reaching or leaving zero are written at once). 500 apps patching status every poll cost the API
# server and the operator more than the lag collection itself; at 5,000 apps behind, a write per app
# every 15 s was 330 patches a second, most of them a lagSeconds that grew with the clock, and with
# a tenth for lagSeconds too every cycle of bench/lag.py still wrote all 5,000 (a standing backlog's
# lagSeconds grows by the cycle's length). The exact figures are in the metrics at every scrape.
LAG_FIELDS = frozenset({"totalLag", "lagSeconds"})
LAG_STATUS_INTERVAL = 15.0
LAG_STATUS_CHANGE = {"totalLag": 0.1, "lagSeconds": 0.5}
LAG_STATUS_MAX_AGE = 600.0
# A group whose offsets have not moved since its status was written (nothing produced, nothing consumed)
# has only a lagSeconds that grows with the clock: rewritten at LAG_STATUS_FROZEN_MAX_AGE alone, not at
# every half nor every ten minutes. In a settled bench/lag.py run of 5,000 apps with a standing backlog,
# each app was written again whenever its lagSeconds grew by half and then every ten minutes: up to
# 756 patches in one cycle with nothing produced or consumed.
LAG_STATUS_FROZEN_MAX_AGE = 3600.0


def status_write_due(status: Mapping[str, Any], changes: Mapping[str, Any], last_written: float | None,
                     now: float, moved: bool = True) -> bool:
    """Whether ``changes`` are worth a status write now; ``moved``: the group's log ends or committed
    offsets moved since ``last_written``."""
    if not set(changes) <= LAG_FIELDS or last_written is None:
        return True
    if "totalLag" in changes and (status.get("totalLag") == 0) != (changes["totalLag"] == 0):
        return True
    age = now - last_written
    if not moved:
        return age >= LAG_STATUS_FROZEN_MAX_AGE
    if age >= LAG_STATUS_MAX_AGE:
        return True
    return age >= LAG_STATUS_INTERVAL and any(_moved(status.get(name), value, LAG_STATUS_CHANGE[name])
                                              for name, value in changes.items())


def _moved(old: Any, new: Any, share: float) -> bool:
    """By ``share`` of the last written value (any move from nothing or from zero)."""
    if not old:
        return True
    return abs(new - old) >= share * abs(old)
