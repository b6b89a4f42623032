"""The hand-written share-group requests (kafkaops.kafka.share_groups): their bytes on the wire,
checked against the Kafka protocol's flexible encoding by hand, and the decoding of answers into
the collector's terms. The real broker's answers are tested in tests/integration/test_share_groups.py."""

from __future__ import annotations

import struct
import uuid

import pytest

from kafkaops.kafka import group_states, share_groups
from kafkaops.kafka.share_groups import (
    DescribeShareGroupOffsetsResponse,
    ShareGroupError,
    SharePartitionOffsets,
)

pytestmark = pytest.mark.unit


def compact_string(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data) + 1]) + data


def int32(value: int) -> bytes:
    return struct.pack(">i", value)


def int64(value: int) -> bytes:
    return struct.pack(">q", value)


NO_TAGS = b"\x00"


@pytest.mark.parametrize(("request_", "expected"), [
    # ShareGroupDescribe v1: GroupIds (compact array of compact strings), IncludeAuthorizedOperations, tags
    (group_states.describe_request("share", ["g"]), b"\x02" + compact_string("g") + b"\x00" + NO_TAGS),
    (group_states.describe_request("share", ["a", "bc"]),
     b"\x03" + compact_string("a") + compact_string("bc") + b"\x00" + NO_TAGS),
    # DescribeShareGroupOffsets v1: Groups[GroupId, Topics[TopicName, Partitions[int32]]], every partition named
    (share_groups.offsets_request({"g": {"t": 2}}),
     b"\x02" + compact_string("g") + b"\x02" + compact_string("t") + b"\x03" + int32(0) + int32(1)
     + NO_TAGS + NO_TAGS + NO_TAGS),
    (share_groups.offsets_request({"g": {"b": 1, "a": 1}, "h": {}}),
     b"\x03" + compact_string("g") + b"\x03" + compact_string("a") + b"\x02" + int32(0) + NO_TAGS
     + compact_string("b") + b"\x02" + int32(0) + NO_TAGS + NO_TAGS
     + compact_string("h") + b"\x01" + NO_TAGS + NO_TAGS),
])
def test_requests_on_the_wire(request_, expected):
    assert request_.encode(version=1) == expected


def test_request_keys_and_versions():
    assert (share_groups.ShareGroupDescribeRequest.API_KEY, share_groups.DescribeShareGroupOffsetsRequest.API_KEY) \
        == (77, 90)
    # v1 of DescribeShareGroupOffsets is the one with KIP-1226's Lag; the request insists on it
    assert share_groups.offsets_request({"g": {"t": 1}})._min_version == 1
    assert group_states.describe_request("share", ["g"])._min_version == 1


TOPIC_ID = uuid.UUID("ce00821d-0729-4e90-94a6-c4129cdd73cf")


def test_offsets_response_from_the_wire_reads_the_lag_of_kip_1226():
    partition = (int32(0) + int64(30) + int32(0) + int64(20) + b"\x00\x00" + b"\x00" + NO_TAGS)  # start 30, lag 20
    body = (int32(0) + b"\x02" + compact_string("g") + b"\x02" + compact_string("t") + TOPIC_ID.bytes
            + b"\x02" + partition + NO_TAGS + b"\x00\x00" + b"\x00" + NO_TAGS + NO_TAGS)
    response = DescribeShareGroupOffsetsResponse.decode(body, version=1)
    assert share_groups.parse_offsets(response) == {"g": {("t", 0): SharePartitionOffsets(30, 20)}}


OffsetsGroup = DescribeShareGroupOffsetsResponse.DescribeShareGroupOffsetsResponseGroup
OffsetsTopic = OffsetsGroup.DescribeShareGroupOffsetsResponseTopic
OffsetsPartition = OffsetsTopic.DescribeShareGroupOffsetsResponsePartition


def offsets_group(group: str, partitions: list[tuple[int, int, int, int]], error: int = 0) -> OffsetsGroup:
    """partitions: (index, start offset, lag, error code) on topic "t"."""
    return OffsetsGroup(group_id=group, error_code=error, error_message=None, topics=[OffsetsTopic(
        topic_name="t", topic_id=TOPIC_ID, partitions=[
            OffsetsPartition(partition_index=index, start_offset=start, leader_epoch=0, lag=lag, error_code=code,
                             error_message=None)
            for index, start, lag, code in partitions])])


@pytest.mark.parametrize(("groups", "expected"), [
    ([offsets_group("g", [(0, 0, 20, 0), (1, 5, 0, 0)])],
     {"g": {("t", 0): SharePartitionOffsets(0, 20), ("t", 1): SharePartitionOffsets(5, 0)}}),
    # never read by the group: the broker's -1 start and lag; left for the offset-reset rule
    ([offsets_group("g", [(0, -1, -1, 0), (1, 7, 3, 0)])], {"g": {("t", 1): SharePartitionOffsets(7, 3)}}),
    # GROUP_ID_NOT_FOUND: nothing known yet
    ([offsets_group("g", [], error=69), offsets_group("h", [(0, 1, 1, 0)])],
     {"g": {}, "h": {("t", 0): SharePartitionOffsets(1, 1)}}),
])
def test_offsets_decoding(groups, expected):
    response = DescribeShareGroupOffsetsResponse(throttle_time_ms=0, groups=groups, version=1)
    decoded = DescribeShareGroupOffsetsResponse.decode(response.encode(version=1), version=1)
    assert share_groups.parse_offsets(decoded) == expected


@pytest.mark.parametrize(("groups", "code", "retriable"), [
    ([offsets_group("g", [], error=16)], 16, True),  # NOT_COORDINATOR
    ([offsets_group("g", [], error=14)], 14, True),  # COORDINATOR_LOAD_IN_PROGRESS
    ([offsets_group("g", [], error=30)], 30, False),  # GROUP_AUTHORIZATION_FAILED
    ([offsets_group("g", [(0, 0, 0, 29)])], 29, False),  # TOPIC_AUTHORIZATION_FAILED on a partition
])
def test_offsets_errors(groups, code, retriable):
    response = DescribeShareGroupOffsetsResponse(throttle_time_ms=0, groups=groups, version=1)
    with pytest.raises(ShareGroupError) as raised:
        share_groups.parse_offsets(response)
    assert (raised.value.code, raised.value.retriable) == (code, retriable)
    assert str(code) in str(raised.value)
