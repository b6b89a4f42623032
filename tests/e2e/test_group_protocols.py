"""The protocol matrix: every ConsumerApp status and metric that comes from the group, end to end, for a
classic, a consumer (KIP-848) and a share group (the ``protocol`` fixture). Real members join from this
process (kwok's pods run nothing): one, then three; an empty group with consumed offsets scales to zero;
a group deleted outside the operator is reported as not found and its lag counted anew."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient
from group_protocols import GroupProtocol
from test_consumerapp import app_status, consumer_app, make_topic, produce, replicas_become
from test_metrics_scrape import labelled, scrape

from helpers import eventually
from kafka_clients import members

pytestmark = pytest.mark.e2e

SCALING = {"minReplicas": 0, "maxReplicas": 4, "lagThreshold": 10, "activationLagThreshold": 5,
           "pollIntervalSeconds": 1, "scaleDown": {"stabilizationWindowSeconds": 2}}


def group_fields(api, namespace: str, name: str) -> tuple:
    status = app_status(api, namespace, name)
    return status.get("groupProtocol"), status.get("groupState"), status.get("members")


def test_live_members_are_reported_with_their_protocol_state_and_count(api, topics, namespace, kafka, metrics_url,
                                                                        protocol: GroupProtocol):
    topic = make_topic(topics, 3)
    group = f"live-{protocol.name}-{uuid.uuid4().hex[:6]}"
    consumer_app(api, namespace, "live", topic, {**SCALING, "minReplicas": 1}, **protocol.app_spec(group))
    eventually(lambda: group_fields(api, namespace, "live") == (None, "NotFound", 0), timeout=60,
               what="a group that does not exist yet reported as not found")
    family, label = protocol.members_series()
    seen: set[str] = set()

    def reported(state: str, count: int):
        fields = group_fields(api, namespace, "live")
        seen.add(fields[1])
        return fields == (protocol.name, state, count) and fields

    with members(kafka.bootstrap_servers, protocol.name, group, [topic]):
        eventually(lambda: reported("Stable", 1), timeout=90, what=f"one live {protocol.name} member")
        assert list(labelled(scrape(metrics_url), family, **{label: group}).values()) == [1]
        seen.clear()  # from here on the group exists
        with members(kafka.bootstrap_servers, protocol.name, group, [topic], count=2):
            eventually(lambda: reported("Stable", 3), timeout=90, what=f"three live {protocol.name} members")
            assert list(labelled(scrape(metrics_url), family, **{label: group}).values()) == [3]
    eventually(lambda: reported("Empty", 0), timeout=90, what="the group empty once its members left")
    # joining and leaving passed through whatever rebalance states the protocol has: never Dead, never gone
    assert not seen & {"Dead", "NotFound", "Unknown"}, seen


def test_an_empty_group_scales_to_zero_and_a_group_deleted_outside_is_not_found(api, topics, namespace, kafka,
                                                                               protocol: GroupProtocol):
    topic = make_topic(topics, 2)
    produce(kafka.bootstrap_servers, topic, 2, 10)
    group = f"drained-{protocol.name}-{uuid.uuid4().hex[:6]}"
    protocol.consume(topics.admin, kafka.bootstrap_servers, group, topic, {0: 10, 1: 5})  # 5 left behind
    consumer_app(api, namespace, "drained", topic, SCALING, **protocol.app_spec(group))

    replicas_become(api, namespace, "drained", 0)  # lag 5, at activationLagThreshold: scale to zero
    status = app_status(api, namespace, "drained")
    assert (status["groupProtocol"], status["groupState"], status["members"], status["totalLag"]) == (
        protocol.name, "Empty", 0, 5)

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    assert admin.delete_consumer_groups([group])[group].result(30) is None  # DeleteGroups: any protocol
    # no group, no offsets: the whole log is lag again (autoOffsetReset earliest), 20 / 10 -> 2 replicas
    replicas_become(api, namespace, "drained", 2)
    status = app_status(api, namespace, "drained")
    assert ("groupProtocol" not in status, status["groupState"], status["members"], status["totalLag"]) == (
        True, "NotFound", 0, 20)
