"""Which ConsumerApp status changes are worth a write (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields that move with every poll while a group is behind: written at most this often (decisions,
# conditions and a lag reaching or leaving zero are written at once). 500 apps patching status
# every poll cost the API server and the operator more than the lag collection itself.
LAG_FIELDS = frozenset({"totalLag", "lagSeconds"})
LAG_STATUS_INTERVAL = 15.0


def status_write_due(status: Mapping[str, Any], changes: Mapping[str, Any], last_written: float | None,
                     now: float) -> bool:
    if not set(changes) <= LAG_FIELDS or last_written is None or now - last_written >= LAG_STATUS_INTERVAL:
        return True
    return "totalLag" in changes and (status.get("totalLag") == 0) != (changes["totalLag"] == 0)
