"""The coalescing logic, with a plain in-memory send function (no Kafka involved)."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.kafka.batching import Batcher

pytestmark = pytest.mark.unit


def run(coro):
    return asyncio.run(coro)


def test_concurrent_submissions_share_one_batch_and_get_their_own_results():
    batches = []

    async def send(items):
        batches.append(list(items))
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    async def scenario():
        batcher = Batcher("op", send, linger=0.01)
        return await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)

    results = run(scenario())
    assert batches == [[0, 1, 2, 3, 4]]
    assert results[:3] == [0, 10, 20] and results[4] == 40
    assert isinstance(results[3], ValueError)


def test_batches_are_cut_by_weight_before_exceeding_it():
    batches = []

    async def send(items):
        batches.append(list(items))
        return list(items)

    async def scenario():
        batcher = Batcher("op", send, linger=0.01, max_weight=10, weigh=lambda w: w)
        return await asyncio.gather(*(batcher.submit(w) for w in [4, 4, 4, 12, 1]))

    assert run(scenario()) == [4, 4, 4, 12, 1]
    assert batches == [[4, 4], [4], [12], [1]]
    assert all(sum(b) <= 10 for b in batches if len(b) > 1)


def test_batches_are_cut_by_item_count():
    sizes = []

    async def send(items):
        sizes.append(len(items))
        return list(items)

    async def scenario():
        batcher = Batcher("op", send, linger=0.01, max_items=3)
        await asyncio.gather(*(batcher.submit(i) for i in range(7)))

    run(scenario())
    assert sizes == [3, 3, 1]


def test_a_failed_request_fails_every_caller_of_that_batch_only():
    async def send(items):
        if 0 in items:
            raise ConnectionError("down")
        return list(items)

    async def scenario():
        batcher = Batcher("op", send, linger=0.01, max_items=2)
        return await asyncio.gather(*(batcher.submit(i) for i in range(4)), return_exceptions=True)

    results = run(scenario())
    assert all(isinstance(r, ConnectionError) for r in results[:2])
    assert results[2:] == [2, 3]


def test_items_arriving_during_a_request_leave_together_in_the_next_one():
    batches = []
    release = None

    async def send(items):
        batches.append(list(items))
        if len(batches) == 1:
            await release.wait()  # the first request is slow
        return list(items)

    async def scenario():
        nonlocal release
        release = asyncio.Event()
        batcher = Batcher("op", send, linger=0.01)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # the first request is in flight now
        later = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        assert len(batches) == 1  # nothing else was sent while it ran
        release.set()
        return await asyncio.gather(first, *later)

    assert run(scenario()) == [0, 1, 2, 3, 4, 5]
    assert batches == [[0], [1, 2, 3, 4, 5]]
