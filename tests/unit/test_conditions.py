from __future__ import annotations

import pytest

from kafkaops.conditions import find_condition, set_condition

pytestmark = pytest.mark.unit


def test_transition_time_moves_only_when_status_flips():
    first = set_condition([], type_="Ready", status=False, reason="BrokerUnavailable", message="down",
                          generation=1, now="2026-01-01T00:00:00Z")
    same = set_condition(first, type_="Ready", status=False, reason="InvalidConfig", message="bad",
                         generation=2, now="2026-01-02T00:00:00Z")
    flipped = set_condition(same, type_="Ready", status=True, reason="Created", message="ok",
                            generation=2, now="2026-01-03T00:00:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["reason"] == "InvalidConfig" and same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"
    assert flipped[0]["status"] == "True"


def test_other_conditions_are_kept_in_place():
    conditions = [{"type": "A", "status": "True"}, {"type": "Ready", "status": "False"}, {"type": "B"}]
    updated = set_condition(conditions, type_="Ready", status=True, reason="R", message="m", generation=None)
    assert [c["type"] for c in updated] == ["A", "Ready", "B"]
    assert "observedGeneration" not in find_condition(updated, "Ready")
    assert conditions[1]["status"] == "False"  # input untouched
