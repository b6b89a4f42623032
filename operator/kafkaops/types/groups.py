"""What lag collection needs from the Kafka adapter: one batched request per kind per cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, Protocol

GroupType = Literal["consumer", "share"]


class GroupStatus(NamedTuple):
    """What the broker says of one group. ``protocol``: the group's type as Kafka names it (``classic``,
    ``consumer`` for KIP-848, ``share``, ``streams``), None when no such group exists; ``state`` as that
    protocol names it, or ``NotFound``; ``members`` None when not known (a type the operator cannot
    describe, or a group it may not describe)."""

    protocol: str | None
    state: str
    members: int | None


NOT_FOUND = GroupStatus(None, "NotFound", 0)


class SharePartitionOffsets(NamedTuple):
    """A share group's view of one partition (DescribeShareGroupOffsets): the share-partition start
    offset (the oldest record not yet acknowledged) and the broker's lag (KIP-1226: records not yet
    acknowledged, in flight or not)."""

    start_offset: int
    lag: int


class GroupReader(Protocol):
    async def partition_counts(self, topics: Sequence[str]) -> dict[str, int]: ...
    async def log_offsets(self, partitions: Sequence[tuple[str, int]], spec: str) -> dict[tuple[str, int], int]: ...
    async def describe_groups(self, groups: Sequence[str]) -> dict[str, GroupStatus]: ...
    async def committed_offsets(self, groups: Sequence[str]) -> dict[str, dict[tuple[str, int], int]]: ...
    async def share_group_offsets(self, groups: Mapping[str, Mapping[str, int]]
                                  ) -> dict[str, dict[tuple[str, int], SharePartitionOffsets]]: ...
