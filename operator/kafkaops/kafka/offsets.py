"""Log offsets and committed offsets read with Kafka's own requests, over kafka-python's connections:
one ListOffsets per partition leader and one OffsetFetch (v8+, KIP-709) per group coordinator, each
answer walked once into a plain ``{(topic, partition): offset}`` dict.

Why not the clients' helpers: confluent-kafka's ``list_offsets`` makes a Python future (with a
``Condition``) per partition, a third of the operator's CPU at 15,000 partitions; kafka-python's
``list_partition_offsets`` and ``list_group_offsets`` a ``TopicPartition`` and a named tuple per
partition, and the former a metadata request (turned into dicts) per call. Here the partition
leaders are cached, asked again (one metadata request) only for a partition not seen before or
after an answer that says the leader moved, and then the request is sent once more.

Only the sends and waits run on kafka-python's I/O thread (``KafkaAdminClient._manager.run``);
errors are the domain's: ``TopicMissing`` (unknown topic or partition), ``KafkaUnavailable`` (retriable:
no leader, coordinator loading or moved, broker gone), ``KafkaRejected`` (the rest).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import errors as kafka_errors
from kafka.protocol.consumer.group import OffsetFetchRequest
from kafka.protocol.consumer.offsets import ListOffsetsRequest
from kafka.protocol.metadata import CoordinatorType, MetadataRequest

from kafkaops.types.errors import KafkaRejected, KafkaUnavailable, TopicMissing

log = logging.getLogger(__name__)

Key = tuple[str, int]
Offsets = dict[Key, int]
LATEST, EARLIEST = -1, -2  # ListOffsets timestamps: log end, log start

UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID = 3, 100
NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE = 16, 15
# Answers after which the partition leaders are asked again and the request sent once more.
_LEADER_MOVED = frozenset({UNKNOWN_TOPIC_OR_PARTITION, 5, 6, 74, 75})  # LEADER_NOT_AVAILABLE, NOT_LEADER, epochs
_NOT_AUTHORIZED = frozenset({29, 30, 31})  # topic, group, cluster authorization failed
_OFFSET_FETCH_BATCHED = 8  # OffsetFetch version that carries many groups
_OFFSET_FETCH_BY_NAME = 9  # the last one that names topics (v10, KIP-848, answers with topic ids only)


def error_for(code: int, where: str) -> Exception:
    """The domain exception for a Kafka error code in an answer about ``where``."""
    error = kafka_errors.for_code(code)
    message = f"{where}: {error.message}"
    if code in (UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID):
        return TopicMissing(message)
    if code in _NOT_AUTHORIZED:
        return KafkaRejected("NotAuthorized", message, code)
    if error.retriable:
        return KafkaUnavailable(message)
    return KafkaRejected("KafkaError", f"{error.__name__}: {message}", code)


# ---- pure: requests built and answers walked ----------------------------------------------


def by_leader(partitions: Iterable[Key], leaders: Mapping[Key, int]) -> dict[int, dict[str, list[int]]]:
    """``{leader: {topic: [partition, ...]}}`` in the order given (every partition must have a leader)."""
    grouped: dict[int, dict[str, list[int]]] = {}
    for topic, partition in partitions:
        grouped.setdefault(leaders[(topic, partition)], {}).setdefault(topic, []).append(partition)
    return grouped


def list_offsets_request(topics: Mapping[str, Sequence[int]], timestamp: int, timeout_ms: int = 30_000
                         ) -> ListOffsetsRequest:
    """One ListOffsets (v1+: one offset per partition) for these partitions; ``timestamp`` LATEST or EARLIEST
    (``timeout_ms``, v10+, bounds a lookup in tiered storage)."""
    topic_type = ListOffsetsRequest.ListOffsetsTopic
    partition_type = topic_type.ListOffsetsPartition
    return ListOffsetsRequest(
        replica_id=-1, isolation_level=0, min_version=1, timeout_ms=timeout_ms,
        topics=[topic_type(name=topic, partitions=[partition_type(partition_index=p, timestamp=timestamp)
                                                   for p in partitions])
                for topic, partitions in topics.items()])


def read_list_offsets(response: Any, offsets: Offsets, errors: dict[Key, int]) -> None:
    """Offsets of a ListOffsets answer into ``offsets``, error codes into ``errors``."""
    for topic in response.topics:
        name = topic.name
        for partition in topic.partitions:
            if partition.error_code:
                errors[(name, partition.partition_index)] = partition.error_code
            else:
                offsets[(name, partition.partition_index)] = partition.offset


def metadata_request(topics: Iterable[str]) -> MetadataRequest:
    topic_type = MetadataRequest.MetadataRequestTopic
    return MetadataRequest(topics=[topic_type(name=t) for t in topics], allow_auto_topic_creation=False)


def read_leaders(response: Any) -> tuple[dict[Key, int], dict[str, int], dict[Key, int]]:
    """(leader per partition, error code per topic, error code per partition without a leader) of a
    Metadata answer. A partition whose replicas are not all available still has its leader."""
    leaders: dict[Key, int] = {}
    topic_errors: dict[str, int] = {}
    partition_errors: dict[Key, int] = {}
    for topic in response.topics:
        name = topic.name
        if topic.error_code:
            topic_errors[name] = topic.error_code
            continue
        for partition in topic.partitions:
            key = (name, partition.partition_index)
            if partition.leader_id >= 0:
                leaders[key] = partition.leader_id
            else:
                partition_errors[key] = partition.error_code or 5  # LEADER_NOT_AVAILABLE
    return leaders, topic_errors, partition_errors


def offset_fetch_request(groups: Sequence[str]) -> OffsetFetchRequest:
    """One OffsetFetch (v8 or v9) for all offsets of every group in ``groups``."""
    group_type = OffsetFetchRequest.OffsetFetchRequestGroup
    return OffsetFetchRequest(groups=[group_type(group_id=g, topics=None) for g in groups],
                              min_version=_OFFSET_FETCH_BATCHED, max_version=_OFFSET_FETCH_BY_NAME)


def read_offset_fetch(response: Any, committed: dict[str, Offsets], errors: dict[str, int]) -> None:
    """Per group of an OffsetFetch v8+ answer: its committed offsets (partitions without one left
    out) into ``committed``, or its error code (the group's, else its first partition's) into ``errors``."""
    if getattr(response, "error_code", 0):
        raise error_for(response.error_code, "committed offsets")
    for group in response.groups:
        if group.error_code:
            errors[group.group_id] = group.error_code
            continue
        offsets: Offsets = {}
        failed = 0
        for topic in group.topics:
            name = topic.name
            for partition in topic.partitions:
                if partition.error_code:
                    failed = failed or partition.error_code
                elif partition.committed_offset >= 0:
                    offsets[(name, partition.partition_index)] = partition.committed_offset
        if failed:
            errors[group.group_id] = failed
        else:
            committed[group.group_id] = offsets


# ---- sending: only the sends and the waits run on kafka-python's I/O thread ---------------------
# Building requests and walking answers of 15,000 partitions takes long enough that kafka-python warns of
# a task blocking its event loop; it is done in the calling thread instead, between ``manager.run`` calls.


async def exchange(manager: Any, requests: Sequence[tuple[int | None, Any]]) -> list[Any]:
    """Send every request (to its node; None: any) at once, then wait for all the answers, in order."""
    sent = [manager.send(request, node_id=node) for node, request in requests]
    return [await future for future in sent]


class OffsetReader:
    """The partition leaders seen last (for ListOffsets), kept between collections. Call from a worker
    thread (``FallbackAdmin`` holds its lock), never from kafka-python's I/O thread."""

    def __init__(self) -> None:
        self.leaders: dict[Key, int] = {}

    def log_offsets(self, manager: Any, partitions: Sequence[Key], timestamp: int) -> Offsets:
        """``timestamp`` (LATEST or EARLIEST) offset of every partition: one ListOffsets per leader, all in
        flight together; the leaders asked again (once) when one is unknown or has moved."""
        for attempt in (1, 2):
            if attempt == 2 or any(key not in self.leaders for key in partitions):
                self._refresh(manager, partitions)
            requests = [(leader, list_offsets_request(topics, timestamp))
                        for leader, topics in by_leader(partitions, self.leaders).items()]
            offsets: Offsets = {}
            errors: dict[Key, int] = {}
            for response in manager.run(exchange, manager, requests):
                read_list_offsets(response, offsets, errors)
            if not errors:
                return offsets
            if attempt == 1 and any(code in _LEADER_MOVED for code in errors.values()):
                continue
            key = next(k for k in partitions if k in errors)
            raise error_for(errors[key], f"log offsets of {key[0]}[{key[1]}]")
        raise AssertionError("unreachable")

    def _refresh(self, manager: Any, partitions: Sequence[Key]) -> None:
        """Leaders of the partitions' topics (one metadata request); the first unknown topic or
        partition, or partition without a leader, fails the call."""
        topics = list(dict.fromkeys(topic for topic, _ in partitions))
        (response,) = manager.run(exchange, manager, [(None, metadata_request(topics))])
        leaders, topic_errors, partition_errors = read_leaders(response)
        self.leaders = {key: node for key, node in self.leaders.items() if key[0] not in topic_errors} | leaders
        for topic, partition in partitions:
            if topic in topic_errors:
                raise error_for(topic_errors[topic], f"partition leaders of topic {topic}")
            if (topic, partition) in partition_errors:
                raise error_for(partition_errors[(topic, partition)], f"leader of {topic}[{partition}]")
            if (topic, partition) not in leaders:
                raise error_for(UNKNOWN_TOPIC_OR_PARTITION, f"leader of {topic}[{partition}]")
        if any(manager.cluster.broker_metadata(node) is None for node in set(leaders.values())):
            manager.run(manager.cluster.refresh_metadata)  # a broker this client has not met yet


