"""The one adapter between the operator and Kafka's admin API.

One ``KafkaAdmin`` per cluster, shared by every handler. Each operation is a ``Batcher``, so
a thousand KafkaTopics reconciled at once turn into a handful of admin requests rather than a
thousand. confluent-kafka's futures complete on librdkafka's thread; ``asyncio.wrap_future``
brings them back to the operator's event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from kafkaops.kafka.batching import Batcher
from kafkaops.kafka.errors import translate
from kafkaops.kafka.fallback_admin import FallbackAdmin
from kafkaops.kafka.fencing import fence_writes
from kafkaops.metrics import admin_request
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable, TopicMissing
from kafkaops.types.groups import GroupStatus, SharePartitionOffsets
from kafkaops.types.topics import ConfigChange, ObservedTopic, TopicCreation

# A KRaft controller accepts at most this many metadata records in one request.
MAX_METADATA_RECORDS = 10_000
log = logging.getLogger(__name__)


class Renewal:
    """When to replace a librdkafka admin handle that keeps failing. After a broker restart one was seen
    still answering "Failed while waiting for controller" minutes after the broker served again, while
    a new handle worked at once; one that has failed every request for ``after`` seconds is replaced
    (while the cluster really is down that costs a new handle per window, nothing more)."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.failing_since: float | None = None

    def failed(self, now: float) -> bool:
        """A request failed for want of Kafka; True when the handle should be replaced now."""
        if self.failing_since is None:
            self.failing_since = now
        if now - self.failing_since < self.after:
            return False
        self.failing_since = None
        return True

    def succeeded(self) -> None:
        self.failing_since = None


