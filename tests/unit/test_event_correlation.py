"""Identical Events are folded into one (client-go's EventCorrelator), within a window, in bounded memory."""

from __future__ import annotations

import pytest

from kafkaops.kube.events import EventCorrelator

pytestmark = pytest.mark.unit

KEY = ("ns", "KafkaTopic", "t", "uid-1", "Normal", "ConfigChanged", "topic 't': config a: '1' -> '2'")


@pytest.mark.parametrize(("remembered_at", "asked_at", "folded"), [
    (100.0, 100.0, True),
    (100.0, 699.0, True),  # within the 600 s window
    (100.0, 701.0, False),  # past it: a new Event
])
def test_an_identical_event_is_folded_within_the_window(remembered_at, asked_at, folded):
    correlator = EventCorrelator(size=10, window=600.0)
    correlator.remember(KEY, "t.17", 1, remembered_at)
    posted = correlator.existing(KEY, asked_at)
    assert (posted is not None) == folded
    if folded:
        assert (posted.name, posted.count) == ("t.17", 1)


@pytest.mark.parametrize("differs", [0, 3, 4, 5, 6])  # namespace, uid, type, reason, message
def test_an_event_that_differs_in_anything_is_not_folded(differs):
    correlator = EventCorrelator(size=10, window=600.0)
    correlator.remember(KEY, "t.17", 1, 0.0)
    other = tuple("other" if i == differs else part for i, part in enumerate(KEY))
    assert correlator.existing(other, 1.0) is None


def test_memory_is_bounded_and_the_least_recently_seen_goes_first():
    correlator = EventCorrelator(size=2, window=600.0)
    first, second, third = ((*KEY[:-1], f"m{i}") for i in range(3))
    correlator.remember(first, "a", 1, 0.0)
    correlator.remember(second, "b", 1, 1.0)
    correlator.remember(first, "a", 2, 2.0)  # seen again: now the most recent
    correlator.remember(third, "c", 1, 3.0)
    assert len(correlator.posted) == 2
    assert correlator.existing(second, 4.0) is None
    assert correlator.existing(first, 4.0).count == 2
