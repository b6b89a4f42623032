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
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.changes import handled
from kafkaops.conditions import changed_fields, missing_cluster_reason, ready_condition, set_condition
from kafkaops.consumers.deployment import (
    APP_LABEL,
    APPLY_MANAGER,
    SCALE_MANAGER,
    SPEC_HASH_ANNOTATION,
    DeploymentView,
    app_kafka_user,
    ca_configmap,
    deployment_view,
    desired_deployment,
    needs_apply,
)
from kafkaops.consumers.spec import ConsumerAppSpec, group_config_due, parse_consumer_spec, share_group_config
from kafkaops.handlers.clusters import ClusterRegistry
from kafkaops.handlers.controller import Controller, Key, key_of, retried
from kafkaops.handlers.tenancy import AccessPolicies, consumer_request
from kafkaops.handlers.users import UserController, usable_version
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.metrics import RECONCILIATIONS
from kafkaops.settings import Settings
from kafkaops.tenancy.rules import consumer_violation
from kafkaops.types.errors import ClusterNotFound, ClusterNotReady, InvalidSpec, KafkaRejected, KafkaUnavailable
from kafkaops.workqueue import StartupProgress

PLURAL = "consumerapps"
# Ready reasons the worker writes; the others (LagCollected, TopicNotFound, BrokerUnavailable) are
# the scaler's, and a re-check that changes nothing must not overwrite them.
APPLY_FAILURES = frozenset({"InvalidSpec", "DeploymentRejected", "ClusterNotReady", "PolicyViolation",
                            "CredentialsPending"})
# The worker's verdicts that stop the scaler: it neither reads the group's lag nor scales.
SCALER_HELD = frozenset({"PolicyViolation"})
# Failures an app only inherits from its KafkaCluster, whose own status says so: no Event per app.
QUIET_FAILURES = frozenset({"ClusterNotReady", "CredentialsPending"})
log = logging.getLogger(__name__)


