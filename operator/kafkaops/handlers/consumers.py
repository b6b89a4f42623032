"""ConsumerApp handlers: apply the owned Deployment on change; one operator-wide scaler loop
collects lag for every app and sets replicas. No kopf timers or daemons: they would put a
finalizer on every ConsumerApp, and deletion must simply cascade to the Deployment."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.conditions import find_condition, set_condition, utc_now
from kafkaops.consumers.autoscale import Stabilizer, recommend
from kafkaops.consumers.collector import AppQuery, GroupReport, LagCollector
from kafkaops.consumers.deployment import APP_LABEL, build_deployment, injected_env
from kafkaops.consumers.spec import ConsumerAppSpec, parse_consumer_spec
from kafkaops.consumers.status import changed_fields, status_write_due
from kafkaops.handlers import kubeapi
from kafkaops.handlers.events import post_event
from kafkaops.kafka.errors import KafkaRejected, KafkaUnavailable
from kafkaops.metrics import LAG_COLLECTION_SECONDS, RECONCILIATIONS, GroupSample
from kafkaops.topics.spec import InvalidSpec

PLURAL = "consumerapps"
TICK_SECONDS = 1.0
log = logging.getLogger(__name__)


async def apply_deployment(manifest: Mapping[str, Any]) -> None:
    """Server-side apply as field manager ``kafkaops``: what we set wins, the rest is left alone."""
    meta = manifest["metadata"]
    await asyncio.to_thread(kubeapi.apps().patch_namespaced_deployment, meta["name"], meta["namespace"], manifest,
                            field_manager="kafkaops", force=True, _content_type="application/apply-patch+yaml")


async def current_replicas(namespace: str, name: str) -> int | None:
    from kubernetes.client import ApiException

    try:
        deployment = await asyncio.to_thread(kubeapi.apps().read_namespaced_deployment, name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return int(deployment.spec.replicas or 0)


def desired_deployment(meta: Mapping[str, Any], spec: ConsumerAppSpec, replicas: int, bootstrap: str,
                       security: Mapping[str, str]) -> dict[str, Any]:
    env = injected_env(bootstrap, spec.group(meta["name"]), spec.topics,
                       {"KAFKA_AUTO_OFFSET_RESET": spec.auto_offset_reset, **security})
    return build_deployment(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], template=spec.template,
                            replicas=replicas, env=env)


def security_env(kafka_properties: Mapping[str, str]) -> dict[str, str]:
    """The connection's security settings, as KAFKA_* variables for the consumers (never secrets'
    values from env: SASL passwords belong in a Secret the template mounts)."""
    return {f"KAFKA_{key.upper().replace('.', '_')}": value for key, value in kafka_properties.items()
            if key in ("security.protocol", "sasl.mechanism", "sasl.mechanisms")}


@kopf.index(GROUP, VERSION, PLURAL)
def consumerapp_index(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[tuple[str, str], Any]:
    meta = body["metadata"]
    return {(namespace, name): {"apiVersion": body["apiVersion"], "kind": body["kind"],
                                "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "generation",
                                                                       "deletionTimestamp")},
                                "spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}}


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def apply(body: kopf.Body, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
                memo: kopf.Memo, **_: Any) -> None:
    generation = meta.get("generation", 0)
    conditions = status.get("conditions") or []
    try:
        parsed = parse_consumer_spec(spec)
    except InvalidSpec as error:
        patch.status.update(observedGeneration=generation, conditions=set_condition(
            conditions, type_="Ready", status=False, reason="InvalidSpec", message=str(error), generation=generation))
        await post_event(body, type="Warning", reason="InvalidSpec", message=str(error))
        RECONCILIATIONS.labels("ConsumerApp", "error").inc()
        return
    try:
        replicas = await ensure_deployment(body["metadata"], parsed, memo.settings)
    except DeploymentRejected as error:
        patch.status.update(observedGeneration=generation, conditions=set_condition(
            conditions, type_="Ready", status=False, reason="DeploymentRejected", message=str(error),
            generation=generation))
        await post_event(body, type="Warning", reason="DeploymentRejected", message=str(error))
        RECONCILIATIONS.labels("ConsumerApp", "error").inc()
        return
    patch.status.update(changed_fields(status, {
        "observedGeneration": generation, "groupId": parsed.group(meta["name"]),
        "conditions": set_condition(conditions, type_="Ready", status=True, reason="DeploymentApplied",
                                    message=f"Deployment {meta['name']} applied with {replicas} replicas",
                                    generation=generation)}))
    log.info("ConsumerApp %s/%s: Deployment applied with %d replicas", meta["namespace"], meta["name"], replicas,
             extra={"consumerapp": meta["name"], "namespace": meta["namespace"], "reason": "DeploymentApplied"})
    RECONCILIATIONS.labels("ConsumerApp", "ok").inc()


class DeploymentRejected(Exception):
    """The API server refused the Deployment built from the spec (e.g. an invalid pod template)."""


async def ensure_deployment(meta: Mapping[str, Any], spec: ConsumerAppSpec, settings: Any) -> int:
    """Apply the Deployment the spec describes, keeping its current replica count (the scaler owns
    it; a new Deployment starts at minReplicas). Returns the replica count applied."""
    from kubernetes.client import ApiException

    existing = await current_replicas(meta["namespace"], meta["name"])
    policy = spec.scaling.policy()
    replicas = existing if existing is not None else policy.min_replicas
    replicas = max(policy.min_replicas, min(replicas, policy.max_replicas))
    try:
        await apply_deployment(desired_deployment(meta, spec, replicas, settings.bootstrap_servers,
                                                  security_env(settings.kafka_properties)))
    except ApiException as error:
        if error.status in (400, 422):
            raise DeploymentRejected(f"the API server refused the Deployment: {api_message(error)}") from error
        raise
    return replicas


def api_message(error: Any) -> str:
    """The API server's own message out of an ApiException's JSON body."""
    try:
        return str(json.loads(error.body).get("message") or error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


@kopf.index("apps", "v1", "deployments", labels={APP_LABEL: kopf.PRESENT})
def owned_deployments(body: kopf.Body, namespace: str, **_: Any) -> dict[tuple[str, str], dict[str, int]]:
    """Replicas of every Deployment the operator owns, kept current by the watch: the scaler reads
    them here instead of listing (and deserializing) every Deployment each cycle."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    return {(namespace, body["metadata"]["labels"][APP_LABEL]): {
        "replicas": int(spec.get("replicas") or 0), "statusReplicas": int(status.get("replicas") or 0),
        "readyReplicas": int(status.get("readyReplicas") or 0)}}


