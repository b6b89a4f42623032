"""Where a new share group starts is the broker-side group config ``share.auto.offset.reset``: the
operator writes the spec's ``autoOffsetReset`` there, once per spec generation, before the Deployment
whose consumers would start the group; a refusal is an Event and the Deployment is applied all the same."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.consumers.spec import parse_consumer_spec, share_group_config
from kafkaops.handlers import consumers
from kafkaops.handlers.clusters import ClusterRegistry, default_client_settings
from kafkaops.handlers.tenancy import AccessPolicies
from kafkaops.handlers.users import UserController
from kafkaops.settings import Settings
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable

pytestmark = pytest.mark.unit
KEY = ("ns", "jobs")
TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "worker:1"}]}}


@pytest.mark.parametrize(("spec", "config"), [
    ({}, {}),  # a classic group: its consumers read KAFKA_AUTO_OFFSET_RESET
    ({"autoOffsetReset": "earliest"}, {}),
    ({"groupType": "share"}, {"share.auto.offset.reset": "latest"}),  # the default, written too
    ({"groupType": "share", "autoOffsetReset": "earliest"}, {"share.auto.offset.reset": "earliest"}),
])
def test_share_group_config(spec, config):
    assert share_group_config(parse_consumer_spec({"topics": ["jobs"], "template": TEMPLATE, **spec})) == config


class Admin:
    def __init__(self, refusal: Exception | None) -> None:
        self.refusal, self.calls = refusal, []

    async def set_group_config(self, group, config):
        self.calls.append((group, dict(config)))
        if self.refusal is not None:
            raise self.refusal


def app(generation: int, observed: int, **spec) -> dict:
    return {"apiVersion": "kafkaops.io/v1alpha1", "kind": "ConsumerApp",
            "metadata": {"name": "jobs", "namespace": "ns", "uid": "u", "generation": generation},
            "spec": {"topics": ["jobs"], "template": TEMPLATE, "groupId": "queue", **spec},
            "status": {"observedGeneration": observed}}


@pytest.mark.parametrize(("spec", "refusal", "calls", "event"), [
    ({"groupType": "share", "autoOffsetReset": "earliest"}, None,
     [("queue", {"share.auto.offset.reset": "earliest"})], None),
    ({"autoOffsetReset": "earliest"}, None, [], None),
    ({"groupType": "share", "autoOffsetReset": "earliest"}, KafkaRejected("ClusterAuthorizationFailed", "denied"),
     [("queue", {"share.auto.offset.reset": "earliest"})], "GroupConfigNotSet"),
    ({"groupType": "share"}, KafkaUnavailable("broker down"), [("queue", {"share.auto.offset.reset": "latest"})],
     "GroupConfigNotSet"),
])
def test_the_group_config_is_set_once_per_generation_before_the_deployment(monkeypatch, spec, refusal, calls, event):
    admin, writes, events = Admin(refusal), [], []

    async def apply(manifest):
        writes.append(("deployment", list(admin.calls)))

    async def no_status_write(*_args, **_kwargs):
        await asyncio.sleep(0)

    async def post_event(body, *, type, reason, message):  # noqa: A002  (post_event's own keyword)
        events.append(reason)

    monkeypatch.setattr(consumers, "apply_deployment", apply)
    monkeypatch.setattr(consumers.api, "patch_status", no_status_write)
    monkeypatch.setattr(consumers, "post_event", post_event)

    async def scenario():
        clusters = ClusterRegistry(admin, default_client_settings(Settings()))
        clusters.synced.set()
        policies = AccessPolicies(Settings())
        policies.synced.set()
        controller = consumers.ConsumerController(clusters, policies, UserController(clusters, policies, Settings()),
                                                 Settings())
        controller.deployments_synced.set()
        controller.on_app_event("ADDED", app(1, 0, **spec))
        await controller.process(KEY)
        controller.on_app_event("MODIFIED", app(1, 1, **spec))  # the same generation, handled: not again
        await controller.process(KEY)

    asyncio.run(scenario())
    assert admin.calls == calls
    assert writes[0] == ("deployment", calls)  # the config first, then the Deployment (refused or not)
    assert events == ([event] if event else [])
