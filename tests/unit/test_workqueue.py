"""The work queue's guarantees (coalescing, one worker per key, backoff) and the start-up
bookkeeping, with real asyncio tasks."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.changes import wants_reconcile
from kafkaops.workqueue import StartupProgress, WorkQueue

pytestmark = pytest.mark.unit


def test_a_key_added_many_times_is_processed_once():
    async def scenario():
        queue = WorkQueue("t")
        seen = []

        async def process(key):
            seen.append(key)

        for _ in range(5):
            queue.add("a")
        queue.add("b")
        runner = asyncio.create_task(queue.run(3, process))
        await asyncio.sleep(0.05)
        runner.cancel()
        return seen

    assert sorted(asyncio.run(scenario())) == ["a", "b"]


def test_a_key_is_never_processed_by_two_workers_and_a_change_meanwhile_is_not_lost():
    async def scenario():
        queue = WorkQueue("t")
        active, overlaps, runs = set(), [], []

        async def process(key):
            if key in active:
                overlaps.append(key)
            active.add(key)
            runs.append(key)
            if len(runs) == 1:
                queue.add(key)  # an event arrives while the first run is in progress
            await asyncio.sleep(0.01)
            active.discard(key)

        queue.add("a")
        runner = asyncio.create_task(queue.run(4, process))
        await asyncio.sleep(0.1)
        runner.cancel()
        return overlaps, runs

    overlaps, runs = asyncio.run(scenario())
    assert overlaps == [] and runs == ["a", "a"]


def test_failures_back_off_exponentially_up_to_the_maximum_and_forget_resets():
    async def scenario():
        queue = WorkQueue("t", base_delay=1.0, max_delay=8.0)
        delays = [queue.add_rate_limited("a") for _ in range(6)]
        queue.forget("a")
        delays.append(queue.retry_delay("a"))
        queue.discard("a")
        return delays

    assert asyncio.run(scenario()) == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 1.0]


def test_an_exception_in_process_is_retried_with_backoff():
    async def scenario():
        queue = WorkQueue("t", base_delay=0.01)
        calls = []

        async def process(key):
            calls.append(key)
            if len(calls) == 1:
                raise RuntimeError("boom")

        queue.add("a")
        runner = asyncio.create_task(queue.run(1, process))
        await asyncio.sleep(0.2)
        runner.cancel()
        return calls

    assert asyncio.run(scenario()) == ["a", "a"]


def test_stalled_only_when_keys_wait_and_nothing_finishes():
    now = [100.0]
    async def scenario():
        queue = WorkQueue("t", clock=lambda: now[0])
        assert queue.stalled(30) is None
        queue.add("a")
        now[0] += 31
        assert queue.stalled(60) is None
        return queue.stalled(30)

    problem = asyncio.run(scenario())
    assert problem is not None and "stalled" in problem and "1 key(s)" in problem


def test_startup_progress_counts_only_what_was_listed():
    progress = StartupProgress("KafkaTopic", 0.0)
    progress.seen(("ns", "early"))  # an event can come before the listing
    progress.handled(("ns", "early"))
    assert not progress.synced and not progress.rechecked
    progress.listed({("ns", "early"), ("ns", "a"), ("ns", "b")})
    assert not progress.synced and progress.pending == 2
    progress.seen(("ns", "a"))
    progress.gone(("ns", "b"))  # deleted before it was handled
    progress.seen(("ns", "later"))  # created after start: does not count
    assert progress.synced and not progress.rechecked
    progress.handled(("ns", "a"))
    assert progress.rechecked and progress.total == 3


def obj(generation=1, observed=1, annotations=None, deleting=False, finalizers=None):
    meta = {"generation": generation, "annotations": annotations or {}, "finalizers": finalizers or []}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"observedGeneration": observed}}


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, obj(), True),  # new to us (the start-up listing too)
    (obj(), obj(), False),  # our own status write coming back, or a resync of the watch
    (obj(), obj(generation=2), True),  # a spec change
    (obj(), obj(observed=None), True),  # status cleared by someone
    (obj(), obj(annotations={"kafkaops.io/paused": "true"}), True),
    (obj(), obj(annotations={"team": "x"}), False),  # not ours
    (obj(), obj(deleting=True), True),
    (obj(), obj(finalizers=["kafkaops.io/topic-deletion"]), True),
])
def test_which_events_enqueue_a_reconcile(old, new, expected):
    assert wants_reconcile(old, new) is expected