@kopf.on.event("apps", "v1", "deployments", labels={APP_LABEL: kopf.PRESENT})
async def restore_deployment(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo,
                             consumerapp_index: kopf.Index, **_: Any) -> None:
    """A Deployment edited or deleted by hand is put back as its ConsumerApp says: fields the
    operator sets are restored, a deleted Deployment is re-created. Only spec changes (a new
    generation) trigger it, so status updates cost nothing."""
    meta = body["metadata"]
    key = (meta.get("namespace"), meta.get("labels", {}).get(APP_LABEL))
    seen = memo.setdefault("deployment_generations", {})
    if event["type"] == "DELETED":
        seen.pop(key, None)
    else:
        previous, seen[key] = seen.get(key), meta.get("generation")
        if event["type"] != "MODIFIED" or previous == seen[key]:
            return
    owner = next(iter(consumerapp_index.get(key, [])), None)
    if owner is None or owner["metadata"].get("deletionTimestamp"):
        return  # the ConsumerApp is gone or going: garbage collection deletes the Deployment
    try:
        spec = parse_consumer_spec(owner["spec"])
        await ensure_deployment(owner["metadata"], spec, memo.settings)
    except (InvalidSpec, DeploymentRejected) as error:
        log.warning("ConsumerApp %s/%s: Deployment not restored: %s", *key, error)


