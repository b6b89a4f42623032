"""Protocol, state and member count of many groups of every protocol (classic, consumer/KIP-848, share)
in one pass: one ListGroups (v5, KIP-848: each group's type and state) per broker, all in flight at once,
then one describe per coordinator and protocol for the groups that can have members (DescribeGroups for
classic groups, ConsumerGroupDescribe for consumer groups, ShareGroupDescribe for share groups).

Why: DescribeGroups alone only knows classic groups; a consumer-protocol group answered it as unknown and
read as ``Dead`` with 0 members while its members consumed. Each broker lists the groups it coordinates,
so the broker that listed a group is where it is described: no FindCoordinator, and an ``Empty`` or
``Dead`` group (no members by definition) is not described at all. A group no broker lists does not
exist (``NotFound``, never ``Dead``). Brokers before ListGroups v5 (Kafka < 3.8) have classic groups
only; before v4 (Kafka < 2.6) no state in the list, so every listed group is described.

HAND-WRITTEN PROTOCOL CODE for ConsumerGroupDescribe (API key 69): kafka-python 3.0.12 has ListGroups
and DescribeGroups but not it, and confluent-kafka's describe_consumer_groups sends a request per group
(see fallback_admin). Its schemas (``schemas/ConsumerGroupDescribe*.json``) are Kafka's own, from
kafka-clients 4.4.0. Removable once kafka-python's ``KafkaAdminClient`` describes consumer groups.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kafka.protocol.admin import DescribeGroupsRequest, ListGroupsRequest
from kafka.protocol.api_message import ApiMessage

from kafkaops.kafka.offsets import error_for, exchange
from kafkaops.kafka.share_groups import GROUP_ID_NOT_FOUND, SCHEMAS, ShareGroupDescribeRequest
from kafkaops.types.errors import KafkaUnavailable
from kafkaops.types.groups import NOT_FOUND, GroupStatus

log = logging.getLogger(__name__)


class ConsumerGroupDescribeRequest(ApiMessage, load_json=SCHEMAS):
    pass


class ConsumerGroupDescribeResponse(ApiMessage, load_json=SCHEMAS):
    pass


# States in which a group has no members: its ListGroups entry is the whole answer.
MEMBERLESS = frozenset({"Empty", "Dead"})
# The names status.groupState had when states came from librdkafka's ConsumerGroupState enum (classic only).
_CLASSIC_NAMES = {"PreparingRebalance": "PreparingRebalancing", "CompletingRebalance": "CompletingRebalancing"}
DESCRIBED = ("classic", "consumer", "share")  # protocols with a describe request; others keep members unknown


def list_request() -> ListGroupsRequest:
    """Every group the broker coordinates, of every type and state (empty filters)."""
    return ListGroupsRequest(states_filter=[], types_filter=[])


def read_list(response: Any, node: int, wanted: frozenset[str] | set[str],
              listed: dict[str, tuple[int, GroupStatus]]) -> None:
    """The ``wanted`` groups of one broker's ListGroups answer into ``listed``: (node, status), the status
    with members None (not known from a list) unless the state says there are none."""
    if response.error_code:
        raise error_for(response.error_code, f"groups of broker {node}")
    for group in response.groups:
        if group.group_id not in wanted:
            continue
        protocol = getattr(group, "group_type", None) or "classic"  # before v5 every group is classic
        state = getattr(group, "group_state", None) or None  # before v4 no state: described
        listed[group.group_id] = (node, status_of(protocol, state or "Unknown", 0 if state in MEMBERLESS else None))


def status_of(protocol: str, state: str, members: int | None) -> GroupStatus:
    return GroupStatus(protocol, _CLASSIC_NAMES.get(state, state) if protocol == "classic" else state, members)


def to_describe(listed: Mapping[str, tuple[int, GroupStatus]]) -> dict[tuple[int, str], list[str]]:
    """The groups whose members must be asked, by (coordinator, protocol), in a stable order."""
    batches: dict[tuple[int, str], list[str]] = {}
    for group, (node, status) in sorted(listed.items()):
        if status.members is None and status.protocol in DESCRIBED:
            batches.setdefault((node, status.protocol), []).append(group)
    return batches


def describe_request(protocol: str, groups: Sequence[str]) -> Any:
    if protocol == "classic":
        return DescribeGroupsRequest(groups=list(groups), include_authorized_operations=False)
    if protocol == "consumer":
        return ConsumerGroupDescribeRequest(group_ids=list(groups), include_authorized_operations=False)
    return ShareGroupDescribeRequest(group_ids=list(groups), include_authorized_operations=False, min_version=1)


def read_describe(protocol: str, response: Any, result: dict[str, GroupStatus]) -> None:
    """State and member count per group of a describe answer. A group deleted since it was listed is
    ``NotFound``; one the broker cannot answer for now fails the call (asked again next cycle); one it
    refuses (e.g. not authorized) is ``Unknown`` with members unknown, and logged."""
    for group in response.groups:
        code = group.error_code
        if code == GROUP_ID_NOT_FOUND:
            result[group.group_id] = NOT_FOUND
            continue
        if code:
            error = error_for(code, f"{protocol} group {group.group_id}")
            if isinstance(error, KafkaUnavailable):
                raise error
            log.warning("%s", error)
            result[group.group_id] = GroupStatus(protocol, "Unknown", None)
            continue
        result[group.group_id] = status_of(protocol, group.group_state or "Unknown", len(group.members))


async def _statuses(client: Any, groups: Sequence[str]) -> dict[str, GroupStatus]:
    manager = client._manager
    if not manager.cluster.brokers():
        await manager.cluster.refresh_metadata()
    nodes = sorted(broker.node_id for broker in manager.cluster.brokers())
    wanted = frozenset(groups)
    listed: dict[str, tuple[int, GroupStatus]] = {}
    for node, response in zip(nodes, await exchange(manager, [(node, list_request()) for node in nodes]),
                              strict=True):
        read_list(response, node, wanted, listed)
    result = {group: listed[group][1] if group in listed else NOT_FOUND for group in groups}
    batches = to_describe(listed)
    answers = await exchange(manager, [(node, describe_request(protocol, members))
                                        for (node, protocol), members in batches.items()])
    for (_, protocol), response in zip(batches, answers, strict=True):
        read_describe(protocol, response, result)
    return result


def statuses(client: Any, groups: Sequence[str]) -> dict[str, GroupStatus]:
    """Protocol, state and members of every group (blocking, on kafka-python's I/O thread)."""
    return client._manager.run(_statuses, client, groups)