def _all_done(futures: Sequence[concurrent.futures.Future[Any]]) -> concurrent.futures.Future[None]:
    """One future that completes when all of ``futures`` have (on librdkafka's thread)."""
    done: concurrent.futures.Future[None] = concurrent.futures.Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one(_: concurrent.futures.Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last and not done.done():
            done.set_result(None)

    if not futures:
        done.set_result(None)
    for future in futures:
        future.add_done_callback(one)
    return done


async def _settle(futures: Mapping[Any, concurrent.futures.Future[Any]], keys: Sequence[Any]
                  ) -> list[Any]:
    """Await per-key futures; return per-key results or translated exceptions, in key order. One
    wake-up of the event loop per request, not one per key: a list_offsets of 6,000 partitions
    would otherwise queue 6,000 callbacks in front of every other handler."""
    pending = [futures[key] for key in keys]
    await asyncio.wrap_future(_all_done(pending))
    return [translate(error) if (error := f.exception()) is not None else f.result() for f in pending]


def _dedupe(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _fan_out(names: Sequence[str], unique: Sequence[str], answers: Sequence[Any]) -> list[Any]:
    """Each caller's answer, in the callers' order, from one answer per distinct name."""
    by_name = dict(zip(unique, answers, strict=True))
    return [by_name[name] for name in names]


class KafkaAdmin:
    def __init__(self, client_config: Mapping[str, Any], *, linger: float = 0.05, mutation_linger: float = 0.1,
                 request_timeout: float = 30.0, max_records: int = MAX_METADATA_RECORDS,
                 python_config: Mapping[str, Any] | None = None) -> None:
        """``python_config``: kafka-python arguments made for the same cluster (``kafka.connection``
        builds both from a KafkaCluster); by default they are translated from ``client_config``."""
        config = dict(client_config)
        config.setdefault("logger", logging.getLogger("kafkaops.kafka.librdkafka"))
        self._config = config
        self._client = AdminClient(config)
        self._renewal = Renewal(max(30.0, 3 * request_timeout))
        self._fallback = FallbackAdmin(client_config, request_timeout, config=python_config)
        self._timeout = request_timeout
        self._describe_topics = Batcher("describe_topics", self._send_describe_topics, linger=linger)
        self._describe_configs = Batcher("describe_configs", self._send_describe_configs, linger=linger)
        self._create_topics = Batcher("create_topics", self._send_create_topics, linger=mutation_linger,
                                      max_weight=max_records, weigh=lambda c: c.metadata_records)
        self._create_partitions = Batcher("create_partitions", self._send_create_partitions, linger=mutation_linger,
                                          max_weight=max_records, weigh=lambda p: p[1])
        self._alter_configs = Batcher("incremental_alter_configs", self._send_alter_configs, linger=linger,
                                      max_weight=max_records,
                                      weigh=lambda c: max(1, len(c.set) + len(c.reset)))
        self._delete_topics = Batcher("delete_topics", self._send_delete_topics, linger=mutation_linger)

    # ---- what the reconcilers call -------------------------------------------------------

    async def describe_topic(self, name: str, *, with_config: bool = True) -> ObservedTopic | None:
        """The topic's partitions, replication factor and (``with_config``) config, or None if it
        does not exist. Configs are only asked for once the topic is known to exist: creating a
        thousand topics then costs no describe_configs at all."""
        try:
            description = await self._describe_topics.submit(name)
            entries: Mapping[str, ConfigEntry] = (await self._describe_configs.submit(name)) if with_config else {}
        except TopicMissing:
            return None
        partitions = sorted(description.partitions, key=lambda p: p.id)
        return ObservedTopic(
            name=name, partitions=len(partitions), replication_factor=len(partitions[0].replicas) if partitions else 0,
            assignment=tuple(tuple(node.id for node in p.replicas) for p in partitions),
            config={key: entry.value for key, entry in entries.items() if entry.value is not None},
            overridden=frozenset(key for key, entry in entries.items()
                                 if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value),
            topic_id=str(description.topic_id) if description.topic_id else None)

    async def create_topic(self, creation: TopicCreation) -> None:
        await self._create_topics.submit(creation)

    async def create_partitions(self, name: str, total: int) -> None:
        await self._create_partitions.submit((name, total))

    async def alter_config(self, change: ConfigChange) -> None:
        await self._alter_configs.submit(change)

    async def delete_topic(self, name: str) -> None:
        """Delete a topic; a topic that is already gone counts as deleted."""
        try:
            await self._delete_topics.submit(name)
        except TopicMissing:
            return

    # ---- dry runs (``kafkaops diff``): the broker checks the request, changes nothing -------

    async def validate_creations(self, creations: Sequence[TopicCreation]) -> list[Exception | None]:
        """Per creation: None if the broker would accept it, else the translated rejection. One request."""
        return await self._send_create_topics(creations, validate_only=True) if creations else []

    async def validate_partition_growth(self, requests: Sequence[tuple[str, int]]) -> list[Exception | None]:
        return await self._send_create_partitions(requests, validate_only=True) if requests else []

    async def validate_config_changes(self, changes: Sequence[ConfigChange]) -> list[Exception | None]:
        return await self._send_alter_configs(changes, validate_only=True) if changes else []

    # ---- consumer groups: one request per kind per collection cycle ------------------------

    async def partition_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """Partitions per topic (0 for a topic that does not exist), through the describe batcher."""
        described = await asyncio.gather(*(self._describe_topics.submit(t) for t in topics), return_exceptions=True)
        counts = {}
        for topic, outcome in zip(topics, described, strict=True):
            if isinstance(outcome, TopicMissing):
                counts[topic] = 0
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                counts[topic] = len(outcome.partitions)
        return counts

    async def log_offsets(self, partitions: Sequence[tuple[str, int]], spec: str) -> dict[tuple[str, int], int]:
        """The ``"earliest"`` (log start) or ``"latest"`` (log end) offset of every partition: one
        ListOffsets per partition leader, through kafka-python (``kafka.offsets``: confluent-kafka's
        list_offsets makes a Python future per partition)."""
        return await self._fallback.log_offsets(partitions, spec)

    async def describe_groups(self, groups: Sequence[str]) -> dict[str, GroupStatus]:
        """Protocol, state and member count of every group of any protocol: one ListGroups per broker, one
        describe per coordinator and protocol (see ``group_states``)."""
        return await self._fallback.states(groups)

    async def committed_offsets(self, groups: Sequence[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every group, batched per coordinator (see ``fallback_admin``)."""
        return await self._fallback.committed(groups)

    async def share_group_offsets(self, groups: Mapping[str, Mapping[str, int]]
                                  ) -> dict[str, dict[tuple[str, int], SharePartitionOffsets]]:
        """Share-partition start offset and lag of every share group on its topics (see ``share_groups``)."""
        return await self._fallback.share_offsets(groups)

    async def set_group_config(self, group: str, config: Mapping[str, str]) -> None:
        """Set group configs (e.g. ``share.auto.offset.reset``) like ``kafka-configs.sh --entity-type
        groups``: one IncrementalAlterConfigs on the GROUP resource; other keys of the group are kept."""
        resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in config.items()])
        with admin_request("incremental_alter_configs", 1):
            (answer,) = await self._request(self._client.incremental_alter_configs, [resource], [resource])
        if isinstance(answer, BaseException):
            raise answer

    # ---- replication factor: partition reassignment (kafka-python; confluent-kafka has none) --

    async def broker_ids(self) -> list[int]:
        """The ids of the brokers the cluster has now."""
        with admin_request("describe_cluster", 1):
            future = self._call(self._client.describe_cluster, request_timeout=self._timeout)
            (description,) = await _settle({"cluster": future}, ["cluster"])
        if isinstance(description, BaseException):
            raise description
        return sorted(node.id for node in description.nodes)

    async def reassign(self, topic: str, assignment: Mapping[int, Sequence[int]]) -> None:
        await self._fallback.reassign(topic, assignment)

    async def reassigning(self, topic: str, partitions: int) -> bool:
        return await self._fallback.reassigning(topic, partitions)

    # ---- batched senders: one admin request per batch -----------------------------------

    async def _request(self, method: Any, argument: Any, keys: Sequence[Any], **options: Any) -> list[Any]:
        """One admin request; per key of its futures, the result or the translated error."""
        answers = await _settle(self._call(method, argument, request_timeout=self._timeout, **options), keys)
        if answers and all(isinstance(answer, KafkaUnavailable) for answer in answers):
            if self._renewal.failed(time.monotonic()):
                log.warning("the Kafka admin client has failed every request for %.0fs (%s); replacing it",
                            self._renewal.after, answers[0])
                self._client = AdminClient(self._config)
        else:
            self._renewal.succeeded()
        return answers

    async def _send_describe_topics(self, names: Sequence[str]) -> list[Any]:
        unique = _dedupe(names)
        return _fan_out(names, unique, await self._request(self._client.describe_topics, TopicCollection(unique),
                                                           unique))

    async def _send_describe_configs(self, names: Sequence[str]) -> list[Any]:
        unique = _dedupe(names)
        resources = [ConfigResource(ResourceType.TOPIC, n) for n in unique]
        return _fan_out(names, unique, await self._request(self._client.describe_configs, resources, resources))

    async def _send_create_topics(self, creations: Sequence[TopicCreation], validate_only: bool = False
                                  ) -> list[Any]:
        first: dict[str, TopicCreation] = {}
        for creation in creations:
            first.setdefault(creation.name, creation)
        new_topics = [NewTopic(c.name, num_partitions=c.partitions,
                               replication_factor=c.replication_factor or -1, config=dict(c.config))
                      for c in first.values()]
        answers = await self._request(self._client.create_topics, new_topics, list(first),
                                      operation_timeout=self._timeout, validate_only=validate_only)
        by_name = dict(zip(first, answers, strict=True))
        return [by_name[c.name] if first[c.name] is c
                else KafkaRejected("TopicAlreadyExists", f"topic {c.name!r} is being created by another request")
                for c in creations]

    async def _send_create_partitions(self, requests: Sequence[tuple[str, int]], validate_only: bool = False
                                      ) -> list[Any]:
        totals: dict[str, int] = {}
        for name, total in requests:
            totals[name] = max(total, totals.get(name, 0))
        answers = await self._request(self._client.create_partitions,
                                      [NewPartitions(n, t) for n, t in totals.items()], list(totals),
                                      operation_timeout=self._timeout, validate_only=validate_only)
        return _fan_out([name for name, _ in requests], list(totals), answers)

    async def _send_alter_configs(self, changes: Sequence[ConfigChange], validate_only: bool = False) -> list[Any]:
        merged: dict[str, list[ConfigEntry]] = {}
        for change in changes:
            entries = merged.setdefault(change.name, [])
            entries += [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                        for k, v in change.set.items()]
            entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
                        for k in change.reset]
        resources = [ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
                     for name, entries in merged.items()]
        answers = await self._request(self._client.incremental_alter_configs, resources, resources,
                                      validate_only=validate_only)
        return _fan_out([c.name for c in changes], list(merged), answers)

    async def _send_delete_topics(self, names: Sequence[str]) -> list[Any]:
        unique = _dedupe(names)
        return _fan_out(names, unique, await self._request(self._client.delete_topics, unique, unique,
                                                           operation_timeout=self._timeout))

    def close(self) -> None:
        """Close the kafka-python client's connections (librdkafka's handle goes with the object)."""
        self._fallback.close()

    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
        """Invoke an admin method; a local failure (bad argument, client closed) is translated."""
        fence_writes(method, kwargs)
        try:
            return method(*args, **kwargs)
        except KafkaException as error:
            raise translate(error) from error
        except (TypeError, ValueError) as error:
            raise KafkaRejected("InvalidConfig", str(error)) from error


