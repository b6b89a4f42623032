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


def status_write_due(status: Mapping[str, Any], changes: Mapping[str, Any], last_written: float | None,
                     now: float) -> bool:
    if not set(changes) <= LAG_FIELDS or last_written is None:
        return True
    if "totalLag" in changes and (status.get("totalLag") == 0) != (changes["totalLag"] == 0):
        return True
    age = now - last_written
    if age >= LAG_STATUS_MAX_AGE:
        return True
    return age >= LAG_STATUS_INTERVAL and any(_moved(status.get(name), value, LAG_STATUS_CHANGE[name])
                                              for name, value in changes.items())


def _moved(old: Any, new: Any, share: float) -> bool:
    """By ``share`` of the last written value (any move from nothing or from zero)."""
    if not old:
        return True
    return abs(new - old) >= share * abs(old)
