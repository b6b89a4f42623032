"""Kubernetes Events, posted directly. kopf.event only works inside kopf's handler context,
and the drift and scaler loops run outside it."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

from kafkaops.conditions import utc_now
from kafkaops.kube import api

log = logging.getLogger(__name__)
MAX_MESSAGE = 1024


async def post_event(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:  # noqa: A002
    """Best effort: a failed Event is logged, never allowed to fail a reconciliation."""
    meta = body["metadata"]
    now = utc_now()
    # A cluster-scoped object's Events live in "default", as kubectl describe looks for them.
    namespace = meta.get("namespace") or "default"
    involved = {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": meta["name"], "uid": meta.get("uid")}
    if meta.get("namespace"):
        involved["namespace"] = meta["namespace"]
    event = {
        "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
        "involvedObject": involved,
        "type": type, "reason": reason, "message": message[:MAX_MESSAGE],
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        "source": {"component": "kafkaops"}, "reportingComponent": "kafkaops",
        "reportingInstance": socket.gethostname(),
    }
    try:
        api.drained(await api.write(api.core().create_namespaced_event, namespace, event,
                                           _preload_content=False))
    except Exception as error:  # Events are informational; the status already says it
        if api.is_namespace_terminating(error):
            log.info("event %s for %s/%s not posted: the namespace is terminating", reason, namespace,
                     meta["name"])
            return
        log.warning("could not post event %s for %s/%s: %s", reason, namespace, meta["name"], error)
