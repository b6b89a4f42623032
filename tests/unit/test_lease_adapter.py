"""The Lease adapter's pure parts: where the Lease lives, who this process is, and a Lease read back
as a LeaseRecord (the calls themselves run against a real API server in tests/e2e/test_failover.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubernetes import client

import kafkaops
from kafkaops.kube.client import identity, process_identity, user_agent
from kafkaops.kube.lease import lease_namespace, record_of

pytestmark = pytest.mark.unit


def test_the_lease_namespace_is_configured_else_the_pods_else_default(tmp_path):
    file = tmp_path / "namespace"
    assert lease_namespace("ops", file) == "ops"
    assert lease_namespace(None, file) == "default"
    file.write_text("kafkaops-system\n")
    assert lease_namespace(None, file) == "kafkaops-system"
    assert lease_namespace("", file) == "kafkaops-system"


def test_identity_is_the_pod_name_plus_a_random_suffix(monkeypatch):
    monkeypatch.setenv("POD_NAME", "kafkaops-7d9f-abcde")
    first, second = identity(), identity()
    assert first.startswith("kafkaops-7d9f-abcde_") and len(first) == len("kafkaops-7d9f-abcde_") + 6
    assert first != second


def test_the_user_agent_names_the_version_and_the_lease_identity():
    assert user_agent() == f"kafkaops/{kafkaops.__version__} ({process_identity()})"
    assert process_identity() == process_identity()  # one identity per process


def test_a_lease_reads_back_as_a_record():
    now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="kafkaops-leader", resource_version="77"),
                           spec=client.V1LeaseSpec(holder_identity="a_1", lease_duration_seconds=15,
                                                   acquire_time=now, renew_time=now, lease_transitions=3))
    record = record_of(lease)
    assert (record.holder, record.lease_duration_seconds, record.transitions, record.resource_version) == (
        "a_1", 15, 3, "77")
    assert record.acquire_time == record.renew_time == now
    released = record_of(client.V1Lease(metadata=client.V1ObjectMeta(resource_version="78"),
                                      spec=client.V1LeaseSpec(holder_identity="")))
    assert (released.holder, released.transitions) == (None, 0)
