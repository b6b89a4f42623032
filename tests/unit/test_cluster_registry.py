"""The registry of Kafka clients per cluster: who is told when a cluster comes, goes or changes,
and what an object on a cluster that is not ready gets."""

from __future__ import annotations

import pytest

from kafkaops.handlers.clusters import ClusterRegistry, probe_time_due
from kafkaops.types.clusters import ClientSettings
from kafkaops.types.errors import ClusterNotReady

pytestmark = pytest.mark.unit
CLIENTS = ClientSettings(bootstrap_servers="k:9093", env={"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})


class Admin:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def registry() -> tuple[ClusterRegistry, list[str]]:
    told: list[str] = []
    clusters = ClusterRegistry(Admin(), ClientSettings(bootstrap_servers="default:9092"))
    clusters.listeners.append(told.append)
    return clusters, told


def test_the_configured_cluster_is_ready_from_the_start():
    clusters, _ = registry()
    assert clusters.clients("default").bootstrap_servers == "default:9092"


def test_an_unknown_cluster_is_not_ready_and_says_so():
    clusters, _ = registry()
    with pytest.raises(ClusterNotReady, match="'prod' is not ready: no such KafkaCluster"):
        clusters.admin("prod")


def test_listeners_hear_of_changes_only():
    clusters, told = registry()
    first = Admin()
    clusters.set_ready("prod", first, "print-1", CLIENTS)
    clusters.set_ready("prod", first, "print-1", CLIENTS)  # the same probe again: nothing new
    assert told == ["prod"] and clusters.admin("prod") is first
    clusters.set_not_ready("prod", "AuthenticationFailed: wrong password")
    clusters.set_not_ready("prod", "AuthenticationFailed: wrong password")
    assert told == ["prod", "prod"]
    with pytest.raises(ClusterNotReady, match="AuthenticationFailed"):
        clusters.clients("prod")
    second = Admin()
    clusters.set_ready("prod", second, "print-2", CLIENTS)  # a rotated password: new clients
    assert told == ["prod"] * 3 and first.closed and not second.closed
    clusters.remove("prod")
    assert told == ["prod"] * 4 and second.closed
    with pytest.raises(ClusterNotReady):
        clusters.admin("prod")


@pytest.mark.parametrize(("last", "due"), [(None, True), ("", True), ("2000-01-01T00:00:00Z", True),
                                          ("2999-01-01T00:00:00Z", False)])
def test_a_probe_time_alone_is_written_only_every_few_minutes(last, due):
    assert probe_time_due(last) is due