class Scaler:
    """The scaler loop's memory: lag history, stabilizers, when each app was last polled, and
    what the last poll saw of each app (served to Prometheus)."""

    def __init__(self) -> None:
        self.collector = LagCollector()
        self.stabilizers: dict[tuple[str, str], Stabilizer] = {}
        self.polled: dict[tuple[str, str], float] = {}
        self.samples: dict[tuple[str, str], GroupSample] = {}
        self.status_written: dict[tuple[str, str], float] = {}
        self.specs: dict[tuple[str, str], tuple[Any, ConsumerAppSpec | None]] = {}

    def spec_of(self, body: Mapping[str, Any]) -> ConsumerAppSpec | None:
        """The parsed spec, parsed once per generation (None if invalid: the apply handler says why)."""
        key, generation = key_of(body), body["metadata"].get("generation")
        cached = self.specs.get(key)
        if cached is None or cached[0] != generation:
            try:
                cached = (generation, parse_consumer_spec(body["spec"]))
            except InvalidSpec:
                cached = (generation, None)
            self.specs[key] = cached
        return cached[1]

    def due(self, apps: list[tuple[dict[str, Any], ConsumerAppSpec]], now: float
            ) -> list[tuple[dict[str, Any], ConsumerAppSpec]]:
        return [(body, spec) for body, spec in apps
                if now - self.polled.get(key_of(body), float("-inf")) >= spec.scaling.poll_interval_seconds]

    def prune(self, live: set[tuple[str, str]]) -> None:
        for key in set(self.polled) - live:
            self.polled.pop(key, None)
            self.stabilizers.pop(key, None)
            self.samples.pop(key, None)
            self.status_written.pop(key, None)
            self.specs.pop(key, None)
            self.collector.forget(key)


def key_of(body: Mapping[str, Any]) -> tuple[str, str]:
    return body["metadata"]["namespace"], body["metadata"]["name"]


async def scale_once(memo: kopf.Memo, index: kopf.Index, deployments: kopf.Index, scaler: Scaler) -> None:
    """One cycle: collect lag for the apps that are due, decide, apply replicas, write status."""
    now = time.time()
    apps = []
    for store in index.values():
        for body in store:
            if (body.get("status") or {}).get("observedGeneration") == body["metadata"].get("generation"):
                spec = scaler.spec_of(body)
                if spec is not None:
                    apps.append((body, spec))
    scaler.prune({key_of(b) for b, _ in apps})
    due = scaler.due(apps, now)
    if not due:
        return
    for body, _ in due:
        scaler.polled[key_of(body)] = now
    queries = [AppQuery(key_of(b), s.group(b["metadata"]["name"]), s.topics, s.auto_offset_reset,
                        stale_after_seconds=max(s.scaling.scale_down.stabilization_window_seconds,
                                                3 * s.scaling.poll_interval_seconds)) for b, s in due]
    try:
        with LAG_COLLECTION_SECONDS.time():
            reports: dict[tuple[str, str], GroupReport] | None = await scaler.collector.collect(
                memo.admin, queries, now)
        problem = ""
    except (KafkaUnavailable, KafkaRejected) as error:
        reports, problem = None, str(error)
        log.warning("lag collection failed, replicas of %d ConsumerApps left as they are: %s", len(due), problem)
    await asyncio.gather(*(_scale_app(body, spec, next(iter(deployments.get(key_of(body), [])), None), reports,
                                      problem, scaler, now)
                           for body, spec in due), return_exceptions=False)


