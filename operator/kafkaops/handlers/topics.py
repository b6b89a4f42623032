"""KafkaTopic handlers: thin. Parse the resource, call the core, write status.

kopf timers would put a finalizer on every KafkaTopic (kopf needs one to stop a timer), so
the periodic drift check is one operator-wide loop over an index instead: finalizers stay on
exactly the KafkaTopics whose deletion deletes a topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.conditions import find_condition, set_condition
from kafkaops.handlers import kubeapi
from kafkaops.handlers.events import post_event
from kafkaops.kafka.errors import KafkaRejected, KafkaUnavailable
from kafkaops.metrics import DRIFT_CORRECTIONS, RECONCILE_SECONDS, RECONCILIATIONS, TopicSample
from kafkaops.topics.ownership import (
    MANAGED_ANNOTATION,
    PAUSED_ANNOTATION,
    Claim,
    Hold,
    hold,
    is_paused,
    is_unmanaged,
    owner,
)
from kafkaops.topics.reconcile import TopicOutcome, reconcile_topic

PLURAL = "kafkatopics"
MAX_RETRY_DELAY = 60.0
# Outcomes that only a spec change can fix: the drift loop does not retry them.
SETTLED_FAILURES = frozenset({"InvalidSpec", "InvalidConfig", "PolicyViolation", "PartitionDecreaseRefused",
                              "ReplicationFactorChangeUnsupported", "NotAuthorized", "KafkaError"})
STATUS_FIELDS = ("observedGeneration", "topicName", "topicId", "partitions", "replicationFactor", "managedConfigKeys",
                 "conditions")
SUCCESS_REASONS = frozenset({"Created", "Updated", "Adopted", "InSync"})
log = logging.getLogger(__name__)


def topic_status(status: Mapping[str, Any], outcome: TopicOutcome, generation: int) -> dict[str, Any]:
    """The status fields that change; unchanged fields are omitted so a no-op writes nothing."""
    new: dict[str, Any] = {"observedGeneration": generation}
    if outcome.topic is not None:
        new["topicName"] = outcome.topic
    if outcome.observed is not None:
        new.update(partitions=outcome.observed.partitions, replicationFactor=outcome.observed.replication_factor)
        if outcome.observed.topic_id:
            new["topicId"] = outcome.observed.topic_id
    if outcome.ready and outcome.owned_keys is not None:
        new["managedConfigKeys"] = list(outcome.owned_keys)
    new["conditions"] = set_condition(status.get("conditions") or [], type_="Ready", status=outcome.ready,
                                      reason=outcome.reason, message=outcome.message, generation=generation)
    return {key: value for key, value in new.items() if status.get(key) != value}


def kafka_topic_name(name: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("topicName") or name)


def claim_of(meta: Mapping[str, Any]) -> Claim:
    return Claim(str(meta.get("creationTimestamp", "")), str(meta.get("namespace", "")), str(meta["name"]),
                 str(meta.get("uid", "")))


def slim_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the drift loop needs of a KafkaTopic, copied (kopf's bodies are live views) and no
    more: with 10,000 KafkaTopics this index is most of the operator's memory."""
    meta = body["metadata"]
    annotations = meta.get("annotations") or {}
    status = body.get("status") or {}
    return {"apiVersion": body["apiVersion"], "kind": body["kind"],
            "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "generation", "creationTimestamp",
                                                  "deletionTimestamp")}
            | {"annotations": {k: annotations[k] for k in (PAUSED_ANNOTATION, MANAGED_ANNOTATION) if k in annotations}},
            "spec": dict(body.get("spec") or {}),
            "status": {k: status[k] for k in STATUS_FIELDS if k in status}}


