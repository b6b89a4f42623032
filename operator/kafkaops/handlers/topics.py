"""KafkaTopic controller, level-triggered: kopf's watch events feed a cache and enqueue keys; a
worker reconciles the latest cached object against the broker and is the only writer of its
status and finalizer. The periodic drift check only enqueues every key again.

No kopf change handlers: they keep per-object progress in annotations (a write per change, and
two writers per object beside a drift loop). The finalizer ``kafkaops.io/topic-deletion`` is
managed here, on exactly the KafkaTopics whose deletion deletes a topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import kopf

from kafkaops import GROUP, VERSION, leadership
from kafkaops.changes import handled
from kafkaops.conditions import (
    change_pending,
    changed_fields,
    missing_cluster_reason,
    ready_condition,
    seconds_since,
    set_condition,
)
from kafkaops.handlers.clusters import ClusterRegistry
from kafkaops.handlers.controller import Controller, Key, key_of
from kafkaops.handlers.tenancy import AccessPolicies, topic_request
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.metrics import DRIFT_CORRECTIONS, RECONCILE_SECONDS, RECONCILIATIONS, TopicSample
from kafkaops.settings import Settings
from kafkaops.tenancy.rules import Verdict, deletion_refusal, topic_violation
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
from kafkaops.topics.spec import parse_topic_spec
from kafkaops.types.errors import ClusterNotFound, ClusterNotReady, InvalidSpec, KafkaRejected, KafkaUnavailable
from kafkaops.types.specs import DEFAULT_CLUSTER
from kafkaops.types.topics import TopicAdmin

PLURAL = "kafkatopics"
FINALIZER = f"{GROUP}/topic-deletion"
# Outcomes that only a spec change can fix: the drift loop does not retry them.
SETTLED_FAILURES = frozenset({"InvalidSpec", "InvalidConfig", "PolicyViolation", "PartitionDecreaseRefused",
                              "ReplicationFactorChangeUnsupported", "NotAuthorized", "KafkaError"})
STATUS_FIELDS = ("observedGeneration", "topicName", "topicId", "partitions", "replicationFactor", "managedConfigKeys",
                 "conditions")
# Failures the KafkaTopic only inherits: the KafkaCluster's own status and Event say it, once, instead
# of one Warning per KafkaTopic (thousands when a cluster goes down).
QUIET_FAILURES = frozenset({"ClusterNotReady"})
TopicRef = tuple[str, str]  # (cluster, Kafka topic name)
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
                                      reason=outcome.reason, message=outcome.message, generation=generation,
                                      pending=outcome.pending)
    return changed_fields(status, new)


def kafka_topic_name(name: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("topicName") or name)


def cluster_of(spec: Mapping[str, Any]) -> str:
    """The KafkaCluster a spec names (``default``: the operator's configured cluster)."""
    return str((spec.get("clusterRef") or {}).get("name") or DEFAULT_CLUSTER)


def topic_ref(name: str, spec: Mapping[str, Any]) -> TopicRef:
    """A Kafka topic is only the same topic on the same cluster."""
    return cluster_of(spec), kafka_topic_name(name, spec)


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
                                                  "deletionTimestamp", "resourceVersion", "finalizers")}
            | {"annotations": {k: annotations[k] for k in (PAUSED_ANNOTATION, MANAGED_ANNOTATION) if k in annotations}},
            "spec": dict(body.get("spec") or {}),
            "status": {k: status[k] for k in STATUS_FIELDS if k in status}}


def topic_samples(bodies: Iterable[Mapping[str, Any]]) -> Iterator[TopicSample]:
    """What Prometheus sees of every KafkaTopic, read from the cache at scrape time."""
    for body in bodies:
        meta, status = body["metadata"], body.get("status") or {}
        ready = ready_condition(status).get("status") == "True"
        yield TopicSample(meta["namespace"], meta["name"],
                          status.get("topicName") or kafka_topic_name(meta["name"], body.get("spec") or {}),
                          status.get("partitions"), status.get("replicationFactor"), ready,
                          cluster=cluster_of(body.get("spec") or {}))


