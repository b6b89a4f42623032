"""What the topic domain and the Kafka adapter exchange: a topic as the broker describes it, the
changes the domain asks for, and the admin calls it needs (Protocols: the adapter satisfies them
without importing them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class ObservedTopic:
    """A topic as the broker describes it."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]
    overridden: frozenset[str] = frozenset()  # keys set on the topic itself (not defaults)
    topic_id: str | None = None
    assignment: tuple[tuple[int, ...], ...] = ()  # replica broker ids of each partition, leader first


@dataclass(frozen=True, kw_only=True)
class TopicCreation:
    name: str
    partitions: int
    replication_factor: int | None
    config: Mapping[str, str]

    @property
    def metadata_records(self) -> int:
        """A TopicRecord, one PartitionRecord per partition and one ConfigRecord per key."""
        return 1 + self.partitions + len(self.config)


@dataclass(frozen=True)
class ConfigChange:
    name: str
    set: Mapping[str, str]
    reset: Sequence[str]


class TopicAdmin(Protocol):
    """What reconciling a KafkaTopic needs from the Kafka adapter."""

    async def describe_topic(self, name: str, *, with_config: bool = True) -> ObservedTopic | None: ...
    async def create_topic(self, creation: TopicCreation) -> None: ...
    async def create_partitions(self, name: str, total: int) -> None: ...
    async def alter_config(self, change: ConfigChange) -> None: ...
    async def delete_topic(self, name: str) -> None: ...
    async def broker_ids(self) -> list[int]: ...
    async def reassign(self, topic: str, assignment: Mapping[int, Sequence[int]]) -> None: ...
    async def reassigning(self, topic: str, partitions: int) -> bool: ...


class DryRunAdmin(Protocol):
    """What ``kafkaops diff`` needs: describes, and the broker's verdict on changes it does not make."""

    async def describe_topic(self, name: str, *, with_config: bool = True) -> ObservedTopic | None: ...
    async def validate_creations(self, creations: Sequence[TopicCreation]) -> list[Exception | None]: ...
    async def validate_partition_growth(self, requests: Sequence[tuple[str, int]]) -> list[Exception | None]: ...
    async def validate_config_changes(self, changes: Sequence[ConfigChange]) -> list[Exception | None]: ...
    async def broker_ids(self) -> list[int]: ...