async def _scale_app(body: dict[str, Any], spec: ConsumerAppSpec, deployment: Mapping[str, int] | None,
                     reports: dict[tuple[str, str], GroupReport] | None, problem: str, scaler: Scaler,
                     now: float) -> None:
    key = key_of(body)
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    conditions = status.get("conditions") or []
    if deployment is None:
        return  # the apply handler has not created it yet (or it is being re-created)
    current = deployment["replicas"]
    group = spec.group(body["metadata"]["name"])
    new: dict[str, Any] = {"replicas": deployment["statusReplicas"], "readyReplicas": deployment["readyReplicas"]}
    if reports is None:
        new["conditions"] = set_condition(conditions, type_="Ready", status=False, reason="BrokerUnavailable",
                                          message=f"lag unknown, replicas left at {current}: {problem}",
                                          generation=generation)
        scaler.samples[key] = GroupSample(*key, group, replicas=new["replicas"],
                                          desired_replicas=int(status.get("desiredReplicas", current)), lag={})
    else:
        report = reports[key]
        policy = spec.scaling.policy()
        recommendation, reason = recommend(report.snapshot, policy, current)
        decision = scaler.stabilizers.setdefault(key, Stabilizer()).decide(
            recommendation, reason, current, now, policy.stabilization_window_seconds)
        new.update(desiredReplicas=decision.replicas, totalLag=report.snapshot.total_lag,
                   lagSeconds=round(report.snapshot.lag_seconds, 1), partitions=report.snapshot.partitions,
                   groupState=report.state, members=report.members)
        scaler.samples[key] = GroupSample(*key, group, replicas=new["replicas"],
                                          desired_replicas=decision.replicas, lag=report.per_partition,
                                          lag_seconds=report.snapshot.lag_seconds, members=report.members)
        if report.missing_topics:
            message = (f"topic(s) {', '.join(report.missing_topics)} not found on the broker: group {group} has "
                       "no lag there to scale by")
            new["conditions"] = set_condition(conditions, type_="Ready", status=False, reason="TopicNotFound",
                                              message=message, generation=generation)
            if (find_condition(conditions, "Ready") or {}).get("reason") != "TopicNotFound":
                await post_event(body, type="Warning", reason="TopicNotFound", message=message)
        else:
            new["conditions"] = set_condition(conditions, type_="Ready", status=True, reason="LagCollected",
                                              message=f"lag of group {group} collected", generation=generation)
        if decision.replicas != current or find_condition(conditions, "Scaling") is None:
            # The last scaling decision, in words; kept until the next one so status does not churn.
            new["conditions"] = set_condition(
                new["conditions"], type_="Scaling", status=decision.replicas != current,
                reason="ScaledUp" if decision.replicas > current else "ScaledDown" if decision.replicas < current
                else "Steady", message=decision.reason, generation=generation)
        if decision.replicas != current:
            log.info("ConsumerApp %s/%s: scale %d -> %d: %s", *key, current, decision.replicas, decision.reason,
                     extra={"consumerapp": key[1], "namespace": key[0], "reason": "Scaled",
                            "replicas": decision.replicas, "totalLag": report.snapshot.total_lag})
            await _set_replicas(*key, decision.replicas)
            new["lastScaleTime"] = utc_now()
            await post_event(body, type="Normal", reason="Scaled",
                             message=f"{current} -> {decision.replicas}: {decision.reason}")
    changes = changed_fields(status, new)
    if changes and status_write_due(status, changes, scaler.status_written.get(key), now):
        await kubeapi.patch_status(PLURAL, *key, changes)
        scaler.status_written[key] = now


async def _set_replicas(namespace: str, name: str, replicas: int) -> None:
    """Through the scale subresource: only the replica count changes (the apply handler owns the
    rest of the Deployment)."""
    await asyncio.to_thread(kubeapi.apps().patch_namespaced_deployment_scale, name, namespace,
                            {"spec": {"replicas": replicas}}, field_manager="kafkaops-scaler")


async def scaler_loop(memo: kopf.Memo, index: kopf.Index, deployments: kopf.Index, scaler: Scaler) -> None:
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            await scale_once(memo, index, deployments, scaler)
        except Exception:
            log.exception("scaler cycle failed; trying again")