@kopf.index(GROUP, VERSION, PLURAL)
def kafkatopic_index(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[tuple[str, str], Any]:
    return {(namespace, name): slim_body(body)}


def topic_samples(index: kopf.Index) -> Iterator[TopicSample]:
    """What Prometheus sees of every KafkaTopic, read from the drift index at scrape time."""
    for store in index.values():
        for body in store:
            meta, status = body["metadata"], body.get("status") or {}
            ready = (find_condition(status.get("conditions") or [], "Ready") or {}).get("status") == "True"
            yield TopicSample(meta["namespace"], meta["name"],
                              status.get("topicName") or kafka_topic_name(meta["name"], body.get("spec") or {}),
                              status.get("partitions"), status.get("replicationFactor"), ready)


@kopf.index(GROUP, VERSION, PLURAL)
def topic_claims(name: str, spec: kopf.Spec, meta: kopf.Meta, annotations: kopf.Annotations,
                 **_: Any) -> dict[str, Claim] | None:
    if is_unmanaged(annotations):
        return None
    return {kafka_topic_name(name, spec): claim_of(meta)}


async def evaluate(admin: Any, body: Mapping[str, Any], claims: kopf.Index) -> TopicOutcome:
    """Decide and act for one KafkaTopic: a hold (unmanaged, paused, conflict) or a reconcile."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    topic = kafka_topic_name(meta["name"], spec)
    held: Hold | None = hold(meta.get("annotations") or {}, topic, claim_of(meta), claims.get(topic, []))
    if held is not None:
        previous = find_condition(status.get("conditions") or [], "Ready") or {}
        ready = held.ready if held.ready is not None else previous.get("status") == "True"
        return TopicOutcome(ready, held.reason, held.message, topic, owned_keys=None)
    started = time.perf_counter()
    outcome = await reconcile_topic(admin, meta["name"], spec, status.get("managedConfigKeys") or [],
                                    adopting=not status.get("topicId"))
    RECONCILE_SECONDS.labels("KafkaTopic").observe(time.perf_counter() - started)
    result = "ok" if outcome.ready else ("retry" if outcome.transient else "error")
    RECONCILIATIONS.labels("KafkaTopic", result).inc()
    previous = find_condition(status.get("conditions") or [], "Ready") or {}
    if (outcome.reason == "InSync" and previous.get("reason") in SUCCESS_REASONS
            and previous.get("observedGeneration") == meta.get("generation")):
        # Nothing happened: keep saying what last happened (Created, Updated...), write nothing.
        outcome = replace(outcome, reason=previous["reason"], message=previous.get("message", ""))
    return outcome


async def announce(body: Mapping[str, Any], outcome: TopicOutcome) -> None:
    """A Kubernetes Event when something was changed, or when a new problem appears."""
    status = body.get("status") or {}
    previous = find_condition(status.get("conditions") or [], "Ready") or {}
    meta = body["metadata"]
    # One log line per decision; routine "nothing to do" checks only at debug level.
    log.log(logging.INFO if outcome.changed or not outcome.ready else logging.DEBUG,
            "KafkaTopic %s/%s: %s: %s", meta.get("namespace"), meta["name"], outcome.reason, outcome.message,
            extra={"kafkatopic": meta["name"], "namespace": meta.get("namespace"), "topic": outcome.topic,
                   "reason": outcome.reason, "ready": outcome.ready})
    if outcome.changed:
        await post_event(body, type="Normal", reason=outcome.reason, message=outcome.message)
    elif not outcome.ready and previous.get("reason") != outcome.reason:
        await post_event(body, type="Warning", reason=outcome.reason, message=outcome.message)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def reconcile(body: kopf.Body, status: kopf.Status, meta: kopf.Meta, patch: kopf.Patch, memo: kopf.Memo,
                    retry: int, topic_claims: kopf.Index, **_: Any) -> None:
    key = (meta.get("namespace"), meta.get("name"))
    # The drift loop leaves this object alone while kopf handles it, and also while kopf retries
    # it (after a transient failure or an exception): two reconcilers racing on one object would
    # each write their own outcome (say Created, then InSync over it).
    memo.in_progress.add(key)
    outcome = await evaluate(memo.admin, body, topic_claims)
    patch.status.update(topic_status(status, outcome, meta.get("generation", 0)))
    await announce(body, outcome)
    if outcome.transient:
        raise kopf.TemporaryError(outcome.message, delay=min(MAX_RETRY_DELAY, 2.0 ** min(retry, 6)))
    memo.in_progress.discard(key)


def deletes_topic(spec: kopf.Spec, annotations: kopf.Annotations, **_: Any) -> bool:
    """Only these KafkaTopics carry the finalizer: deleting them deletes the Kafka topic."""
    return spec.get("deletionPolicy") == "Delete" and not is_paused(annotations) and not is_unmanaged(annotations)


@kopf.on.delete(GROUP, VERSION, PLURAL, when=deletes_topic)
async def delete_topic(body: kopf.Body, name: str, spec: kopf.Spec, meta: kopf.Meta, memo: kopf.Memo, retry: int,
                       runtime: Any, topic_claims: kopf.Index, **_: Any) -> None:
    topic = kafka_topic_name(name, spec)
    winner = owner(topic_claims.get(topic, []))
    if winner is not None and winner.uid != meta.get("uid"):
        await post_event(body, type="Normal", reason="Retained",
                         message=f"topic {topic!r} belongs to KafkaTopic {winner.ref}; not deleted")
        return
    try:
        await memo.admin.delete_topic(topic)
    except KafkaUnavailable as error:
        waited = runtime.total_seconds()
        if waited < memo.settings.deletion_timeout_seconds:
            raise kopf.TemporaryError(f"cannot delete topic {topic!r} yet: {error}",
                                      delay=min(MAX_RETRY_DELAY, 2.0 ** min(retry, 6))) from error
        await post_event(body, type="Warning", reason="DeletionAbandoned",
                         message=f"topic {topic!r} was NOT deleted: Kafka unreachable for {waited:.0f}s; "
                                 "the KafkaTopic is released so that it does not block its namespace")
        return
    except KafkaRejected as error:
        await post_event(body, type="Warning", reason=error.reason,
                         message=f"topic {topic!r} was NOT deleted, Kafka refused: {error.message}")
        return
    await post_event(body, type="Normal", reason="Deleted", message=f"deleted topic {topic!r}")


def needs_drift_check(body: Mapping[str, Any], in_progress: set[tuple[str, str]]) -> bool:
    """Only KafkaTopics kopf has already handled at their current generation, and is not handling
    now; failures that only a spec change can fix are not retried."""
    meta = body["metadata"]
    status = body.get("status") or {}
    ready = find_condition(status.get("conditions") or [], "Ready") or {}
    return (status.get("observedGeneration") == meta.get("generation")
            and (meta.get("namespace"), meta.get("name")) not in in_progress
            and not meta.get("deletionTimestamp")
            and ready.get("reason") not in SETTLED_FAILURES)


async def check_drift_once(admin: Any, bodies: list[Mapping[str, Any]], claims: kopf.Index) -> int:
    """Reconcile these KafkaTopics (coalesced into batched admin calls); write only what changed.
    Returns how many topics were corrected."""

    async def one(body: Mapping[str, Any]) -> bool:
        outcome = await evaluate(admin, body, claims)
        changes = topic_status(body.get("status") or {}, outcome, body["metadata"].get("generation", 0))
        if changes:
            await kubeapi.patch_status(PLURAL, body["metadata"]["namespace"], body["metadata"]["name"], changes)
        await announce(body, outcome)
        return outcome.changed

    results = await asyncio.gather(*(one(b) for b in bodies), return_exceptions=True)
    for error in (r for r in results if isinstance(r, BaseException)):
        log.warning("drift check failed for one KafkaTopic: %s", error)
    corrected = sum(1 for r in results if r is True)
    DRIFT_CORRECTIONS.inc(corrected)
    return corrected


async def drift_loop(memo: kopf.Memo, index: kopf.Index, claims: kopf.Index) -> None:
    interval = memo.settings.drift_interval_seconds
    while True:
        await asyncio.sleep(interval)
        memo.in_progress.intersection_update(index.keys())  # forget deleted objects
        bodies = [body for store in index.values() for body in store if needs_drift_check(body, memo.in_progress)]
        try:
            corrected = await check_drift_once(memo.admin, bodies, claims)
        except Exception:
            log.exception("drift check failed; trying again in %.0fs", interval)
            continue
        if corrected:
            log.info("drift check corrected %d of %d topics", corrected, len(bodies))
