"""A keyed work queue, as controller-runtime's (client-go's ``workqueue``) has it.

Watch events and the periodic resync only *enqueue a key*; workers take keys and reconcile the
latest state of that object. The queue guarantees what a level-triggered controller relies on:

- a key is queued at most once, however many events arrive for it (they coalesce);
- a key is never processed by two workers at once: added while in progress, it is marked dirty
  and queued again when the worker is done;
- failures come back after a per-key exponential backoff, reset by ``forget`` on success.

It also knows how long the oldest key has waited, which is what a liveness check needs to tell a
working operator from a wedged one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kafkaops.backoff import backoff_delay

K = TypeVar("K", bound=Hashable)
log = logging.getLogger(__name__)


class WorkQueue(Generic[K]):
    def __init__(self, name: str, *, base_delay: float = 1.0, max_delay: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.base_delay, self.max_delay = base_delay, max_delay
        self._clock = clock
        self._ready: asyncio.Queue[K] = asyncio.Queue()
        self._queued: dict[K, float] = {}  # key -> when it was queued (insertion-ordered: oldest first)
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self.last_done = clock()

    def add(self, key: K) -> None:
        if key in self._processing:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued[key] = self._clock()
            self._ready.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds (an earlier pending retry is kept)."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        pending = self._timers.get(key)
        if pending is not None and pending.when() <= loop.time() + delay:
            return
        if pending is not None:
            pending.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def retry_delay(self, key: K) -> float:
        """The next backoff of ``key``: base, twice that, four times … up to the maximum."""
        return backoff_delay(self._failures.get(key, 0), self.base_delay, self.max_delay)

    def add_rate_limited(self, key: K) -> float:
        delay = self.retry_delay(key)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded (or is gone): its backoff starts again from the base."""
        self._failures.pop(key, None)

    def discard(self, key: K) -> None:
        """The object is gone: drop its pending retry and backoff (a queued key stays and is
        then found gone by the worker)."""
        self.forget(key)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def __len__(self) -> int:
        return len(self._queued)

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting queued key has waited (0 when empty)."""
        first = next(iter(self._queued.values()), None)
        return 0.0 if first is None else self._clock() - first

    def stalled(self, bound: float) -> str | None:
        """A problem in words when keys wait longer than ``bound`` and no key was finished in that
        time either (slow but moving is not stalled)."""
        waited = self.oldest_wait()
        idle = self._clock() - self.last_done
        if waited > bound and idle > bound:
            return (f"{self.name} queue stalled: {len(self)} key(s) waiting, the oldest for {waited:.0f}s, "
                    f"none finished for {idle:.0f}s")
        return None

    async def _get(self) -> K:
        key = await self._ready.get()
        del self._queued[key]
        self._processing.add(key)
        return key

    def _done(self, key: K) -> None:
        self._processing.discard(key)
        self.last_done = self._clock()
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    async def run(self, workers: int, process: Callable[[K], Awaitable[None]]) -> None:
        """Process keys with ``workers`` concurrent workers until cancelled. ``process`` decides
        itself whether to re-queue; an exception it raises is logged and retried with backoff."""

        async def worker() -> None:
            while True:
                key = await self._get()
                try:
                    await process(key)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    delay = self.add_rate_limited(key)
                    log.exception("%s %s failed; retrying in %.0fs", self.name, key, delay)
                finally:
                    self._done(key)

        await asyncio.gather(*(worker() for _ in range(workers)))


class StartupProgress(Generic[K]):
    """What the operator found when it started, and how much of it it has seen and handled: the
    readiness signal (everything listed is in the cache) and the "re-checked" signal (everything
    listed was reconciled once) after a restart. Keys created later do not count; deleted ones
    stop counting."""

    def __init__(self, kind: str, started: float) -> None:
        self.kind, self.started = kind, started
        self._unseen: set[K] | None = None  # None until the start-up listing is known
        self._unhandled: set[K] = set()
        self._seen: set[K] = set()
        self._handled: set[K] = set()
        self.total = 0

    def listed(self, keys: set[K]) -> None:
        self.total = len(keys)
        self._unseen = keys - self._seen
        self._unhandled = keys - self._handled
        self._seen.clear()
        self._handled.clear()

    def seen(self, key: K) -> None:
        if self._unseen is None:
            self._seen.add(key)
        else:
            self._unseen.discard(key)

    def handled(self, key: K) -> None:
        if self._unseen is None:
            self._handled.add(key)
        else:
            self._unhandled.discard(key)

    def gone(self, key: K) -> None:
        self.seen(key)
        self.handled(key)

    @property
    def synced(self) -> bool:
        return self._unseen is not None and not self._unseen

    @property
    def rechecked(self) -> bool:
        return self._unseen is not None and not self._unhandled

    @property
    def pending(self) -> int:
        return len(self._unhandled)
