"""KafkaUser controller: one SCRAM-SHA-512 user and its ACLs per KafkaUser, on the KafkaUser's cluster.

Level-triggered like the others: watch events feed the cache and enqueue keys; a worker decides
and writes the status; every KafkaUser is checked again every drift interval, so an ACL removed
by hand comes back. The finalizer ``kafkaops.io/user-cleanup`` removes the credential and every
ACL of the user's principal when the KafkaUser goes; its generated Secret goes with it
(ownerReference). Passwords are read from and written to Secrets in the KafkaUser's namespace and
go nowhere else: not into logs, statuses or Events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from kafkaops import GROUP, VERSION, leadership
from kafkaops.changes import handled
from kafkaops.conditions import changed_fields, missing_cluster_reason, ready_condition, seconds_since, set_condition
from kafkaops.handlers.clusters import ClusterRegistry
from kafkaops.handlers.controller import Controller, Key
from kafkaops.handlers.tenancy import AccessPolicies, user_request
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.logs import SECRETS
from kafkaops.metrics import RECONCILIATIONS
from kafkaops.settings import Settings
from kafkaops.tenancy.rules import user_violation
from kafkaops.types.errors import ClusterNotFound, ClusterNotReady, InvalidSpec, KafkaRejected, KafkaUnavailable
from kafkaops.types.users import principal_for
from kafkaops.users.acls import desired_acls, sync_acls, username_for
from kafkaops.users.credentials import (
    ROTATE_ANNOTATION,
    PasswordPlan,
    SecretProblem,
    credential_due,
    named_password,
    own_password,
)
from kafkaops.users.spec import KafkaUserSpec, parse_user_spec

PLURAL = "kafkausers"
FINALIZER = f"{GROUP}/user-cleanup"
# Failures only a change of the spec, the policy or a Secret fixes: the periodic check leaves them.
SETTLED_FAILURES = frozenset({"InvalidSpec", "PolicyViolation", "SecretConflict"})
QUIET_FAILURES = frozenset({"ClusterNotReady"})
log = logging.getLogger(__name__)


def slim_user(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    annotations = meta.get("annotations") or {}
    return {"apiVersion": body["apiVersion"], "kind": body["kind"],
            "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "generation", "deletionTimestamp",
                                                  "resourceVersion", "finalizers")}
            | {"annotations": {k: v for k, v in annotations.items() if k == ROTATE_ANNOTATION},
               "app": owner_app(meta)},
            "spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}


def owner_app(meta: Mapping[str, Any]) -> str | None:
    """The ConsumerApp a KafkaUser was made for (``credentials.user: auto``), if any."""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind") == "ConsumerApp" and ref.get("controller"):
            return str(ref["name"])
    return None


def usable_version(body: Mapping[str, Any] | None) -> str | None:
    """The password Secret version a Ready KafkaUser has applied (None: not usable yet)."""
    status = (body or {}).get("status") or {}
    ready = ready_condition(status).get("status") == "True" and not (body or {}).get("metadata", {}).get(
        "deletionTimestamp")
    return str(status["credentialSecretVersion"]) if ready and status.get("credentialSecretVersion") else None


class UserFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class UserController(Controller):
    def __init__(self, clusters: ClusterRegistry, policies: AccessPolicies, settings: Settings) -> None:
        super().__init__("KafkaUser", PLURAL, workers=min(settings.max_concurrent_reconciles, 50))
        self.clusters, self.policies, self.settings = clusters, policies, settings
        clusters.listeners.append(self.requeue_cluster)
        policies.listeners.append(self.requeue_namespace)
        # Told (namespace, app) when a ConsumerApp's own KafkaUser became usable, changed password or went.
        self.app_listeners: list[Callable[[str, str], None]] = []

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        slim = slim_user(body)
        old = self.observe(event_type, slim)
        self.tell_app(old, None if event_type == "DELETED" else slim)

    def tell_app(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
        """A ConsumerApp's own KafkaUser became usable, got a new password or went: the app decides again."""
        meta = (after or before or {}).get("metadata") or {}
        if meta.get("app") is not None and (after is None or usable_version(before) != usable_version(after)):
            for listener in self.app_listeners:
                listener(str(meta["namespace"]), str(meta["app"]))

    def requeue_cluster(self, cluster: str) -> None:
        for key, body in list(self.bodies.items()):
            if str(((body.get("spec") or {}).get("clusterRef") or {}).get("name") or "default") == cluster:
                self.queue.add(key)

    def requeue_namespace(self, namespace: str) -> None:
        for key in list(self.bodies):
            if key[0] == namespace:
                self.queue.add(key)

    def resync(self) -> None:
        for key, body in list(self.bodies.items()):
            if ready_condition(body.get("status") or {}).get("reason") not in SETTLED_FAILURES:
                self.queue.add(key)

    async def process(self, key: Key) -> None:
        await self.clusters.synced.wait()
        await self.policies.synced.wait()
        body = self.bodies.get(key)
        if body is None or not leadership.is_leading():
            return
        await self.act(key, body)

    async def reconcile(self, key: Key, body: dict[str, Any]) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        username = username_for(*key)
        try:
            spec = self.spec(key, body)
            await self.keep_finalizer(key, body)
            users = self.clusters.users(spec.cluster)
            password, secret_name, version = await self.password(key, body, spec, username)
            SECRETS.add(frozenset({password}))
            rotation = meta.get("annotations", {}).get(ROTATE_ANNOTATION)
            has_credential = bool(await users.describe_scram_credentials(username))
            if credential_due(secret_version=version, applied_version=status.get("credentialSecretVersion"),
                              broker_has_credential=has_credential):
                await users.upsert_scram_credential(username, password)
                log.info("KafkaUser %s/%s: credential of %s written", *key, username)
            desired = desired_acls(principal_for(username), spec)
            created, deleted = await sync_acls(users, principal_for(username), desired)
        except UserFailure as failure:
            await self.report(key, body, False, failure.reason, failure.message)
            self.queue.forget(key)
            return
        except ClusterNotFound as error:
            reason = missing_cluster_reason(status, self.settings.cluster_wait_seconds)
            await self.report(key, body, False, reason, error.message)
            if reason == "ClusterNotReady":
                self.queue.add_rate_limited(key)  # until the wait is over: then Stalled
            return
        except ClusterNotReady as error:
            await self.report(key, body, False, "ClusterNotReady", error.message)
            return
        except KafkaUnavailable as error:
            await self.report(key, body, False, "BrokerUnavailable", str(error))
            self.queue.add_rate_limited(key)
            return
        except KafkaRejected as error:
            await self.report(key, body, False, error.reason, error.message)
            self.queue.add_rate_limited(key)
            return
        changes = [f"+{acl}" for acl in sorted(created)] + [f"-{acl}" for acl in sorted(deleted)]
        new_generation, previous = not handled(body), ready_condition(status)
        if new_generation or changes or previous.get("status") != "True":
            reason = "Applied"
            message = f"user {username}: {len(desired)} ACL(s)" + (f"; changed {', '.join(changes)}" if changes else "")
        else:  # nothing happened: keep saying what last happened, write nothing
            reason, message = str(previous.get("reason")), str(previous.get("message"))
        await self.report(key, body, True, reason, message, extra={
            "username": username, "secret": secret_name, "acls": len(desired), "credentialSecretVersion": version,
            **({"passwordRotation": rotation} if rotation else {})})
        if changes and not new_generation:
            await post_event(body, type="Normal", reason="AclsCorrected", message=message)
        self.queue.forget(key)
        RECONCILIATIONS.labels("KafkaUser", "ok").inc()

    def spec(self, key: Key, body: Mapping[str, Any]) -> KafkaUserSpec:
        try:
            spec = parse_user_spec(body.get("spec") or {})
        except InvalidSpec as error:
            raise UserFailure("InvalidSpec", str(error)) from None
        if self.policies.applies(key[0]):
            verdict = self.policies.verdict(key[0], lambda policy: user_violation(policy, user_request(spec)))
            if verdict is not None and verdict.refused:
                raise UserFailure("PolicyViolation", f"{verdict.message}; nothing on the broker is changed")
        return spec

    async def password(self, key: Key, body: Mapping[str, Any], spec: KafkaUserSpec, username: str
                       ) -> tuple[str, str, str]:
        """(password, Secret name, the Secret's resourceVersion)."""
        namespace, name = key
        ref = spec.authentication.password_secret_ref
        try:
            if ref is not None:
                view = await api.read_secret(namespace, ref.name)
                return named_password(ref.name, ref.key, view), ref.name, view.version if view else ""
            view = await api.read_secret(namespace, name)
            rotation = (body["metadata"].get("annotations") or {}).get(ROTATE_ANNOTATION)
            plan: PasswordPlan = own_password(
                name=name, namespace=namespace, uid=body["metadata"]["uid"], username=username, secret=view,
                rotate=bool(rotation) and rotation != (body.get("status") or {}).get("passwordRotation"))
        except SecretProblem as problem:
            raise UserFailure(problem.reason, problem.message) from None
        if plan.write is None:
            assert view is not None
            return plan.password, name, view.version
        version = await api.write_secret(plan.write, replace_version=plan.replace_version)
        log.info("KafkaUser %s/%s: password %s in Secret %s", *key, "generated" if view is None else "rotated", name)
        return plan.password, name, version

    async def report(self, key: Key, body: dict[str, Any], ready: bool, reason: str, message: str,
                     extra: Mapping[str, Any] | None = None) -> None:
        status = body.get("status") or {}
        generation = body["metadata"].get("generation", 0)
        previous = ready_condition(status)
        new = {"observedGeneration": generation, **(extra or {}),
               "conditions": set_condition(status.get("conditions") or [], type_="Ready", status=ready, reason=reason,
                                           message=message, generation=generation)}
        changes = changed_fields(status, new)
        if changes:
            before = {**body, "status": dict(status)}
            await api.patch_status(PLURAL, *key, changes)
            self.merge_status(key, changes)
            # Our own write reaches the cache before its watch event does: tell the owning app here.
            self.tell_app(before, self.bodies.get(key))
        if not ready:
            RECONCILIATIONS.labels("KafkaUser", "error").inc()
            log.info("KafkaUser %s/%s: %s: %s", *key, reason, message)
            if reason not in QUIET_FAILURES and previous.get("reason") != reason:
                await post_event(body, type="Warning", reason=reason, message=message)

    async def keep_finalizer(self, key: Key, body: dict[str, Any]) -> None:
        finalizers = list(body["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:
            await self.set_finalizers(key, body, [*finalizers, FINALIZER])

    async def finalize(self, key: Key, body: dict[str, Any]) -> None:
        """Remove the user's credential and every ACL of its principal, then let the KafkaUser go. A
        cluster that is gone or unreachable past the deletion timeout leaves them (an Event says so)."""
        meta = body["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        username = username_for(*key)
        cluster = str(((body.get("spec") or {}).get("clusterRef") or {}).get("name") or "default")
        try:
            users = self.clusters.users(cluster)
            removed = await users.delete_all_acls(principal_for(username))
            await users.delete_scram_credential(username)
        except (ClusterNotReady, KafkaUnavailable, KafkaRejected) as error:
            if seconds_since(meta["deletionTimestamp"]) < self.settings.deletion_timeout_seconds:
                self.queue.add_rate_limited(key)
                return
            await post_event(body, type="Warning", reason="CleanupAbandoned",
                             message=f"user {username} was NOT removed from Kafka: {error}")
        else:
            await post_event(body, type="Normal", reason="Deleted",
                             message=f"user {username}: credential and {removed} ACL(s) removed")
        await self.set_finalizers(key, body, [f for f in meta.get("finalizers") or [] if f != FINALIZER])
        self.queue.forget(key)


async def user_check_loop(controller: UserController, interval: float) -> None:
    """Drift: every KafkaUser again (an ACL removed or added by hand is put right)."""
    while True:
        await asyncio.sleep(interval)
        controller.resync()


@kopf.on.event(GROUP, VERSION, PLURAL)
async def kafkauser_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.users.on_event(event.get("type"), event["object"])

