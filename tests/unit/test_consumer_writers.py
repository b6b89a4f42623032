"""One writer at a time per ConsumerApp: the worker's apply and the scaler's replica change race
here on purpose (each write yields to the event loop mid-flight, as a real API call does). The
store below stands in for the API server's Deployment only to record the order of writes; the
real API server is exercised by the e2e tests."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kafkaops.consumers.autoscale import GroupSnapshot
from kafkaops.consumers.collector import GroupReport
from kafkaops.handlers import consumers, scaler
from kafkaops.handlers.clusters import ClusterRegistry, default_client_settings
from kafkaops.handlers.tenancy import AccessPolicies
from kafkaops.handlers.users import UserController
from kafkaops.settings import Settings

pytestmark = pytest.mark.unit
KEY = ("ns", "app")


def app(generation=1, observed=1, image="consumer:1"):
    return {"apiVersion": "kafkaops.io/v1alpha1", "kind": "ConsumerApp",
            "metadata": {"name": "app", "namespace": "ns", "uid": "u", "generation": generation},
            "spec": {"topics": ["orders"], "template": {"spec": {"containers": [{"name": "c", "image": image}]}},
                     "scaling": {"minReplicas": 1, "maxReplicas": 10, "lagThreshold": 10}},
            "status": {"observedGeneration": observed}}


class SlowDeployment:
    """Writes take time, like a round trip to the API server; an apply (a whole Deployment) longer
    than a scale, so that without the lock the scale would land first and be overwritten."""

    def __init__(self) -> None:
        self.replicas: int | None = None
        self.writes: list[tuple[str, int]] = []

    async def apply(self, manifest):
        await asyncio.sleep(0.05)
        self.replicas = manifest["spec"]["replicas"]
        self.writes.append(("apply", self.replicas))

    async def call(self, function, name, namespace, body, **_):
        await asyncio.sleep(0.01)
        self.replicas = body["spec"]["replicas"]
        self.writes.append(("scale", self.replicas))
        return SimpleNamespace(read=lambda: b"{}")  # the response body, read and dropped


async def no_status_write(*_args, **_kwargs):
    await asyncio.sleep(0)


async def no_event(*_args, **_kwargs):
    return None


def test_a_spec_change_applied_while_the_scaler_scales_keeps_the_scalers_replicas(monkeypatch):
    store = SlowDeployment()
    monkeypatch.setattr(consumers, "apply_deployment", store.apply)
    monkeypatch.setattr(consumers.api, "write", store.call)
    monkeypatch.setattr(consumers.api, "patch_status", no_status_write)
    monkeypatch.setattr(consumers, "post_event", no_event)
    monkeypatch.setattr(scaler, "post_event", no_event)
    monkeypatch.setattr(consumers.api, "apps", lambda: SimpleNamespace(patch_namespaced_deployment_scale=None))

    async def scenario():
        clusters = ClusterRegistry(object(), default_client_settings(Settings()))  # no Kafka call in this test
        clusters.synced.set()
        policies = AccessPolicies(Settings())
        policies.synced.set()  # the start-up listing found none
        controller = consumers.ConsumerController(clusters, policies, UserController(clusters, policies, Settings()),
                                                 Settings())
        controller.deployments_synced.set()  # the start-up listing found none
        controller.on_app_event("ADDED", app())
        await controller.process(KEY)  # creates the Deployment at minReplicas
        spec = controller.spec_of(controller.bodies[KEY])
        # Someone edits the Deployment by hand: the worker restores it, carrying the replica count over.
        controller.on_deployment_event("MODIFIED", {
            "metadata": {"name": "app", "namespace": "ns", "labels": {consumers.APP_LABEL: "app"},
                         "annotations": {consumers.SPEC_HASH_ANNOTATION: controller.deployments[KEY].spec_hash},
                         "managedFields": [{"manager": "kubectl-edit", "operation": "Update",
                                            "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"replicas": 1}, "status": {}})
        backlog = GroupReport(snapshot=GroupSnapshot(total_lag=50, lag_seconds=0, partitions=12), state="Stable",
                              members=1, per_partition={})
        # The restore starts first and reads the replicas; the scaler decides 5 while it is in flight.
        await asyncio.gather(
            controller.process(KEY),
            scaler.scale_app(controller, KEY, spec, scaler.Collected({KEY: backlog}), scaler.ScalerState(), now=0.0))
        return controller

    controller = asyncio.run(scenario())
    assert store.writes == [("apply", 1), ("apply", 1), ("scale", 5)]  # restore, then the scale
    assert store.replicas == 5 and controller.deployments[KEY].replicas == 5
