"""Kubernetes Events, posted directly. kopf.event only works inside kopf's handler context,
and the drift and scaler loops run outside it.

An Event identical to one this process posted a little earlier (same object, type, reason and
message) is not posted again: the existing Event's ``count`` and ``lastTimestamp`` are patched, as
client-go's EventCorrelator does, so a flapping condition is one line in ``kubectl events`` with a
count, not a page of copies.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.conditions import utc_now
from kafkaops.kube import api

log = logging.getLogger(__name__)
MAX_MESSAGE = 1024
# client-go's EventCorrelator: an LRU of 4096 events, similar events aggregated within 10 minutes.
REMEMBERED_EVENTS = 4096
AGGREGATION_WINDOW_SECONDS = 600.0

EventKey = tuple[str, str, str, str, str, str, str]  # namespace, kind, name, uid, type, reason, message


@dataclass
class Posted:
    name: str  # of the Event object
    count: int
    last: float  # when it last occurred (monotonic seconds)


class EventCorrelator:
    """Which recent Event an identical one should be folded into; bounded in memory (least
    recently seen forgotten first)."""

    def __init__(self, size: int = REMEMBERED_EVENTS, window: float = AGGREGATION_WINDOW_SECONDS) -> None:
        self.size, self.window = size, window
        self.posted: OrderedDict[EventKey, Posted] = OrderedDict()

    def existing(self, key: EventKey, now: float) -> Posted | None:
        """The Event to patch instead of creating one, or None."""
        posted = self.posted.get(key)
        if posted is None or now - posted.last > self.window:
            return None
        return posted

    def remember(self, key: EventKey, name: str, count: int, now: float) -> None:
        self.posted[key] = Posted(name, count, now)
        self.posted.move_to_end(key)
        while len(self.posted) > self.size:
            self.posted.popitem(last=False)


CORRELATOR = EventCorrelator()


async def post_event(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:  # noqa: A002
    """Best effort: a failed Event is logged, never allowed to fail a reconciliation."""
    meta = body["metadata"]
    message = message[:MAX_MESSAGE]
    # A cluster-scoped object's Events live in "default", as kubectl describe looks for them.
    namespace = meta.get("namespace") or "default"
    key = (namespace, body["kind"], meta["name"], str(meta.get("uid")), type, reason, message)
    clock = time.monotonic()
    try:
        posted = CORRELATOR.existing(key, clock)
        if posted is not None and await _bump(namespace, posted):
            CORRELATOR.remember(key, posted.name, posted.count + 1, clock)
            return
        name = await _create(body, namespace, type=type, reason=reason, message=message)
        CORRELATOR.remember(key, name, 1, clock)
    except Exception as error:  # Events are informational; the status already says it
        if api.is_namespace_terminating(error):
            log.info("event %s for %s/%s not posted: the namespace is terminating", reason, namespace,
                     meta["name"])
            return
        log.warning("could not post event %s for %s/%s: %s", reason, namespace, meta["name"], error)


async def _create(body: Mapping[str, Any], namespace: str, *, type: str, reason: str,  # noqa: A002
                  message: str) -> str:
    meta = body["metadata"]
    now = utc_now()
    involved = {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": meta["name"], "uid": meta.get("uid")}
    if meta.get("namespace"):
        involved["namespace"] = meta["namespace"]
    name = f"{meta['name']}.{time.time_ns():x}"  # client-go's naming: the object's name and the time
    event = {
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved,
        "type": type, "reason": reason, "message": message,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "source": {"component": "kafkaops"}, "reportingComponent": "kafkaops",
        "reportingInstance": socket.gethostname(),
    }
    api.drained(await api.write(api.core().create_namespaced_event, namespace, event, _preload_content=False))
    return name


async def _bump(namespace: str, posted: Posted) -> bool:
    """Count one more occurrence on the existing Event; False when it is gone (the API server
    expires Events after an hour), so a new one is created."""
    patch = {"count": posted.count + 1, "lastTimestamp": utc_now()}
    try:
        api.drained(await api.write(api.core().patch_namespaced_event, posted.name, namespace, patch,
                                    _preload_content=False))
    except api.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
