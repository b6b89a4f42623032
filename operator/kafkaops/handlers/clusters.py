"""KafkaCluster controller and the registry of Kafka clients per cluster.

A worker per KafkaCluster reads its Secrets (in the operator's namespace only), probes the
cluster, writes its status and keeps one ``KafkaAdmin`` per cluster in the registry, rebuilt
when the connection or a Secret's value changes (a rotated password reconnects without a
restart). Each cluster is probed again every ``cluster_probe_interval_seconds``. When a
cluster's readiness changes, the KafkaTopics and ConsumerApps on it are queued again, so they
converge by themselves. Objects without ``clusterRef`` use the cluster the operator's
environment configures (``default``), as before KafkaClusters existed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from kafkaops import GROUP, VERSION, leadership
from kafkaops.clusters.credentials import resolve_credentials
from kafkaops.clusters.spec import parse_cluster_connection
from kafkaops.clusters.status import cluster_status
from kafkaops.conditions import changed_fields, ready_condition, seconds_since, utc_now
from kafkaops.handlers.controller import Controller, Key
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.kafka.connection import confluent_config, probe, python_config
from kafkaops.kafka.users import KafkaUserAdmin
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.logs import SECRETS
from kafkaops.settings import Settings
from kafkaops.types.clusters import (
    NO_CREDENTIALS,
    ClientSettings,
    ClusterConnection,
    ClusterProbe,
    ClusterProbeFailed,
    ClusterReason,
    ResolvedCredentials,
)
from kafkaops.types.errors import ClusterNotFound, ClusterNotReady, InvalidSpec
from kafkaops.types.specs import DEFAULT_CLUSTER
from kafkaops.types.users import UserAdmin

PLURAL = "kafkaclusters"
# Only the probe time changed: written at most this often (the condition says everything else).
PROBE_TIME_INTERVAL_SECONDS = 300.0
log = logging.getLogger(__name__)


@dataclass
class ClusterEntry:
    ready: bool
    why: str  # "Reason: message" while not ready
    admin: KafkaAdmin | None = None
    fingerprint: str = ""
    clients: ClientSettings | None = None
    users: UserAdmin | None = None  # SCRAM credentials and ACLs (KafkaUsers)


def fingerprint(connection: ClusterConnection, credentials: ResolvedCredentials) -> str:
    """Changes when anything the clients are built from changes (hashed: no secret kept in clear)."""
    material = json.dumps([repr(connection), credentials.ca_pem, credentials.client_certificate_pem,
                           credentials.client_key_pem, credentials.username, credentials.password])
    return hashlib.sha256(material.encode()).hexdigest()


def client_settings(connection: ClusterConnection, credentials: ResolvedCredentials) -> ClientSettings:
    env = {"KAFKA_SECURITY_PROTOCOL": connection.security_protocol}
    if connection.sasl is not None:
        env["KAFKA_SASL_MECHANISM"] = connection.sasl.mechanism.value
    return ClientSettings(bootstrap_servers=",".join(connection.bootstrap_servers), env=env,
                          ca_pem=credentials.ca_pem)


def default_client_settings(settings: Settings) -> ClientSettings:
    """The operator's configured cluster: its security settings as KAFKA_* variables (never secret
    values: SASL passwords come from the app's credentialsSecretRef)."""
    env = {f"KAFKA_{key.upper().replace('.', '_')}": value for key, value in settings.kafka_properties.items()
           if key in ("security.protocol", "sasl.mechanism", "sasl.mechanisms")}
    return ClientSettings(bootstrap_servers=settings.bootstrap_servers, env=env)


class ClusterRegistry:
    """Kafka clients per cluster, shared by every object of that cluster."""

    def __init__(self, default_admin: KafkaAdmin, default_clients: ClientSettings,
                 default_users: UserAdmin | None = None) -> None:
        self.entries: dict[str, ClusterEntry] = {
            DEFAULT_CLUSTER: ClusterEntry(True, "", default_admin, clients=default_clients, users=default_users)}
        self.listeners: list[Callable[[str], None]] = []
        self.synced = asyncio.Event()  # every KafkaCluster listed at start has been probed once

    def admin(self, cluster: str) -> KafkaAdmin:
        entry = self.entries.get(cluster)
        if entry is None:
            raise ClusterNotFound(cluster, "no such KafkaCluster")
        if not entry.ready or entry.admin is None:
            raise ClusterNotReady(cluster, entry.why)
        return entry.admin

    def users(self, cluster: str) -> UserAdmin:
        self.admin(cluster)  # raises while not ready
        users = self.entries[cluster].users
        if users is None:
            raise ClusterNotReady(cluster, "no user administration for this cluster")
        return users

    def clients(self, cluster: str) -> ClientSettings:
        self.admin(cluster)  # raises while not ready
        clients = self.entries[cluster].clients
        assert clients is not None  # a ready entry always has them
        return clients

    def set_ready(self, cluster: str, admin: KafkaAdmin, print_: str, clients: ClientSettings,
                  users: UserAdmin | None = None) -> None:
        previous = self.entries.get(cluster)
        if previous is not None and previous.admin is not None and previous.admin is not admin:
            previous.admin.close()
        changed = previous is None or not previous.ready or previous.fingerprint != print_
        self.entries[cluster] = ClusterEntry(True, "", admin, print_, clients,
                                             users if users is not None or previous is None else previous.users)
        if changed:
            self._notify(cluster)

    def set_not_ready(self, cluster: str, why: str) -> None:
        """Keep the clients (the next probe may find the cluster back), refuse their use."""
        previous = self.entries.get(cluster)
        if previous is not None and not previous.ready and previous.why == why:
            return
        if previous is None:
            self.entries[cluster] = ClusterEntry(False, why)
        else:
            previous.ready, previous.why = False, why
        self._notify(cluster)

    def remove(self, cluster: str) -> None:
        entry = self.entries.pop(cluster, None)
        if entry is not None and entry.admin is not None:
            entry.admin.close()
        self._notify(cluster)

    def close(self) -> None:
        for entry in self.entries.values():
            if entry.admin is not None:
                entry.admin.close()

    def _notify(self, cluster: str) -> None:
        for listener in self.listeners:
            listener(cluster)


