"""``kafkaops diff`` run as a user runs it (a subprocess) against the real broker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from kafkaops.harness.kafka import KafkaCluster

pytestmark = pytest.mark.integration
KAFKAOPS = Path(sys.executable).parent / "kafkaops"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def kafkatopic(name: str, partitions: int, config: dict[str, str] | None = None, **extra: object) -> str:
    return json.dumps({"apiVersion": "kafkaops.io/v1alpha1", "kind": "KafkaTopic",
                       "metadata": {"name": name, "namespace": "team-a", **extra},
                       "spec": {"partitions": partitions, "config": config or {}}})


def diff(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KAFKAOPS), "diff", "--bootstrap-servers", bootstrap, "--timeout", "10", *args],
                          capture_output=True, text=True, timeout=60)


def describe(admin: AdminClient, topic: str) -> tuple[int, dict[str, str]] | None:
    metadata = admin.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return None
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return len(metadata.partitions), {k: e.value for k, e in entries.items()}


@pytest.fixture()
def admin(kafka: KafkaCluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka.bootstrap_servers})


def create(admin: AdminClient, topic: str, partitions: int, config: dict[str, str]) -> None:
    admin.create_topics([NewTopic(topic, partitions, 1, config=config)])[topic].result(timeout=30)
    deadline = time.monotonic() + 15
    while describe(admin, topic) is None and time.monotonic() < deadline:  # bounded: metadata propagation
        time.sleep(0.1)


def test_new_identical_and_changed_topics_and_nothing_is_applied(kafka: KafkaCluster, admin: AdminClient,
                                                                 tmp_path: Path):
    new, same, changed = unique("diff-new"), unique("diff-same"), unique("diff-changed")
    create(admin, same, 2, {"retention.ms": "3600000", "cleanup.policy": "delete,compact"})
    create(admin, changed, 1, {"retention.ms": "3600000", "segment.ms": "7200000"})
    before = describe(admin, changed)

    (tmp_path / "new.yaml").write_text(kafkatopic(new, 3, {"retention.ms": "86400000"}))
    nested = tmp_path / "nested" / "deeper"
    nested.mkdir(parents=True)
    # Same topic, config spelled differently, plus a non-KafkaTopic document in the same file.
    (nested / "same.yml").write_text(kafkatopic(same, 2, {"retention.ms": 3600000, "cleanup.policy": "compact,delete"})
                                     + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "changed.json").write_text(kafkatopic(changed, 4, {"retention.ms": "86400000"}))

    created = diff(kafka.bootstrap_servers, "-f", str(tmp_path / "new.yaml"))
    assert created.returncode == 2, created.stderr
    assert f"+ topic {new} (create)" in created.stdout and "partitions: 3" in created.stdout
    assert "config retention.ms: 86400000" in created.stdout

    identical = diff(kafka.bootstrap_servers, "-f", str(nested.parent))
    assert identical.returncode == 0, identical.stdout + identical.stderr
    assert f"= topic {same} (no change)" in identical.stdout
    assert "ignoring v1 ConfigMap 'c'" in identical.stderr

    both = diff(kafka.bootstrap_servers, "-f", str(tmp_path / "changed.json"), "-o", "json")
    assert both.returncode == 2, both.stderr
    (entry,) = json.loads(both.stdout)["topics"]
    assert entry["action"] == "update" and entry["partitions"] == {"from": 1, "to": 4}
    assert entry["config"] == [{"key": "retention.ms", "from": "3600000", "fromDefault": False, "to": "86400000"}]
    assert entry["unmanagedConfig"] == {"segment.ms": "7200000"}

    everything = diff(kafka.bootstrap_servers, "-f", str(tmp_path))  # the directory, recursively
    assert everything.returncode == 2
    blocks = [line for line in everything.stdout.splitlines() if line[:1] in "+~=!"]
    assert [b.split()[2] for b in blocks] == sorted([new, same, changed])  # stable order: by topic name

    # diff only validated: the broker is exactly as before.
    assert describe(admin, new) is None
    assert describe(admin, changed) == before
    assert before is not None and before[0] == 1 and before[1]["retention.ms"] == "3600000"


def test_broker_rejection_is_an_error_with_the_brokers_message(kafka: KafkaCluster, admin: AdminClient,
                                                                tmp_path: Path):
    new, existing = unique("diff-bad-new"), unique("diff-bad-existing")
    create(admin, existing, 1, {})
    (tmp_path / "bad.yaml").write_text(kafkatopic(new, 1, {"retention.ms": "forever"}) + "\n---\n"
                                       + kafkatopic(existing, 1, {"cleanup.policy": "sometimes"}))
    result = diff(kafka.bootstrap_servers, "-f", str(tmp_path / "bad.yaml"))
    assert result.returncode == 1, result.stdout
    assert f"! topic {new} (error: InvalidConfig)" in result.stdout
    assert "Invalid value forever for configuration retention.ms" in result.stdout
    assert f"! topic {existing} (error: InvalidConfig)" in result.stdout
    assert "sometimes" in result.stdout and "cleanup.policy" in result.stdout
    assert describe(admin, new) is None
    assert describe(admin, existing)[1]["cleanup.policy"] == "delete"


def test_invalid_manifest_is_an_error(kafka: KafkaCluster, tmp_path: Path):
    (tmp_path / "broken.yaml").write_text("apiVersion: kafkaops.io/v1alpha1\nkind: KafkaTopic\n"
                                          "metadata: {name: x}\nspec: {partitions: 0}\n")
    result = diff(kafka.bootstrap_servers, "-f", str(tmp_path / "broken.yaml"))
    assert result.returncode == 1
    assert "spec.partitions: Input should be greater than or equal to 1" in result.stdout


def test_unreachable_broker_fails_quickly(tmp_path: Path):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "t.yaml").write_text(kafkatopic("anything", 1))
    started = time.monotonic()
    result = subprocess.run([str(KAFKAOPS), "diff", "--bootstrap-servers", f"127.0.0.1:{port}", "--timeout", "2",
                             "-f", str(tmp_path / "t.yaml")], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"cannot reach Kafka at 127.0.0.1:{port} within 2s" in result.stderr
    assert elapsed < 10, elapsed
