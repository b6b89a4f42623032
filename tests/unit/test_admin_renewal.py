"""When a librdkafka admin handle that keeps failing is replaced (table test of the decision)."""

from __future__ import annotations

import pytest

from kafkaops.kafka.admin import Renewal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("events", "replaced_at"), [
    ([("fail", 0), ("fail", 10), ("fail", 29)], []),  # failing, but not for a whole window yet
    ([("fail", 0), ("fail", 10), ("fail", 30)], [30]),  # a whole window of failures: replace
    ([("fail", 0), ("ok", 20), ("fail", 25), ("fail", 50)], []),  # a success starts the window again
    ([("fail", 0), ("fail", 30), ("fail", 40), ("fail", 60), ("fail", 70)], [30, 70]),  # still down: once a window
])
def test_a_handle_is_replaced_after_a_window_of_nothing_but_failures(events, replaced_at):
    renewal, replaced = Renewal(after=30), []
    for kind, now in events:
        if kind == "ok":
            renewal.succeeded()
        elif renewal.failed(now):
            replaced.append(now)
    assert replaced == replaced_at
