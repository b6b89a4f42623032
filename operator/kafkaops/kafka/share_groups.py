"""Share groups (KIP-932) as the lag collector needs them: state, members and per-partition
backlog of many share groups, one request per group coordinator per kind.

HAND-WRITTEN PROTOCOL CODE. Neither Python client has share-group admin calls: confluent-kafka
2.16.1 (librdkafka 2.16) ships a ``ShareConsumer`` but no ``describe_share_groups`` nor
``list_share_group_offsets``, and kafka-python 3.0.12 has no share-group requests at all. So the
two requests are sent here through kafka-python's protocol layer, with Kafka's own message schemas
(``kafkaops/kafka/schemas/*.json``, copied unchanged from kafka-clients 4.4.0):

- ShareGroupDescribe (API key 77, v1): group state and members (sent by ``group_states``);
- DescribeShareGroupOffsets (API key 90, v1 with KIP-1226's per-partition ``Lag``, Kafka 4.2+).

Coordinators are found with FindCoordinator key type GROUP (share groups live on the group
coordinator). This module and the schemas are removable once a maintained client offers both
calls for many groups per coordinator: kafka-python's ``KafkaAdminClient`` gaining
``describe_share_groups`` / ``list_share_group_offsets`` (or confluent-kafka's AdminClient gaining
them without librdkafka's one-request-per-group fan-out, see fallback_admin.py), at which point
``group_states`` / ``FallbackAdmin.share_offsets`` call it instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka.admin import KafkaAdminClient
from kafka.protocol.api_message import ApiMessage

from kafkaops.kafka.offsets import groups_by_coordinator
from kafkaops.types.groups import SharePartitionOffsets

SCHEMAS = "kafkaops.kafka.schemas"


class ShareGroupDescribeRequest(ApiMessage, load_json=SCHEMAS):
    pass


class ShareGroupDescribeResponse(ApiMessage, load_json=SCHEMAS):
    pass


class DescribeShareGroupOffsetsRequest(ApiMessage, load_json=SCHEMAS):
    pass


class DescribeShareGroupOffsetsResponse(ApiMessage, load_json=SCHEMAS):
    pass


# Kafka's error codes that say "not now" rather than "never": the collection is retried next cycle.
RETRIABLE_ERRORS = {14: "COORDINATOR_LOAD_IN_PROGRESS", 15: "COORDINATOR_NOT_AVAILABLE", 16: "NOT_COORDINATOR"}
GROUP_ID_NOT_FOUND = 69
# The broker's ``Lag`` and start offset when it has no share-partition state (never read by the group).
UNKNOWN = -1

ShareOffsets = dict[str, dict[tuple[str, int], SharePartitionOffsets]]


class ShareGroupError(Exception):
    """A group- or partition-level error code in a share-group response."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def retriable(self) -> bool:
        return self.code in RETRIABLE_ERRORS


def _error(code: int, what: str, message: str | None) -> ShareGroupError:
    name = RETRIABLE_ERRORS.get(code, "")
    return ShareGroupError(code, " ".join(part for part in (f"{what}: error {code}", name, message or "") if part))


def offsets_request(groups: Mapping[str, Mapping[str, int]]) -> DescribeShareGroupOffsetsRequest:
    """Offsets of each group on its topics (topic -> partition count). Every partition is named, so
    the answer covers partitions the group never read too (start offset and lag -1)."""
    group_struct = DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup
    topic_struct = group_struct.DescribeShareGroupOffsetsRequestTopic
    return DescribeShareGroupOffsetsRequest(
        groups=[group_struct(group_id=group,
                             topics=[topic_struct(topic_name=topic, partitions=list(range(count)))
                                     for topic, count in sorted(topics.items())])
                for group, topics in groups.items()],
        min_version=1)


def parse_offsets(response: DescribeShareGroupOffsetsResponse) -> ShareOffsets:
    """Per group, (start offset, lag) per partition. Partitions without share-partition state (the
    broker's -1) are left out: the collector counts them by the app's offset-reset rule."""
    result: ShareOffsets = {}
    for group in response.groups:
        offsets = result[group.group_id] = {}
        if group.error_code == GROUP_ID_NOT_FOUND:
            continue
        if group.error_code:
            raise _error(group.error_code, f"share group {group.group_id} offsets", group.error_message)
        for topic in group.topics:
            for partition in topic.partitions:
                if partition.error_code:
                    raise _error(partition.error_code, f"share group {group.group_id} offsets of "
                                 f"{topic.topic_name}-{partition.partition_index}", partition.error_message)
                if partition.start_offset != UNKNOWN and partition.lag != UNKNOWN:
                    offsets[(topic.topic_name, partition.partition_index)] = SharePartitionOffsets(
                        partition.start_offset, partition.lag)
    return result


async def _offsets(client: KafkaAdminClient, groups: Mapping[str, Mapping[str, int]]) -> ShareOffsets:
    result: ShareOffsets = {}
    for node, members in (await groups_by_coordinator(client, list(groups))).items():
        request = offsets_request({group: groups[group] for group in members})
        result.update(parse_offsets(await client._manager.send(request, node_id=node)))
    return result


def offsets(client: KafkaAdminClient, groups: Mapping[str, Mapping[str, int]]) -> ShareOffsets:
    """DescribeShareGroupOffsets of every group on its topics, one request per coordinator (blocking)."""
    return client._manager.run(_offsets, client, groups)
