"""The adapter's own ListOffsets / Metadata / OffsetFetch handling (``kafka.offsets``): answers
encoded as a broker sends them and decoded by kafka-python, then walked into plain dicts."""

from __future__ import annotations

import pytest
from kafka.protocol.consumer.group import OffsetFetchResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata import MetadataResponse

from kafkaops.kafka.offsets import (
    by_leader,
    error_for,
    list_offsets_request,
    offset_fetch_request,
    read_leaders,
    read_list_offsets,
    read_offset_fetch,
)
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable, TopicMissing


def wire(message, version):
    """``message`` as it crosses the wire at ``version`` and is read back."""
    return type(message).decode(message.encode(version=version), version=version)


LO_TOPIC = ListOffsetsResponse.ListOffsetsTopicResponse
LO_PARTITION = LO_TOPIC.ListOffsetsPartitionResponse


def list_offsets_answer(topics, version):
    return wire(ListOffsetsResponse(version=version, throttle_time_ms=0, topics=[
        LO_TOPIC(name=name, partitions=[LO_PARTITION(partition_index=p, error_code=code, timestamp=-1, offset=offset)
                                        for p, code, offset in partitions])
        for name, partitions in topics]), version)


@pytest.mark.parametrize("version", [1, 4, 9])
@pytest.mark.parametrize(("topics", "offsets", "errors"), [
    pytest.param([], {}, {}, id="empty"),
    pytest.param([("a", [(0, 0, 7), (1, 0, 0)]), ("b", [(2, 0, 12)])],
                 {("a", 0): 7, ("a", 1): 0, ("b", 2): 12}, {}, id="offsets of two topics"),
    pytest.param([("a", [(0, 0, 7), (1, 6, -1)])], {("a", 0): 7}, {("a", 1): 6}, id="not leader"),
    pytest.param([("gone", [(0, 3, -1), (1, 3, -1)])], {}, {("gone", 0): 3, ("gone", 1): 3}, id="unknown topic"),
])
def test_list_offsets_answer_walked_into_offsets_and_error_codes(version, topics, offsets, errors):
    got, got_errors = {}, {}
    read_list_offsets(list_offsets_answer(topics, version), got, got_errors)
    assert (got, got_errors) == (offsets, errors)


@pytest.mark.parametrize(("partitions", "leaders", "grouped"), [
    pytest.param([], {}, {}, id="none"),
    pytest.param([("a", 0), ("a", 1), ("b", 0)], {("a", 0): 1, ("a", 1): 1, ("b", 0): 1},
                 {1: {"a": [0, 1], "b": [0]}}, id="one leader"),
    pytest.param([("a", 0), ("a", 1), ("b", 0)], {("a", 0): 1, ("a", 1): 2, ("b", 0): 2},
                 {1: {"a": [0]}, 2: {"a": [1], "b": [0]}}, id="two leaders"),
])
def test_partitions_grouped_by_leader_and_topic(partitions, leaders, grouped):
    assert by_leader(partitions, leaders) == grouped


@pytest.mark.parametrize("timestamp", [-1, -2])
def test_list_offsets_request_names_every_partition_once(timestamp):
    request = wire(list_offsets_request({"a": [0, 2], "b": [1]}, timestamp), 9)
    assert isinstance(request, ListOffsetsRequest)
    assert [(t.name, [(p.partition_index, p.timestamp) for p in t.partitions]) for t in request.topics] == \
        [("a", [(0, timestamp), (2, timestamp)]), ("b", [(1, timestamp)])]


MD_TOPIC = MetadataResponse.MetadataResponseTopic
MD_PARTITION = MD_TOPIC.MetadataResponsePartition
MD_BROKER = MetadataResponse.MetadataResponseBroker


def metadata_answer(topics, version=12):
    return wire(MetadataResponse(
        version=version, throttle_time_ms=0, cluster_id="c", controller_id=1,
        brokers=[MD_BROKER(node_id=1, host="localhost", port=9092, rack=None)],
        topics=[MD_TOPIC(error_code=code, name=name, is_internal=False, partitions=[
            MD_PARTITION(error_code=p_code, partition_index=p, leader_id=leader, leader_epoch=0, replica_nodes=[1],
                         isr_nodes=[1], offline_replicas=[]) for p, p_code, leader in partitions])
                for name, code, partitions in topics]), version)