class ClusterController(Controller):
    """KafkaClusters: cluster-scoped, keyed ("", name)."""

    def __init__(self, registry: ClusterRegistry, settings: Settings, namespace: str) -> None:
        super().__init__("KafkaCluster", PLURAL, workers=4)
        self.registry, self.settings, self.namespace = registry, settings, namespace

    async def list_keys(self, namespaces: Iterable[str] = ()) -> set[Key]:
        """Cluster-scoped: listed cluster-wide whatever namespaces are watched. A missing CRD (an
        upgrade that has not applied it yet) counts as no KafkaClusters, so that objects on the
        configured cluster do not wait for one."""
        try:
            return await api.list_keys(self.plural)
        except api.ApiException as error:
            if error.status != 404:
                raise
            log.warning("the KafkaCluster CRD is not installed: only the configured Kafka cluster is served")
            return set()

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        slim = {"apiVersion": body["apiVersion"], "kind": body["kind"],
                "metadata": {k: meta.get(k) for k in ("name", "uid", "generation", "deletionTimestamp")},
                "spec": dict(body.get("spec") or {}), "status": dict(body.get("status") or {})}
        self.observe(event_type, slim)
        if event_type == "DELETED":
            self.registry.remove(str(meta["name"]))

    async def process(self, key: Key) -> None:
        body = self.bodies.get(key)
        if body is None:
            return
        try:
            await self.reconcile(key, body)
        finally:
            if key in self.bodies:
                self.queue.add_after(key, self.settings.cluster_probe_interval_seconds)

    async def reconcile(self, key: Key, body: dict[str, Any]) -> None:
        name = key[1]
        credentials = NO_CREDENTIALS
        outcome: ClusterProbe | ClusterProbeFailed
        try:
            connection = parse_cluster_connection(name, body.get("spec") or {})
            credentials = resolve_credentials(connection, await api.read_secrets(
                self.namespace, connection.secret_names()), namespace=self.namespace)
            SECRETS.add(credentials.secret_values())
            outcome = await asyncio.to_thread(probe, connection, credentials,
                                              min(10.0, self.settings.request_timeout_seconds))
        except InvalidSpec as error:
            outcome = ClusterProbeFailed(ClusterReason.INVALID_SPEC, str(error))
        except ClusterProbeFailed as failure:
            outcome = failure
        if isinstance(outcome, ClusterProbe):
            self.connected(name, connection, credentials)
        else:
            self.registry.set_not_ready(name, f"{outcome.reason}: {outcome.message}")
        await self.write_status(key, body, outcome, credentials)

    def connected(self, name: str, connection: ClusterConnection, credentials: ResolvedCredentials) -> None:
        """Build the cluster's clients, unless the ones it has were built from the same settings."""
        print_ = fingerprint(connection, credentials)
        entry = self.registry.entries.get(name)
        if entry is not None and entry.admin is not None and entry.fingerprint == print_:
            self.registry.set_ready(name, entry.admin, print_, client_settings(connection, credentials))
            return
        settings = self.settings
        admin = KafkaAdmin(confluent_config(connection, credentials), linger=settings.batch_linger_ms / 1000,
                           mutation_linger=settings.mutation_linger_ms / 1000,
                           request_timeout=settings.request_timeout_seconds,
                           python_config=python_config(connection, credentials,
                                                       request_timeout=settings.request_timeout_seconds))
        users = KafkaUserAdmin(confluent_config(connection, credentials),
                               request_timeout=settings.request_timeout_seconds)
        log.info("KafkaCluster %s: clients %s", name, "rebuilt" if entry and entry.admin else "created")
        self.registry.set_ready(name, admin, print_, client_settings(connection, credentials), users)

    async def write_status(self, key: Key, body: dict[str, Any], outcome: ClusterProbe | ClusterProbeFailed,
                           credentials: ResolvedCredentials) -> None:
        if not leadership.is_leading():
            return
        status = body.get("status") or {}
        new = cluster_status(outcome, status=status, generation=body["metadata"].get("generation"), now=utc_now(),
                             secrets=credentials.secret_values())
        changes = changed_fields(status, new)
        if set(changes) <= {"lastProbeTime"} and not probe_time_due(status.get("lastProbeTime")):
            return
        previous, ready = ready_condition(status), ready_condition(new)
        await api.patch_cluster_status(PLURAL, key[1], changes)
        self.merge_status(key, changes)
        if ready.get("reason") != previous.get("reason"):
            connected = ready.get("status") == "True"
            log.log(logging.INFO if connected else logging.WARNING, "KafkaCluster %s: %s: %s", key[1],
                    ready.get("reason"), ready.get("message"))
            await post_event(body, type="Normal" if connected else "Warning", reason=str(ready.get("reason")),
                             message=str(ready.get("message")))


def probe_time_due(last: str | None) -> bool:
    return not last or seconds_since(last) >= PROBE_TIME_INTERVAL_SECONDS


@kopf.on.event(GROUP, VERSION, PLURAL)
async def kafkacluster_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.clusters.on_event(event.get("type"), event["object"])
