"""Where a new share group starts is the broker-side group config ``share.auto.offset.reset``: the
operator writes the spec's ``autoOffsetReset`` there before the Deployment whose consumers would start the
group, records it in status, and retries a refusal (one Event per generation); the Deployment is applied
all the same."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops.consumers.spec import group_config_due, parse_consumer_spec, share_group_config
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


def app(generation: int, status: dict, **spec) -> dict:
    return {"apiVersion": "kafkaops.io/v1alpha1", "kind": "ConsumerApp",
            "metadata": {"name": "jobs", "namespace": "ns", "uid": "u", "generation": generation},
            "spec": {"topics": ["jobs"], "template": TEMPLATE, "groupId": "queue", **spec}, "status": status}


@pytest.mark.parametrize(("desired", "applied", "due"), [
    ({}, None, False),  # a classic group
    ({}, {"share.auto.offset.reset": "latest"}, False),
    ({"share.auto.offset.reset": "latest"}, None, True),  # never written (or refused so far)
    ({"share.auto.offset.reset": "latest"}, {"share.auto.offset.reset": "latest"}, False),
    ({"share.auto.offset.reset": "earliest"}, {"share.auto.offset.reset": "latest"}, True),  # the spec changed
])
def test_group_config_due(desired, applied, due):
    assert group_config_due(desired, applied) is due


EARLIEST = {"share.auto.offset.reset": "earliest"}


@pytest.mark.parametrize(("spec", "refusal", "calls", "recorded", "event"), [
    # written once, before the Deployment, and recorded: the next pass writes nothing
    ({"groupType": "share", "autoOffsetReset": "earliest"}, None, [("queue", EARLIEST)], EARLIEST, None),
    ({"autoOffsetReset": "earliest"}, None, [], None, None),  # a classic group: nothing to write
    # refused or unreachable: not recorded, tried again on the next pass, one Event per generation
    ({"groupType": "share", "autoOffsetReset": "earliest"}, KafkaRejected("ClusterAuthorizationFailed", "denied"),
     [("queue", EARLIEST)] * 2, None, "GroupConfigNotSet"),
    ({"groupType": "share"}, KafkaUnavailable("broker down"), [("queue", {"share.auto.offset.reset": "latest"})] * 2,
     None, "GroupConfigNotSet"),
])
def test_the_group_config_is_written_before_the_deployment_until_it_lands(monkeypatch, spec, refusal, calls,
                                                                            recorded, event):
    admin, writes, events, statuses = Admin(refusal), [], [], []

    async def apply(manifest):
        writes.append(("deployment", list(admin.calls)))

    async def patch_status(plural, namespace, name, changes):
        statuses.append(changes)
        await asyncio.sleep(0)

    async def post_event(body, *, type, reason, message):  # noqa: A002  (post_event's own keyword)
        events.append(reason)

    monkeypatch.setattr(consumers, "apply_deployment", apply)
    monkeypatch.setattr(consumers.api, "patch_status", patch_status)
    monkeypatch.setattr(consumers, "post_event", post_event)

    async def scenario():
        clusters = ClusterRegistry(admin, default_client_settings(Settings()))
        clusters.synced.set()
        policies = AccessPolicies(Settings())
        policies.synced.set()
        controller = consumers.ConsumerController(clusters, policies, UserController(clusters, policies, Settings()),
                                                 Settings())
        controller.deployments_synced.set()
        controller.on_app_event("ADDED", app(1, {}, **spec))
        await controller.process(KEY)
        # The same generation, handled, with the status the first pass wrote (as the watch brings it back).
        controller.on_app_event("MODIFIED", app(1, controller.bodies[KEY]["status"], **spec))
        await controller.process(KEY)

    asyncio.run(scenario())
    assert admin.calls == calls
    assert writes[0] == ("deployment", calls[:1])  # the config first, then the Deployment (refused or not)
    assert statuses[0].get("shareGroupConfig") == recorded
    assert events == ([event] if event else [])
