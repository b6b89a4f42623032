"""The group protocols a ConsumerApp's consumers may speak, as the e2e tests meet them: classic,
consumer (KIP-848, ``group.protocol=consumer``) and share (KIP-932). The ``protocol`` fixture
(conftest.py) runs a test once per protocol, so that a collector path that breaks one fails its test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient
from test_share_consumerapp import accept, read_from_earliest

from kafka_clients import Protocol, commit_as_member
from kafkaops.metrics import LAG_SERIES


@dataclass(frozen=True)
class GroupProtocol:
    name: Protocol

    @property
    def group_type(self) -> str:
        """The ConsumerApp's spec.groupType: share groups are their own kind, classic and consumer are one."""
        return "share" if self.name == "share" else "consumer"

    def app_spec(self, group: str) -> dict[str, Any]:
        return {"groupId": group, "groupType": self.group_type, "autoOffsetReset": "earliest"}

    def consume(self, admin: AdminClient, bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
        """Leave the group empty, with these offsets consumed: committed by a member that then leaves
        (classic, consumer), or as many records acknowledged by a share consumer that then leaves."""
        if self.name == "share":
            read_from_earliest(admin, group)
            accept(bootstrap, group, topic, sum(offsets.values()))
        else:
            commit_as_member(bootstrap, self.name, group, topic, offsets)

    def members_series(self) -> tuple[str, str]:
        """The metric family of the group's member count, and the label naming the group."""
        series = LAG_SERIES[self.group_type]  # type: ignore[index]
        return series.members, series.group_label