def claim_on(body: Mapping[str, Any]) -> tuple[TopicRef, Claim] | None:
    """The Kafka topic this KafkaTopic claims, and its claim (none while unmanaged)."""
    meta = body["metadata"]
    if is_unmanaged(meta.get("annotations") or {}):
        return None
    return topic_ref(meta["name"], body.get("spec") or {}), claim_of(meta)


async def decide_topic(admin_of: Callable[[], TopicAdmin], body: Mapping[str, Any], claims: Iterable[Claim],
                       violation: str | None = None, cluster_wait: float = 0.0) -> TopicOutcome:
    """Decide and act for one KafkaTopic: a hold (unmanaged, paused, its namespace's policy broken,
    conflict), its cluster not ready (nothing on any broker is touched; a missing one is waited for
    ``cluster_wait`` seconds, then Stalled), or a reconcile."""
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    topic = kafka_topic_name(meta["name"], spec)
    held: Hold | None = hold(meta.get("annotations") or {}, topic, claim_of(meta), claims, violation)
    if held is not None:
        previous = ready_condition(status)
        ready = held.ready if held.ready is not None else previous.get("status") == "True"
        generation = meta.get("generation", 0)
        pending = held.reason == "Paused" and change_pending(status, generation)
        message = (f"{held.message}; the spec change of generation {generation} is not applied" if pending
                   else held.message)
        return TopicOutcome(ready, held.reason, message, topic, owned_keys=None, pending=pending)
    try:
        admin = admin_of()
    except ClusterNotFound as error:
        reason = missing_cluster_reason(status, cluster_wait)
        return TopicOutcome(ready=False, reason=reason, message=error.message, topic=topic, owned_keys=None,
                            transient=reason == "ClusterNotReady")
    except ClusterNotReady as error:
        return TopicOutcome(ready=False, reason="ClusterNotReady", message=error.message, topic=topic,
                            owned_keys=None)
    started = time.perf_counter()
    outcome = await reconcile_topic(admin, meta["name"], spec, status.get("managedConfigKeys") or [],
                                    adopting=not status.get("topicId"))
    RECONCILE_SECONDS.labels("KafkaTopic").observe(time.perf_counter() - started)
    result = "ok" if outcome.ready else ("retry" if outcome.transient else "error")
    RECONCILIATIONS.labels("KafkaTopic", result).inc()
    previous = ready_condition(status)
    if (outcome.reason == "InSync" and previous.get("reason") in SUCCESS_REASONS
            and previous.get("observedGeneration") == meta.get("generation")):
        # Nothing happened: keep saying what last happened (Created, Updated...), write nothing.
        outcome = replace(outcome, reason=previous["reason"], message=previous.get("message", ""))
    return outcome


async def post_outcome_event(body: Mapping[str, Any], outcome: TopicOutcome) -> None:
    """A Kubernetes Event for each kind of change written to the broker, or when a new problem
    appears; a re-check that changes nothing posts none."""
    status = body.get("status") or {}
    previous = ready_condition(status)
    meta = body["metadata"]
    # One log line per decision; routine "nothing to do" checks only at debug level.
    log.log(logging.INFO if outcome.changed or not outcome.ready else logging.DEBUG,
            "KafkaTopic %s/%s: %s: %s", meta.get("namespace"), meta["name"], outcome.reason, outcome.message,
            extra={"kafkatopic": meta["name"], "namespace": meta.get("namespace"), "topic": outcome.topic,
                   "reason": outcome.reason, "ready": outcome.ready})
    for reason, message in outcome.announcements:
        await post_event(body, type="Normal", reason=reason, message=message)
    new_problem = not outcome.ready and previous.get("reason") != outcome.reason
    if new_problem and not outcome.announcements and outcome.reason not in QUIET_FAILURES:
        await post_event(body, type="Warning", reason=outcome.reason, message=outcome.message)


def deletes_topic(body: Mapping[str, Any]) -> bool:
    """Only these KafkaTopics carry the finalizer: deleting them deletes the Kafka topic."""
    annotations = body["metadata"].get("annotations") or {}
    return ((body.get("spec") or {}).get("deletionPolicy") == "Delete" and not is_paused(annotations)
            and not is_unmanaged(annotations))


