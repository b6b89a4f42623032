"""What confluent-kafka cannot do (well), through kafka-python's admin client: log offsets of many
partitions and committed offsets and states of many consumer groups (the first two with the requests
of ``kafka.offsets``), and partition reassignment (replication-factor changes).

Why committed offsets are not read with confluent-kafka: librdkafka's ListConsumerGroupOffsets dereferences a NULL
consumer-group handle when a broker answers NOT_COORDINATOR (librdkafka issue 5040, still in
confluent-kafka 2.16.1): the whole operator segfaults whenever a group coordinator moves or a
fresh cluster is still loading ``__consumer_offsets``. It also takes one group per request.
kafka-python fails such a request with an exception, and batches every group a coordinator
hosts into one OffsetFetch (v8, KIP-709): a collection cycle costs one FindCoordinator and one
OffsetFetch per coordinator instead of one request per group.

Group states for the same reason: librdkafka's DescribeConsumerGroups sends a coordinator request
per group, and when one of them times out it aborts the process (``rd_kafka_enq_once_del_source_return:
Assertion `eonce->refcnt > 0' failed``, librdkafka issue 4605): the operator died so on its first
collection of 5,000 groups on a busy broker. Here one ListGroups per broker gives every group's protocol
and state, and one describe per coordinator and protocol its members (``group_states``), for classic,
consumer (KIP-848) and share groups alike.

Share-group offsets (KIP-932) the same way, one DescribeShareGroupOffsets per coordinator, with requests
written here on kafka-python's protocol layer (``share_groups``): no Python client has them yet.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from kafka.errors import KafkaError as PyKafkaError
from kafka.structs import TopicPartition as PyTopicPartition

from kafkaops.kafka import group_states, share_groups
from kafkaops.kafka.fencing import fence_writes
from kafkaops.kafka.offsets import EARLIEST, LATEST, OffsetReader, committed_offsets, error_for
from kafkaops.metrics import admin_request
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.groups import GroupStatus, SharePartitionOffsets

# kafka-python logs its whole configuration (SASL password included) at DEBUG.
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

# librdkafka property -> kafka-python argument, for the connection settings both clients share.
_PROPERTY_NAMES = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "ssl.crl.location": "ssl_crlfile",
}
_IGNORED = frozenset({"bootstrap.servers", "logger", "client.id"})

Offsets = dict[tuple[str, int], int]
T = TypeVar("T")
# After these the client is rebuilt: its connections or bootstrap are gone.
_CONNECTION_ERRORS = (KafkaConnectionError, KafkaTimeoutError)


def python_client_config(client_config: Mapping[str, Any], request_timeout: float) -> dict[str, Any]:
    """kafka-python arguments equivalent to a librdkafka configuration (the connection part)."""
    config: dict[str, Any] = {"bootstrap_servers": str(client_config["bootstrap.servers"]).split(","),
                              "client_id": "kafkaops-offsets", "request_timeout_ms": int(request_timeout * 1000),
                              "bootstrap_timeout_ms": int(request_timeout * 1000)}
    for key, value in client_config.items():
        if key in _PROPERTY_NAMES:
            config[_PROPERTY_NAMES[key]] = value.upper() if key == "security.protocol" else value
        elif key == "ssl.endpoint.identification.algorithm":  # librdkafka's "none" turns the name check off
            config["ssl_check_hostname"] = str(value).lower() != "none"
        elif key not in _IGNORED:
            log.debug("committed offsets: librdkafka property %s has no kafka-python equivalent", key)
    return config


class FallbackAdmin:
    """The calls confluent-kafka lacks or gets wrong, through one kafka-python admin client (created
    on first use and again after a failure)."""

    def __init__(self, client_config: Mapping[str, Any], request_timeout: float, *,
                 config: Mapping[str, Any] | None = None) -> None:
        """``config``: ready kafka-python arguments (e.g. with an ``ssl_context``); else translated."""
        self._config = dict(config) if config is not None else python_client_config(client_config, request_timeout)
        self._client: KafkaAdminClient | None = None
        self._lock = threading.Lock()  # one request at a time through the client
        self._offsets = OffsetReader()  # partition leaders, kept between calls

    async def log_offsets(self, partitions: Sequence[tuple[str, int]], spec: str) -> Offsets:
        """The ``"earliest"`` (log start) or ``"latest"`` (log end) offset of every partition: one
        ListOffsets per partition leader (``kafka.offsets``)."""
        if not partitions:
            return {}
        timestamp = EARLIEST if spec == "earliest" else LATEST
        keys = list(partitions)
        with admin_request("list_offsets", len(keys)):
            return await asyncio.to_thread(
                self._run, "log offsets",
                lambda client: self._offsets.log_offsets(client._manager, keys, timestamp))

    async def committed(self, groups: Sequence[str]) -> dict[str, Offsets]:
        """Committed offsets of every group ({} for a group that never committed). One OffsetFetch per
        coordinator (``kafka.offsets``); a group the broker refuses is left out (a warning), one it
        cannot answer for now (coordinator loading or moved) fails the call. Before OffsetFetch v8:
        kafka-python's requests, and if one group fails, every group asked alone."""
        if not groups:
            return {}
        with admin_request("list_group_offsets", len(groups)):
            batched = await asyncio.to_thread(
                self._run, "committed offsets",
                lambda client: committed_offsets(client, list(groups)))
            if batched is None:  # brokers before OffsetFetch v8: kafka-python's per-group requests
                try:
                    return await asyncio.to_thread(self._fetch, list(groups))
                except KafkaRejected:
                    pass
        if batched is not None:
            committed, errors = batched
            for group, code in errors.items():
                error = error_for(code, f"committed offsets of group {group}")
                if isinstance(error, KafkaUnavailable):
                    raise error
                log.warning("%s", error)  # the other groups still count
            return committed
        answers = await asyncio.gather(*(self._one(group) for group in groups), return_exceptions=True)
        result: dict[str, Offsets] = {}
        for group, answer in zip(groups, answers, strict=True):
            if isinstance(answer, KafkaUnavailable):
                raise answer
            if isinstance(answer, BaseException):
                log.warning("committed offsets of group %s: %s", group, answer)
                continue
            result[group] = answer
        return result

    async def states(self, groups: Sequence[str]) -> dict[str, GroupStatus]:
        """Protocol, state and member count of every group, whatever its protocol (``group_states``): one
        ListGroups per broker, then one describe per coordinator and protocol for groups with members."""
        if not groups:
            return {}
        with admin_request("describe_consumer_groups", len(groups)):
            return await asyncio.to_thread(self._run, "group states",
                                           lambda client: group_states.statuses(client, list(groups)))

    async def _one(self, group: str) -> Offsets:
        with admin_request("list_group_offsets", 1):
            return (await asyncio.to_thread(self._fetch, [group]))[group]

    def _fetch(self, groups: list[str]) -> dict[str, Offsets]:
        answer = self._run("committed offsets", lambda client: client.list_group_offsets(groups))
        return {group: {(tp.topic, tp.partition): meta.offset for tp, meta in answer.get(group, {}).items()
                        if meta.offset >= 0} for group in groups}

    async def share_offsets(self, groups: Mapping[str, Mapping[str, int]]
                            ) -> dict[str, dict[tuple[str, int], SharePartitionOffsets]]:
        """Start offset and lag (KIP-1226) per partition of every share group on its topics (topic ->
        partition count), one DescribeShareGroupOffsets per coordinator; partitions the group never
        read are left out."""
        if not groups:
            return {}
        with admin_request("describe_share_group_offsets", len(groups)):
            return await asyncio.to_thread(self._share, "share group offsets",
                                           lambda client: share_groups.offsets(client, groups))

    def _share(self, what: str, call: Callable[[KafkaAdminClient], T]) -> T:
        try:
            return self._run(what, call)
        except share_groups.ShareGroupError as error:
            if error.retriable:  # a coordinator moved or is loading: find it afresh next cycle
                with self._lock:
                    self._reset()
                raise KafkaUnavailable(f"{what}: {error}") from error
            raise KafkaRejected("ShareGroupError", str(error)) from error

    async def reassign(self, topic: str, assignment: Mapping[int, Sequence[int]]) -> None:
        """Start moving the partitions of ``topic`` to these replica lists (Kafka finishes in the
        background); a partition the broker refuses fails the whole call with its error."""
        reassignments = {PyTopicPartition(topic, p): list(replicas) for p, replicas in assignment.items()}
        with admin_request("alter_partition_reassignments", len(reassignments)):
            answer = await asyncio.to_thread(self._run, "partition reassignment",
                                             lambda client: _reassign(client, reassignments))
        refused = {tp.partition: error for tp, error in answer.items() if error is not None}
        if refused:
            partition, error = min(refused.items())
            raise KafkaRejected("InvalidConfig", f"partition {partition} cannot be reassigned: {error}")

    async def reassigning(self, topic: str, partitions: int) -> bool:
        """Whether a reassignment of any partition of ``topic`` is still going on."""
        wanted = [PyTopicPartition(topic, p) for p in range(partitions)]
        with admin_request("list_partition_reassignments", len(wanted)):
            ongoing = await asyncio.to_thread(self._run, "partition reassignments",
                                              lambda client: client.list_partition_reassignments(wanted))
        return bool(ongoing)

    def _run(self, what: str, call: Callable[[KafkaAdminClient], T]) -> T:
        """One call through the shared client, with kafka-python's errors translated."""
        with self._lock:
            try:
                if self._client is None:
                    self._client = KafkaAdminClient(**self._config)
                return call(self._client)
            except _CONNECTION_ERRORS as error:
                self._reset()
                raise KafkaUnavailable(f"{what}: {error}") from error
            except PyKafkaError as error:
                if self._client is None or getattr(error, "retriable", False):  # e.g. coordinator loading
                    raise KafkaUnavailable(f"{what}: {error}") from error
                raise KafkaRejected(type(error).__name__, str(error)) from error
            except OSError as error:
                self._reset()
                raise KafkaUnavailable(f"{what}: {error}") from error

    def _reset(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close()
            except Exception as error:  # closing a broken client must not hide the real failure
                log.debug("closing kafka-python admin client: %s", error)

    def close(self) -> None:
        with self._lock:
            self._reset()


def _reassign(client: KafkaAdminClient, reassignments: dict[PyTopicPartition, list[int]]) -> dict[Any, Any]:
    """The reassignment request, sent only while this process leads."""
    fence_writes(client.alter_partition_reassignments, {})
    return client.alter_partition_reassignments(reassignments)  # type: ignore[no-any-return]
