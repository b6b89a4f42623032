"""The leader fence for Kafka: a request that changes the cluster is sent only while this process
leads (``kafkaops.leadership.fence``). Checked at the adapters' one call site, right before the client
gets the request, so a leader that resumes after a freeze sends no topic, config, ACL or credential
change, whichever code path asked for it. Reads and ``validate_only`` requests are never fenced."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kafkaops import leadership

STATE_CHANGING = frozenset({
    "create_topics", "create_partitions", "incremental_alter_configs", "alter_configs", "delete_topics",
    "alter_user_scram_credentials", "create_acls", "delete_acls", "alter_partition_reassignments",
    "alter_consumer_group_offsets", "delete_consumer_groups", "delete_records",
})


def fence_writes(method: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Raise ``leadership.LeadershipLost`` if ``method`` changes the cluster and this process does not lead."""
    name = getattr(method, "__name__", "")
    if name in STATE_CHANGING and not options.get("validate_only"):
        leadership.fence(name)
