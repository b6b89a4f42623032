"""Request coalescing: concurrent callers submit single items; after a short linger (or when
the batch is full) they go out as one admin request, and each caller gets its own result.

A batch is bounded by weight (for topic creation: metadata records, since a KRaft controller
takes at most 10,000 per request) and by item count. One caller's failure never fails the
others: the send function returns a result or an exception per item.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from kafkaops.metrics import ADMIN_BATCH_SIZE, ADMIN_REQUEST_SECONDS

Item = TypeVar("Item")
Result = TypeVar("Result")
SendBatch = Callable[[Sequence[Item]], Awaitable[Sequence[Result | BaseException]]]


class Batcher(Generic[Item, Result]):
    def __init__(self, operation: str, send: SendBatch[Item, Result], *, linger: float,
                 max_weight: int = 10_000, max_items: int = 1_000,
                 weigh: Callable[[Item], int] = lambda _item: 1) -> None:
        self.operation = operation
        self._send = send
        self._linger = linger
        self._max_weight = max_weight
        self._max_items = max_items
        self._weigh = weigh
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._weight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        weight = self._weigh(item)
        if self._pending and self._weight + weight > self._max_weight:
            self._flush()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        self._weight += weight
        if self._weight >= self._max_weight or len(self._pending) >= self._max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._linger, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending, self._weight = self._pending, [], 0
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        ADMIN_BATCH_SIZE.labels(self.operation).observe(len(batch))
        started = time.perf_counter()
        try:
            results: Sequence[Result | BaseException] = await self._send([item for item, _ in batch])
        except Exception as error:  # the whole request failed: every caller learns why
            results = [error] * len(batch)
        finally:
            ADMIN_REQUEST_SECONDS.labels(self.operation).observe(time.perf_counter() - started)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the caller was cancelled meanwhile
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
