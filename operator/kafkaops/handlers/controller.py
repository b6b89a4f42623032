"""What both controllers share: a cache of their objects fed by kopf's watch events, a keyed
work queue, and the start-up bookkeeping (listed, seen, re-checked).

No kopf indexes: an index makes every kopf worker wait until all objects are indexed, which
deadlocks start-up when more objects exist than workers (kopf issue 1243) and is quadratic in
the object count without a limit. kopf's per-object workers here only copy an event into the
cache and enqueue a key, which never waits for anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from kafkaops.backoff import backoff_delays
from kafkaops.changes import wants_reconcile
from kafkaops.kube import api
from kafkaops.metrics import STARTUP_RECHECK, WORKQUEUE_DEPTH, WORKQUEUE_OLDEST
from kafkaops.workqueue import StartupProgress, WorkQueue

Key = tuple[str, str]
T = TypeVar("T")
log = logging.getLogger(__name__)


async def retried(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Until it works, with backoff: the API server may be restarting; readiness waits meanwhile."""
    delays = backoff_delays(1.0, 30.0)
    while True:
        try:
            return await attempt()
        except Exception as error:
            delay = next(delays)
            log.warning("%s failed (%s); again in %.0fs", what, error, delay)
            await asyncio.sleep(delay)


def key_of(body: Any) -> Key:
    """(namespace, name); a cluster-scoped object's namespace is ``""``."""
    return str(body["metadata"].get("namespace") or ""), str(body["metadata"]["name"])


class Controller:
    def __init__(self, kind: str, plural: str, workers: int) -> None:
        self.kind, self.plural, self.workers = kind, plural, workers
        self.bodies: dict[Key, dict[str, Any]] = {}
        self.queue: WorkQueue[Key] = WorkQueue(kind)
        self.started = time.monotonic()
        self.progress: StartupProgress[Key] = StartupProgress(kind, self.started)
        self._reported = False
        self.rechecked = asyncio.Event()  # every object listed at start was handled once
        WORKQUEUE_DEPTH.labels(kind).set_function(lambda: len(self.queue))
        WORKQUEUE_OLDEST.labels(kind).set_function(self.queue.oldest_wait)

    def observe(self, event_type: str | None, slim: dict[str, Any]) -> dict[str, Any] | None:
        """Keep the cache current; enqueue when the change is worth a reconcile. Returns the
        previous cached body."""
        key = key_of(slim)
        self.progress.seen(key)
        if event_type == "DELETED":
            self.queue.discard(key)
            self.progress.gone(key)
            self._report()
            return self.bodies.pop(key, None)
        old = self.bodies.get(key)
        self.bodies[key] = slim
        if wants_reconcile(old, slim):
            self.queue.add(key)
        return old

    def expected_refusal(self, key: Key, error: api.ApiException) -> bool:
        """Refusals not worth a retry: the object is gone (its DELETED event cleans the cache), or its
        namespace is terminating (403 NamespaceTerminating: one INFO line, not an error)."""
        if api.is_namespace_terminating(error):
            log.info("%s %s/%s: not written, its namespace is terminating", self.kind, *key)
            return True
        return error.status == 404

    async def act(self, key: Key, body: dict[str, Any]) -> None:
        """Finalize an object being deleted, else reconcile it. A stale cached copy (409 on a conditional
        write) is tried again with backoff; a gone object or a terminating namespace is no error."""
        try:
            if body["metadata"].get("deletionTimestamp"):
                await self.finalize(key, body)
            else:
                await self.reconcile(key, body)
        except api.ApiException as error:
            if self.expected_refusal(key, error):
                return
            if error.status == 409:
                self.queue.add_rate_limited(key)
                return
            raise

    async def reconcile(self, key: Key, body: dict[str, Any]) -> None:
        raise NotImplementedError

    async def finalize(self, key: Key, body: dict[str, Any]) -> None:
        raise NotImplementedError

    async def set_finalizers(self, key: Key, body: dict[str, Any], finalizers: list[str]) -> None:
        """Conditional on the cached resourceVersion: a stale cache gets 409 (and a retry), never
        overwrites someone else's finalizer."""
        meta = body["metadata"]
        await api.patch_metadata(self.plural, *key, {"finalizers": finalizers,
                                                     "resourceVersion": meta.get("resourceVersion")})
        meta["finalizers"] = finalizers

    def merge_status(self, key: Key, changes: dict[str, Any]) -> None:
        """What we just wrote, into the cache at once: the next reconcile must not act on the
        status from before its own write because the watch event has not arrived yet."""
        body = self.bodies.get(key)
        if body is not None:
            body["status"] = {**(body.get("status") or {}), **changes}

    async def list_at_start(self, namespaces: Iterable[str]) -> None:
        """The objects that exist now: readiness waits until all are cached, the re-check signal
        until all were reconciled once."""
        keys = await retried(f"start-up listing of {self.kind}s", lambda: self.list_keys(namespaces))
        self.progress.listed(keys)
        log.info("start-up: %d %s(s) to re-check", len(keys), self.kind)
        self._report()

    async def list_keys(self, namespaces: Iterable[str] = ()) -> set[Key]:
        return await api.list_keys(self.plural, namespaces)

    def _report(self) -> None:
        if not self._reported and self.progress.rechecked:
            self._reported = True
            self.rechecked.set()
            seconds = time.monotonic() - self.started
            STARTUP_RECHECK.labels(self.kind).set(round(seconds, 2))
            log.info("start-up re-check done: %d %s(s) in %.1fs", self.progress.total, self.kind, seconds)

    async def slow_start_warnings(self, every: float = 30.0) -> None:
        """A clear line while start-up is slow, instead of silence."""
        while not self.progress.rechecked:
            await asyncio.sleep(every)
            if not self.progress.rechecked:
                log.warning("start-up still re-checking %s: %d of %d pending after %.0fs (queue %d)", self.kind,
                            self.progress.pending, self.progress.total, time.monotonic() - self.started,
                            len(self.queue))

    async def run(self, process: Callable[[Key], Awaitable[None]]) -> None:
        async def handle(key: Key) -> None:
            try:
                await process(key)
            finally:
                self.progress.handled(key)
                self._report()

        await self.queue.run(self.workers, handle)