async def groups_by_coordinator(client: Any, groups: Sequence[str]) -> dict[int, list[str]]:
    """The groups bucketed by their group coordinator (classic and share groups alike), through
    kafka-python's own (private) batched FindCoordinator, whose answers it caches."""
    coordinators = await client._find_coordinator_ids(list(groups), key_type=CoordinatorType.GROUP)
    buckets: dict[int, list[str]] = {}
    for group in groups:
        buckets.setdefault(coordinators[group], []).append(group)
    return buckets


def committed_offsets(client: Any, groups: Sequence[str]) -> tuple[dict[str, Offsets], dict[str, int]] | None:
    """(committed offsets per group, error code per group that failed) with one OffsetFetch per
    coordinator, all in flight together; None when the brokers cannot batch groups (OffsetFetch < v8).
    A group whose coordinator moved or is not known is forgotten, so the next call looks it up again.
    Call from a worker thread, like ``OffsetReader``."""
    manager = client._manager
    if manager.broker_version_data.api_version(OffsetFetchRequest) < _OFFSET_FETCH_BATCHED:
        return None
    by_coordinator = manager.run(groups_by_coordinator, client, groups)
    requests = [(node, offset_fetch_request(members)) for node, members in by_coordinator.items()]
    committed: dict[str, Offsets] = {}
    errors: dict[str, int] = {}
    for response in manager.run(exchange, manager, requests):
        read_offset_fetch(response, committed, errors)
    for group, code in errors.items():
        if code in (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE):
            manager.cluster._coordinators.pop((CoordinatorType.GROUP, group), None)
    return committed, errors
