"""ConsumerApp controller: kopf's watch events on ConsumerApps and their Deployments feed two
caches and enqueue ConsumerApp keys; a worker applies the Deployment the spec describes; one
operator-wide scaler loop collects lag for every app and sets replicas.

One writer at a time per app: the worker and the scaler both take the app's lock for every
write (Deployment, replicas, status) and read the latest cached state inside it, so a spec
change applied during a scale keeps the scaler's replica count. No kopf timers, daemons or
change handlers: they would put a finalizer or kopf's annotations on every ConsumerApp.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.changes import handled
from kafkaops.conditions import find_condition, set_condition, utc_now
from kafkaops.consumers.autoscale import Stabilizer, recommend
from kafkaops.consumers.collector import AppQuery, GroupReport, LagCollector
from kafkaops.consumers.deployment import (
    APP_LABEL,
    APPLY_MANAGER,
    SCALE_MANAGER,
    SPEC_HASH_ANNOTATION,
    DeploymentView,
    build_deployment,
    deployment_view,
    injected_env,
    needs_apply,
)
from kafkaops.consumers.spec import ConsumerAppSpec, parse_consumer_spec
from kafkaops.consumers.status import changed_fields, status_write_due
from kafkaops.handlers.controller import Controller, Key, key_of, retried
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.metrics import LAG_COLLECTION_SECONDS, RECONCILIATIONS, GroupSample
from kafkaops.types.errors import InvalidSpec, KafkaRejected, KafkaUnavailable
from kafkaops.workqueue import StartupProgress

PLURAL = "consumerapps"
TICK_SECONDS = 1.0
# Ready reasons the worker writes; the others (LagCollected, TopicNotFound, BrokerUnavailable) are
# the scaler's, and a re-check that changes nothing must not overwrite them.
APPLY_FAILURES = frozenset({"InvalidSpec", "DeploymentRejected"})
log = logging.getLogger(__name__)


class DeploymentRejected(Exception):
    """The API server refused the Deployment built from the spec (e.g. an invalid pod template)."""


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


def api_message(error: Any) -> str:
    """The API server's own message out of an ApiException's JSON body."""
    try:
        return str(json.loads(error.body).get("message") or error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


def slim_app(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return {"apiVersion": body["apiVersion"], "kind": body["kind"],
            "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "generation", "deletionTimestamp")},
            "spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}


class ConsumerController(Controller):
    """ConsumerApps and the Deployments they own, and the one lock per app both writers take."""

    def __init__(self, settings: Any) -> None:
        super().__init__("ConsumerApp", PLURAL, settings.max_concurrent_reconciles)
        self.settings = settings
        self.deployments: dict[Key, DeploymentView] = {}
        self.locks: dict[Key, asyncio.Lock] = {}
        self.specs: dict[Key, tuple[Any, ConsumerAppSpec | None]] = {}
        self.owned: StartupProgress[Key] = StartupProgress("Deployment", self.started)
        self.deployments_synced = asyncio.Event()

    async def list_deployments_at_start(self, namespaces: Iterable[str]) -> None:
        """The Deployments we own that exist now: no ConsumerApp is worked on before they are all in
        the cache, or a restart would take every existing Deployment for a missing one and apply it."""
        keys = await retried(f"start-up listing of {self.owned.kind}s",
                             lambda: api.list_owned_deployments(APP_LABEL, namespaces))
        self.owned.listed(keys)
        self._deployments_seen()

    def _deployments_seen(self) -> None:
        if self.owned.synced and not self.deployments_synced.is_set():
            self.deployments_synced.set()
            log.info("start-up: %d owned Deployment(s) cached", self.owned.total)

    def lock(self, key: Key) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def on_app_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        self.observe(event_type, slim_app(body))
        if event_type == "DELETED":
            key = key_of(body)
            self.specs.pop(key, None)
            lock = self.locks.get(key)
            if lock is not None and not lock.locked():
                del self.locks[key]

    def on_deployment_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Re-queue the owner only when its Deployment went away or was edited by someone else
        (status updates and the scaler's own scaling do not)."""
        key = (str(body["metadata"]["namespace"]), str(body["metadata"]["labels"][APP_LABEL]))
        self.owned.seen(key)
        self._deployments_seen()
        if event_type == "DELETED":
            self.deployments.pop(key, None)
            self.queue.add(key)
            return
        view = deployment_view(body)
        previous = self.deployments.get(key)
        self.deployments[key] = view
        if view.edited or (previous is not None and previous.spec_hash != view.spec_hash):
            self.queue.add(key)

    def spec_of(self, body: Mapping[str, Any]) -> ConsumerAppSpec | None:
        """The parsed spec, parsed once per generation (None if invalid: the worker says why)."""
        key, generation = key_of(body), body["metadata"].get("generation")
        cached = self.specs.get(key)
        if cached is None or cached[0] != generation:
            try:
                cached = (generation, parse_consumer_spec(body["spec"]))
            except InvalidSpec:
                cached = (generation, None)
            self.specs[key] = cached
        return cached[1]

    async def process(self, key: Key) -> None:
        await self.deployments_synced.wait()
        async with self.lock(key):
            body = self.bodies.get(key)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return  # gone or going: garbage collection deletes the Deployment
            try:
                await self.reconcile(key, body)
            except api.ApiException as error:
                if not self.expected_refusal(key, error):
                    raise

    async def reconcile(self, key: Key, body: dict[str, Any]) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        generation = meta.get("generation", 0)
        conditions = status.get("conditions") or []
        new_generation = not handled(body)
        try:
            spec = parse_consumer_spec(body["spec"])
        except InvalidSpec as error:
            await self.report_failure(key, body, "InvalidSpec", str(error))
            return
        view = self.deployments.get(key)
        policy = spec.scaling.policy()
        # The replica count is the scaler's: carried over as it is, only kept within the spec's bounds.
        replicas = max(policy.min_replicas, min(view.replicas if view else policy.min_replicas, policy.max_replicas))
        manifest = desired_deployment(meta, spec, replicas, self.settings.bootstrap_servers,
                                      security_env(self.settings.kafka_properties))
        if needs_apply(view, manifest) or (view is not None and view.replicas != replicas):
            try:
                await apply_deployment(manifest)
            except api.ApiException as error:
                if error.status in (400, 422):
                    await self.report_failure(key, body, "DeploymentRejected",
                                              f"the API server refused the Deployment: {api_message(error)}")
                    return
                raise
            self.deployments[key] = DeploymentView(replicas, view.status_replicas if view else 0,
                                                   view.ready_replicas if view else 0,
                                                   manifest["metadata"]["annotations"][SPEC_HASH_ANNOTATION],
                                                   edited=False)
            log.info("ConsumerApp %s/%s: Deployment %s with %d replicas", *key,
                     "restored" if view is not None and not new_generation else "applied", replicas,
                     extra={"consumerapp": key[1], "namespace": key[0], "reason": "DeploymentApplied"})
        previous = (find_condition(conditions, "Ready") or {}).get("reason")
        if new_generation or previous in APPLY_FAILURES or previous is None:
            await self.write_status(key, body, {
                "observedGeneration": generation, "groupId": spec.group(meta["name"]),
                "conditions": set_condition(conditions, type_="Ready", status=True, reason="DeploymentApplied",
                                            message=f"Deployment {meta['name']} applied with {replicas} replicas",
                                            generation=generation)})
        RECONCILIATIONS.labels("ConsumerApp", "ok").inc()

    async def report_failure(self, key: Key, body: dict[str, Any], reason: str, message: str) -> None:
        status = body.get("status") or {}
        generation = body["metadata"].get("generation", 0)
        previous = find_condition(status.get("conditions") or [], "Ready") or {}
        await self.write_status(key, body, {
            "observedGeneration": generation,
            "conditions": set_condition(status.get("conditions") or [], type_="Ready", status=False, reason=reason,
                                        message=message, generation=generation)})
        if previous.get("reason") != reason or previous.get("message") != message:
            await post_event(body, type="Warning", reason=reason, message=message)
        RECONCILIATIONS.labels("ConsumerApp", "error").inc()

    async def write_status(self, key: Key, body: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
        """Patch what differs from the cached status, and cache it (call with the app's lock held)."""
        changes = changed_fields(body.get("status") or {}, new)
        if changes:
            await api.patch_status(PLURAL, *key, changes)
            self.merge_status(key, changes)
        return changes

    async def set_replicas(self, key: Key, replicas: int) -> None:
        """Through the scale subresource: only the replica count changes (call with the lock held)."""
        api.drained(await api.write(api.apps().patch_namespaced_deployment_scale, key[1], key[0],
                                            {"spec": {"replicas": replicas}}, field_manager=SCALE_MANAGER,
                                            _preload_content=False))
        view = self.deployments.get(key)
        if view is not None:
            self.deployments[key] = replace(view, replicas=replicas)


async def apply_deployment(manifest: Mapping[str, Any]) -> None:
    """Server-side apply as field manager ``kafkaops``: what we set wins, the rest is left alone."""
    meta = manifest["metadata"]
    api.drained(await api.write(api.apps().patch_namespaced_deployment, meta["name"], meta["namespace"],
                                       manifest, field_manager=APPLY_MANAGER, force=True,
                                       _content_type="application/apply-patch+yaml", _preload_content=False))


class Scaler:
    """The scaler loop's memory: lag history, stabilizers, when each app was last polled, and
    what the last poll saw of each app (served to Prometheus)."""

    def __init__(self) -> None:
        self.collector = LagCollector()
        self.stabilizers: dict[Key, Stabilizer] = {}
        self.polled: dict[Key, float] = {}
        self.samples: dict[Key, GroupSample] = {}
        self.status_written: dict[Key, float] = {}

    def due(self, apps: list[tuple[dict[str, Any], ConsumerAppSpec]], now: float
            ) -> list[tuple[dict[str, Any], ConsumerAppSpec]]:
        return [(body, spec) for body, spec in apps
                if now - self.polled.get(key_of(body), float("-inf")) >= spec.scaling.poll_interval_seconds]

    def prune(self, live: set[Key]) -> None:
        for key in set(self.polled) - live:
            self.polled.pop(key, None)
            self.stabilizers.pop(key, None)
            self.samples.pop(key, None)
            self.status_written.pop(key, None)
            self.collector.forget(key)


def scalable(controller: ConsumerController) -> Iterable[tuple[dict[str, Any], ConsumerAppSpec]]:
    """Apps whose current generation the worker has applied, with a valid spec."""
    for body in list(controller.bodies.values()):
        if handled(body) and not body["metadata"].get("deletionTimestamp"):
            spec = controller.spec_of(body)
            if spec is not None:
                yield body, spec


async def scale_once(admin: Any, controller: ConsumerController, scaler: Scaler) -> None:
    """One cycle: collect lag for the apps that are due, decide, apply replicas, write status."""
    now = time.time()
    apps = list(scalable(controller))
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
            reports: dict[Key, GroupReport] | None = await scaler.collector.collect(admin, queries, now)
        problem = ""
    except (KafkaUnavailable, KafkaRejected) as error:
        reports, problem = None, str(error)
        log.warning("lag collection failed, replicas of %d ConsumerApps left as they are: %s", len(due), problem)
    results = await asyncio.gather(*(scale_app(controller, key_of(body), spec, reports, problem, scaler, now)
                                     for body, spec in due), return_exceptions=True)
    for error in (r for r in results if isinstance(r, BaseException)):
        if not api.is_namespace_terminating(error):
            log.warning("scaling one ConsumerApp failed: %s", error)


async def scale_app(controller: ConsumerController, key: Key, spec: ConsumerAppSpec,
                    reports: dict[Key, GroupReport] | None, problem: str, scaler: Scaler, now: float) -> None:
    async with controller.lock(key):
        body = controller.bodies.get(key)
        deployment = controller.deployments.get(key)
        if body is None or deployment is None or not handled(body):
            return  # gone, not created yet (or being re-created), or a new spec the worker has not applied
        await decide_and_scale(controller, key, body, spec, deployment, reports, problem, scaler, now)


async def decide_and_scale(controller: ConsumerController, key: Key, body: dict[str, Any], spec: ConsumerAppSpec,
                           deployment: DeploymentView, reports: dict[Key, GroupReport] | None, problem: str,
                           scaler: Scaler, now: float) -> None:
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    conditions = status.get("conditions") or []
    current = deployment.replicas
    group = spec.group(body["metadata"]["name"])
    new: dict[str, Any] = {"replicas": deployment.status_replicas, "readyReplicas": deployment.ready_replicas}
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
        decision = scaler.stabilizers.setdefault(key, Stabilizer.starting_at(current, now)).decide(
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
            await controller.set_replicas(key, decision.replicas)
            new["lastScaleTime"] = utc_now()
            await post_event(body, type="Normal", reason="Scaled",
                             message=f"{current} -> {decision.replicas}: {decision.reason}")
    changes = changed_fields(status, new)
    # An app seen for the first time (after a restart too) has the status the last poll wrote: its lag
    # figures are only due again after the usual interval, decisions and conditions at once.
    last_written = scaler.status_written.setdefault(key, now)
    if changes and status_write_due(status, changes, last_written, now):
        await controller.write_status(key, body, changes)
        scaler.status_written[key] = now


async def scaler_loop(admin: Any, controller: ConsumerController, scaler: Scaler) -> None:
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            await scale_once(admin, controller, scaler)
        except Exception:
            log.exception("scaler cycle failed; trying again")


@kopf.on.event(GROUP, VERSION, PLURAL)
def consumerapp_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.consumers.on_app_event(event.get("type"), event["object"])


@kopf.on.event("apps", "v1", "deployments", labels={APP_LABEL: kopf.PRESENT})
def deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.consumers.on_deployment_event(event.get("type"), event["object"])
