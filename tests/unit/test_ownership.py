"""Who may act on a topic: annotations and the oldest-claim-wins rule."""

from __future__ import annotations

import pytest

from kafkaops.topics.ownership import Claim, hold, is_paused, is_unmanaged, owner

pytestmark = pytest.mark.unit

OLD = Claim("2026-01-01T00:00:00Z", "team-a", "events", uid="u-old")
NEW = Claim("2026-02-01T00:00:00Z", "team-b", "events", uid="u-new")


def test_oldest_claim_owns_and_ties_break_by_namespace_then_name():
    assert owner([NEW, OLD]) == OLD
    same_second = Claim(OLD.created, "team-0", "x", uid="u-tie")
    assert owner([OLD, same_second]) == same_second
    assert owner([]) is None


def test_the_owner_is_not_held():
    assert hold({}, "events", OLD, [OLD, NEW]) is None


def test_a_younger_claim_is_held_with_conflict_naming_the_owner():
    held = hold({}, "events", NEW, [OLD, NEW])
    assert held is not None and held.reason == "Conflict" and held.ready is False
    assert "team-a/events" in held.message


@pytest.mark.parametrize(("annotations", "reason", "ready"), [
    ({"kafkaops.io/managed": "false"}, "Unmanaged", True),
    ({"kafkaops.io/managed": "False"}, "Unmanaged", True),
    ({"kafkaops.io/paused": "true"}, "Paused", None),
    ({"kafkaops.io/paused": "true", "kafkaops.io/managed": "false"}, "Unmanaged", True),
])
def test_annotations_hold_before_ownership(annotations, reason, ready):
    held = hold(annotations, "events", NEW, [OLD, NEW])
    assert held is not None and (held.reason, held.ready) == (reason, ready)


@pytest.mark.parametrize("value", ["yes", "1", "", "maybe"])
def test_only_the_documented_values_count(value):
    assert not is_paused({"kafkaops.io/paused": value})
    assert not is_unmanaged({"kafkaops.io/managed": value})