@pytest.mark.parametrize(("topics", "leaders", "topic_errors", "partition_errors"), [
    pytest.param([("a", 0, [(0, 0, 1), (1, 0, 2)])], {("a", 0): 1, ("a", 1): 2}, {}, {}, id="leaders"),
    pytest.param([("gone", 3, [])], {}, {"gone": 3}, {}, id="unknown topic"),
    pytest.param([("a", 0, [(0, 5, -1), (1, 9, 1)])], {("a", 1): 1}, {}, {("a", 0): 5},
                 id="no leader; a replica down still has one"),
    pytest.param([("a", 0, [(0, 0, -1)])], {}, {}, {("a", 0): 5}, id="no leader without an error code"),
])
def test_metadata_answer_walked_into_leaders(topics, leaders, topic_errors, partition_errors):
    assert read_leaders(metadata_answer(topics)) == (leaders, topic_errors, partition_errors)


OF_GROUP = OffsetFetchResponse.OffsetFetchResponseGroup
OF_TOPIC = OF_GROUP.OffsetFetchResponseTopics
OF_PARTITION = OF_TOPIC.OffsetFetchResponsePartitions


def offset_fetch_answer(groups, version):
    return wire(OffsetFetchResponse(version=version, throttle_time_ms=0, groups=[
        OF_GROUP(group_id=group, error_code=code, topics=[
            OF_TOPIC(name=name, partitions=[OF_PARTITION(partition_index=p, committed_offset=offset,
                                                         committed_leader_epoch=-1, metadata="", error_code=p_code)
                                            for p, offset, p_code in partitions])
            for name, partitions in topics])
        for group, code, topics in groups]), version)


@pytest.mark.parametrize("version", [8, 9])
@pytest.mark.parametrize(("groups", "committed", "errors"), [
    pytest.param([], {}, {}, id="no groups"),
    pytest.param([("g1", 0, [("a", [(0, 4, 0), (1, 20, 0)])]), ("g2", 0, [])],
                 {"g1": {("a", 0): 4, ("a", 1): 20}, "g2": {}}, {}, id="committed, and a group that never did"),
    pytest.param([("g1", 0, [("a", [(0, -1, 0), (1, 3, 0)])])], {"g1": {("a", 1): 3}}, {},
                 id="a partition without a committed offset"),
    pytest.param([("g1", 14, []), ("g2", 0, [("a", [(0, 1, 0)])])], {"g2": {("a", 0): 1}}, {"g1": 14},
                 id="one group's coordinator loading"),
    pytest.param([("g1", 0, [("a", [(0, 1, 0), (1, 2, 88)])])], {}, {"g1": 88},
                 id="a partition's error fails its group"),
])
def test_offset_fetch_answer_walked_per_group(version, groups, committed, errors):
    got, got_errors = {}, {}
    read_offset_fetch(offset_fetch_answer(groups, version), got, got_errors)
    assert (got, got_errors) == (committed, errors)


def test_offset_fetch_request_asks_all_offsets_of_every_group():
    request = wire(offset_fetch_request(["g1", "g2"]), 8)
    assert [(g.group_id, g.topics) for g in request.groups] == [("g1", None), ("g2", None)]


@pytest.mark.parametrize(("code", "kind", "reason"), [
    pytest.param(3, TopicMissing, None, id="unknown topic or partition"),
    pytest.param(100, TopicMissing, None, id="unknown topic id"),
    pytest.param(5, KafkaUnavailable, None, id="leader not available"),
    pytest.param(6, KafkaUnavailable, None, id="not leader"),
    pytest.param(14, KafkaUnavailable, None, id="coordinator loading"),
    pytest.param(16, KafkaUnavailable, None, id="not coordinator"),
    pytest.param(29, KafkaRejected, "NotAuthorized", id="topic authorization"),
    pytest.param(30, KafkaRejected, "NotAuthorized", id="group authorization"),
    pytest.param(42, KafkaRejected, "KafkaError", id="invalid request"),
])
def test_error_codes_become_the_domain_errors(code, kind, reason):
    error = error_for(code, "log offsets of a[0]")
    assert type(error) is kind
    assert "log offsets of a[0]" in str(error)
    if reason is not None:
        assert error.reason == reason and error.code == code