class TopicController(Controller):
    """The cache, the claims on Kafka topics, the queue, and what a worker does with a key."""

    def __init__(self, clusters: ClusterRegistry, policies: AccessPolicies, settings: Settings) -> None:
        super().__init__("KafkaTopic", PLURAL, settings.max_concurrent_reconciles)
        self.clusters, self.policies, self.settings = clusters, policies, settings
        self.claims: dict[TopicRef, dict[Key, Claim]] = {}
        clusters.listeners.append(self.requeue_cluster)
        policies.listeners.append(self.requeue_namespace)

    def claims_on(self, topic: TopicRef) -> list[Claim]:
        """The claims that count: a KafkaTopic its namespace's policy refuses owns nothing."""
        return [claim for key, claim in self.claims.get(topic, {}).items() if not self.refused(key)]

    def verdict(self, key: Key, body: Mapping[str, Any]) -> Verdict | None:
        """The namespace's policy on this KafkaTopic (None for a spec that does not parse: the
        reconcile says InvalidSpec)."""
        if not self.policies.applies(key[0]):
            return None
        try:
            request = topic_request(key[1], parse_topic_spec(body.get("spec") or {}))
        except InvalidSpec:
            return None
        return self.policies.verdict(key[0], lambda policy: topic_violation(policy, request))

    def refused(self, key: Key) -> bool:
        body = self.bodies.get(key)
        verdict = self.verdict(key, body) if body is not None else None
        return verdict is not None and verdict.refused

    def requeue_namespace(self, namespace: str) -> None:
        """Its policy came, changed or went: its KafkaTopics decide again, and so do the other
        claimants of their topics (a refused claim no longer holds a topic)."""
        for key, body in list(self.bodies.items()):
            if key[0] == namespace:
                self.queue.add(key)
                for other in self.claims.get(topic_ref(key[1], body.get("spec") or {}), {}):
                    self.queue.add(other)

    def requeue_cluster(self, cluster: str) -> None:
        """The cluster came, went or changed: its KafkaTopics decide again."""
        for key, body in self.bodies.items():
            if cluster_of(body.get("spec") or {}) == cluster:
                self.queue.add(key)

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        slim = slim_body(body)
        key = key_of(slim)
        old = self.observe(event_type, slim)
        before = claim_on(old) if old is not None else None
        after = claim_on(slim) if event_type != "DELETED" else None
        if before == after:
            return
        if before is not None:
            self.claims.get(before[0], {}).pop(key, None)
            if not self.claims.get(before[0]):
                self.claims.pop(before[0], None)
        if after is not None:
            self.claims.setdefault(after[0], {})[key] = after[1]
        # A claim came or went: the other claimants of that topic decide again (hand-over, Conflict).
        for topic in {c[0] for c in (before, after) if c is not None}:
            for other in self.claims.get(topic, {}):
                if other != key:
                    self.queue.add(other)

    async def process(self, key: Key) -> None:
        await self.clusters.synced.wait()  # a restart must not report ClusterNotReady for a cluster not probed yet
        await self.policies.synced.wait()  # nor judge a namespace by a policy not read yet
        body = self.bodies.get(key)
        if body is None or not leadership.is_leading():
            return  # deleted meanwhile, or a frozen leader resuming: no Kafka change either
        await self.act(key, body)

    async def reconcile(self, key: Key, body: dict[str, Any]) -> None:
        await self.keep_finalizer(key, body)
        spec = body.get("spec") or {}
        verdict, new_generation = self.verdict(key, body), not handled(body)
        outcome = await decide_topic(lambda: self.clusters.admin(cluster_of(spec)), body,
                                     self.claims_on(topic_ref(key[1], spec)),
                                     verdict.message if verdict is not None and verdict.refused else None,
                                     self.settings.cluster_wait_seconds)
        changes = topic_status(body.get("status") or {}, outcome, body["metadata"].get("generation", 0))
        if changes:
            await api.patch_status(PLURAL, *key, changes)
        await post_outcome_event(body, outcome)
        if verdict is not None and not verdict.refused and new_generation:
            await post_event(body, type="Warning", reason="NoAccessPolicy", message=verdict.message)
        if outcome.changed and handled(body):
            DRIFT_CORRECTIONS.inc()  # the spec was already applied: someone changed the topic behind us
        self.merge_status(key, changes)
        if outcome.transient:
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)

    async def keep_finalizer(self, key: Key, body: dict[str, Any]) -> None:
        """Add the finalizer where deleting the KafkaTopic deletes the topic, remove it elsewhere."""
        finalizers = list(body["metadata"].get("finalizers") or [])
        wanted = deletes_topic(body)
        if wanted != (FINALIZER in finalizers):
            await self.set_finalizers(key, body, [*finalizers, FINALIZER] if wanted
                                      else [f for f in finalizers if f != FINALIZER])

    async def finalize(self, key: Key, body: dict[str, Any]) -> None:
        """The KafkaTopic is being deleted: delete its topic if it is ours to delete, then let go."""
        meta = body["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        spec = body.get("spec") or {}
        topic = kafka_topic_name(key[1], spec)
        winner = owner(self.claims_on(topic_ref(key[1], spec)))
        if deletes_topic(body):  # else paused or unmanaged since: the topic stays
            refusal = deletion_refusal(self.policies.policy(key[0]), topic)
            if refusal is not None:
                await post_event(body, type="Warning", reason="Retained", message=f"topic {topic!r} was NOT deleted: "
                                 f"{refusal}")
            elif winner is not None and winner.uid != meta.get("uid"):
                await post_event(body, type="Normal", reason="Retained",
                                 message=f"topic {topic!r} belongs to KafkaTopic {winner.ref}; not deleted")
            elif not await self.delete_topic(key, body, topic):
                return  # retried with backoff
        await self.set_finalizers(key, body, [f for f in meta.get("finalizers") or [] if f != FINALIZER])
        self.queue.forget(key)

    async def delete_topic(self, key: Key, body: dict[str, Any], topic: str) -> bool:
        """Delete the Kafka topic; True when the KafkaTopic may go (deleted, refused, or given up)."""
        try:
            await self.clusters.admin(cluster_of(body.get("spec") or {})).delete_topic(topic)
        except (KafkaUnavailable, ClusterNotReady) as error:
            waited = seconds_since(body["metadata"]["deletionTimestamp"])
            if waited < self.settings.deletion_timeout_seconds:
                delay = self.queue.add_rate_limited(key)
                log.info("KafkaTopic %s/%s: cannot delete topic %r yet (%s); again in %.0fs", *key, topic, error,
                         delay)
                return False
            await post_event(body, type="Warning", reason="DeletionAbandoned",
                             message=f"topic {topic!r} was NOT deleted: Kafka unreachable for {waited:.0f}s; "
                                     "the KafkaTopic is released so that it does not block its namespace")
            return True
        except KafkaRejected as error:
            await post_event(body, type="Warning", reason=error.reason,
                             message=f"topic {topic!r} was NOT deleted, Kafka refused: {error.message}")
            return True
        await post_event(body, type="Normal", reason="Deleted", message=f"deleted topic {topic!r}")
        log.info("KafkaTopic %s/%s: deleted topic %r", *key, topic)
        return True

    def resync(self) -> int:
        """The drift check: every KafkaTopic again, except failures only a spec change can fix."""
        keys = [key for key, body in self.bodies.items() if needs_drift_check(body)]
        for key in keys:
            self.queue.add(key)
        return len(keys)


def needs_drift_check(body: Mapping[str, Any]) -> bool:
    ready = ready_condition(body.get("status") or {})
    return not body["metadata"].get("deletionTimestamp") and ready.get("reason") not in SETTLED_FAILURES


async def drift_loop(controller: TopicController, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        log.debug("drift check: %d KafkaTopics queued", controller.resync())


@kopf.on.event(GROUP, VERSION, PLURAL)
async def kafkatopic_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Cheap on purpose: copy into the cache, enqueue; the work happens in the queue's workers. Every
    event handler is ``async``: kopf runs plain functions in a thread pool, and the caches, queues and
    asyncio events they touch belong to the event loop (a thread racing it once let a restarted operator
    reconcile a ConsumerApp before its Deployment was cached)."""
    memo.runtime.topics.on_event(event.get("type"), event["object"])
