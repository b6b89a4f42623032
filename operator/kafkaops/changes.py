"""Which watch events are worth a reconcile (pure), controller-runtime's predicates.

Every event updates the cache, but only these enqueue the object: new to us, a new generation
(a spec change), our annotations, a deletion starting, finalizers changing, or a status that no
longer says the current generation was handled (someone cleared it). The operator's own status
writes come back as watch events too; without this filter each would cost another reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WATCHED_ANNOTATIONS_PREFIX = "kafkaops.io/"


def _our_annotations(body: Mapping[str, Any]) -> dict[str, str]:
    annotations = body["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith(WATCHED_ANNOTATIONS_PREFIX)}


def handled(body: Mapping[str, Any]) -> bool:
    """The status says the current generation was handled."""
    return (body.get("status") or {}).get("observedGeneration") == body["metadata"].get("generation")


def wants_reconcile(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    if old is None or not handled(new):
        return True
    before, after = old["metadata"], new["metadata"]
    return (before.get("generation") != after.get("generation")
            or bool(after.get("deletionTimestamp")) != bool(before.get("deletionTimestamp"))
            or (before.get("finalizers") or []) != (after.get("finalizers") or [])
            or _our_annotations(old) != _our_annotations(new))
