"""KafkaTopic handlers: thin. Parse the resource, call the reconciler, write status."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.conditions import set_condition
from kafkaops.metrics import DRIFT_CORRECTIONS, RECONCILE_SECONDS, RECONCILIATIONS
from kafkaops.settings import Settings
from kafkaops.topics.reconcile import TopicOutcome, reconcile_topic

PLURAL = "kafkatopics"
MAX_RETRY_DELAY = 60.0
DRIFT_INTERVAL = Settings.from_env().drift_interval_seconds


def topic_status(status: Mapping[str, Any], outcome: TopicOutcome, generation: int) -> dict[str, Any]:
    """The status fields that change; unchanged fields are omitted so a no-op writes nothing."""
    new: dict[str, Any] = {"observedGeneration": generation}
    if outcome.topic is not None:
        new["topicName"] = outcome.topic
    if outcome.observed is not None:
        new.update(partitions=outcome.observed.partitions,
                   replicationFactor=outcome.observed.replication_factor)
        if outcome.observed.topic_id:
            new["topicId"] = outcome.observed.topic_id
    if outcome.ready:
        new["managedConfigKeys"] = list(outcome.owned_keys)
    new["conditions"] = set_condition(status.get("conditions") or [], type_="Ready", status=outcome.ready,
                                      reason=outcome.reason, message=outcome.message,
                                      generation=generation)
    return {key: value for key, value in new.items() if status.get(key) != value}


async def _reconcile(body: kopf.Body, name: str, spec: kopf.Spec, status: kopf.Status,
                     meta: kopf.Meta, patch: kopf.Patch, memo: kopf.Memo, retry: int,
                     trigger: str) -> TopicOutcome:
    started = time.perf_counter()
    outcome = await reconcile_topic(memo.admin, name, spec, status.get("managedConfigKeys") or [],
                                    adopting=status.get("observedGeneration") is None)
    RECONCILE_SECONDS.labels("KafkaTopic").observe(time.perf_counter() - started)
    result = "ok" if outcome.ready else ("retry" if outcome.transient else "error")
    RECONCILIATIONS.labels("KafkaTopic", result).inc()
    for key, value in topic_status(status, outcome, meta.get("generation", 0)).items():
        patch.status[key] = value
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    if outcome.changed or (not outcome.ready and previous.get("reason") != outcome.reason):
        kind = "Normal" if outcome.ready else "Warning"
        kopf.event(body, type=kind, reason=outcome.reason, message=outcome.message)
    if outcome.changed and trigger == "drift":
        DRIFT_CORRECTIONS.inc()
    if outcome.transient:
        raise kopf.TemporaryError(outcome.message, delay=min(MAX_RETRY_DELAY, 2.0 ** min(retry, 6)))
    return outcome


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def reconcile(body: kopf.Body, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta,
                    patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any) -> None:
    await _reconcile(body, name, spec, status, meta, patch, memo, retry, trigger="change")


@kopf.timer(GROUP, VERSION, PLURAL, interval=DRIFT_INTERVAL, initial_delay=DRIFT_INTERVAL)
async def check_drift(body: kopf.Body, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta,
                      patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    """Find and correct changes made outside the operator (someone ran kafka-configs by hand)."""
    with contextlib.suppress(kopf.TemporaryError):  # the status says why; the next tick retries
        await _reconcile(body, name, spec, status, meta, patch, memo, 0, trigger="drift")