class DeploymentRejected(Exception):
    """The API server refused the Deployment built from the spec (e.g. an invalid pod template)."""


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

    def __init__(self, clusters: ClusterRegistry, policies: AccessPolicies, users: UserController,
                 settings: Settings) -> None:
        super().__init__("ConsumerApp", PLURAL, settings.max_concurrent_reconciles)
        self.settings, self.clusters, self.policies, self.users = settings, clusters, policies, users
        clusters.listeners.append(self.requeue_cluster)
        policies.listeners.append(self.requeue_namespace)
        users.app_listeners.append(lambda namespace, app: self.queue.add((namespace, app)))
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

    def requeue_cluster(self, cluster: str) -> None:
        """The cluster came, went or changed (a new CA, say): its apps are applied again."""
        for key, body in self.bodies.items():
            spec = self.spec_of(body)
            if spec is not None and spec.cluster == cluster:
                self.queue.add(key)

    def requeue_namespace(self, namespace: str) -> None:
        """Its KafkaAccessPolicy came, changed or went: its apps decide again."""
        for key in list(self.bodies):
            if key[0] == namespace:
                self.queue.add(key)

    async def process(self, key: Key) -> None:
        await self.deployments_synced.wait()
        await self.clusters.synced.wait()
        await self.policies.synced.wait()
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
        verdict = self.policies.verdict(key[0], lambda policy: consumer_violation(
            policy, consumer_request(meta["name"], spec))) if self.policies.applies(key[0]) else None
        if verdict is not None and verdict.refused:
            await self.report_failure(key, body, "PolicyViolation", f"{verdict.message}; the Deployment is left as "
                                      "it is and not scaled")
            return
        if verdict is not None and new_generation:
            await post_event(body, type="Warning", reason="NoAccessPolicy", message=verdict.message)
        view = self.deployments.get(key)
        policy = spec.policy()
        # The replica count is the scaler's: carried over as it is, only kept within the spec's bounds.
        replicas = max(policy.min_replicas, min(view.replicas if view else policy.min_replicas, policy.max_replicas))
        try:
            clients = self.clusters.clients(spec.cluster)
        except ClusterNotReady as error:
            reason = (missing_cluster_reason(status, self.settings.cluster_wait_seconds)
                      if isinstance(error, ClusterNotFound) else "ClusterNotReady")
            await self.report_failure(key, body, reason, f"{error.message}; the Deployment is left as it is")
            if isinstance(error, ClusterNotFound) and reason == "ClusterNotReady":
                self.queue.add_rate_limited(key)  # until the wait is over: then Stalled
            return
        credentials_version = None
        if spec.auto_user:
            user = app_kafka_user(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], spec=spec)
            await api.apply_custom_object("kafkausers", user, APPLY_MANAGER)
            cached = self.users.bodies.get((meta["namespace"], user["metadata"]["name"]))
            credentials_version = usable_version(cached)
            if credentials_version is None:
                why = ready_condition((cached or {}).get("status") or {})
                await self.report_failure(key, body, "CredentialsPending", f"waiting for KafkaUser "
                                          f"{user['metadata']['name']} ({why.get('reason', 'not reconciled yet')}: "
                                          f"{why.get('message', '')}); the Deployment is applied once it is Ready")
                return
        group_config, applied_config = share_group_config(spec), status.get("shareGroupConfig")
        config_pending = False
        if group_config_due(group_config, applied_config):  # before the Deployment: a first fetch starts the group
            if await self.set_group_config(body, spec.cluster, spec.group(meta["name"]), group_config,
                                           announce=new_generation):
                applied_config = group_config
            else:
                config_pending = True
        manifest = desired_deployment(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], spec=spec,
                                      replicas=replicas, clients=clients, credentials_version=credentials_version)
        if needs_apply(view, manifest) or (view is not None and view.replicas != replicas):
            try:
                if clients.ca_pem:
                    await api.apply_configmap(ca_configmap(name=meta["name"], namespace=meta["namespace"],
                                                           uid=meta["uid"], ca_pem=clients.ca_pem), APPLY_MANAGER)
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
        previous = ready_condition(status).get("reason")
        if new_generation or previous in APPLY_FAILURES or previous is None or \
                applied_config != status.get("shareGroupConfig"):
            await self.write_status(key, body, {
                "observedGeneration": generation, "groupId": spec.group(meta["name"]),
                "groupType": spec.group_type, **({"shareGroupConfig": applied_config} if applied_config else {}),
                "conditions": set_condition(conditions, type_="Ready", status=True, reason="DeploymentApplied",
                                            message=f"Deployment {meta['name']} applied with {replicas} replicas",
                                            generation=generation)})
        if config_pending:
            self.queue.add_rate_limited(key)
        RECONCILIATIONS.labels("ConsumerApp", "ok").inc()

    async def set_group_config(self, body: dict[str, Any], cluster: str, group: str, config: Mapping[str, str],
                               *, announce: bool) -> bool:
        """True once written. A refusal (no AlterConfigs right on the group, a broker without share
        groups) or an unreachable broker is retried with backoff and announced as a Warning Event once
        per spec generation; the Deployment is applied all the same (a Kafka outage must not hold up a
        rollout)."""
        try:
            await self.clusters.admin(cluster).set_group_config(group, config)
        except (ClusterNotReady, KafkaUnavailable, KafkaRejected) as error:
            settings = ", ".join(f"{key}={value}" for key, value in config.items())
            log.warning("ConsumerApp %s/%s: could not set %s on share group %s: %s; retrying",
                        body["metadata"]["namespace"], body["metadata"]["name"], settings, group, error)
            if announce:
                await post_event(body, type="Warning", reason="GroupConfigNotSet",
                                 message=f"could not set {settings} on share group {group}: {error}; retrying "
                                         "with backoff (or set it with kafka-configs.sh --entity-type groups)")
            return False
        log.info("ConsumerApp %s/%s: share group %s configured: %s", body["metadata"]["namespace"],
                 body["metadata"]["name"], group, dict(config))
        return True

    async def report_failure(self, key: Key, body: dict[str, Any], reason: str, message: str) -> None:
        status = body.get("status") or {}
        generation = body["metadata"].get("generation", 0)
        previous = ready_condition(status)
        await self.write_status(key, body, {
            "observedGeneration": generation,
            "conditions": set_condition(status.get("conditions") or [], type_="Ready", status=False, reason=reason,
                                        message=message, generation=generation)})
        if reason not in QUIET_FAILURES and (previous.get("reason") != reason or previous.get("message") != message):
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


@kopf.on.event(GROUP, VERSION, PLURAL)
async def consumerapp_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.consumers.on_app_event(event.get("type"), event["object"])


@kopf.on.event("apps", "v1", "deployments", labels={APP_LABEL: kopf.PRESENT})
async def deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.consumers.on_deployment_event(event.get("type"), event["object"])
