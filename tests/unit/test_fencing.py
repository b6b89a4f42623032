"""The leader fence at both adapters: a process that does not lead sends no state-changing request to
Kafka or the API server, and reads pass."""

from __future__ import annotations

import asyncio

import pytest

from kafkaops import leadership
from kafkaops.kafka.fencing import STATE_CHANGING, fence_writes
from kafkaops.kube import api


def _named(name: str):
    def method(*args, **kwargs):
        return name
    method.__name__ = name
    return method


@pytest.fixture
def not_leading():
    leadership.enable(leadership.RENEW_DEADLINE_SECONDS)  # enabled, never renewed: not leading
    yield
    leadership.disable()


@pytest.mark.parametrize("name", sorted(STATE_CHANGING))
def test_every_state_changing_kafka_request_is_fenced(not_leading, name):
    with pytest.raises(leadership.LeadershipLost, match=f"{name} not sent"):
        fence_writes(_named(name), {})


@pytest.mark.parametrize(("name", "options"), [
    ("describe_topics", {}), ("describe_configs", {}), ("list_offsets", {}), ("describe_acls", {}),
    ("create_topics", {"validate_only": True}), ("incremental_alter_configs", {"validate_only": True}),
])
def test_reads_and_validations_pass_the_fence(not_leading, name, options):
    fence_writes(_named(name), options)


def test_a_leader_passes_the_fence():
    fence_writes(_named("create_topics"), {})  # standalone: always leading


def test_the_kubernetes_write_is_fenced_on_the_api_thread_when_it_is_sent(not_leading):
    sent = []
    with pytest.raises(leadership.LeadershipLost):
        asyncio.run(api.write(lambda: sent.append("patch")))
    assert sent == []
    leadership.disable()
    assert asyncio.run(api.write(lambda: sent.append("patch") or "done")) == "done"
    assert sent == ["patch"]
