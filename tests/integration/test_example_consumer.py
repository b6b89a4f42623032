"""The consumer program shipped in examples/ works against a real broker with only the KAFKA_*
variables the operator injects: it consumes, forwards to OUTPUT_TOPIC and commits."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafkaops.harness.kafka import KafkaCluster

pytestmark = pytest.mark.integration
PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "consumer-program.yaml"


def test_example_consumer_processes_forwards_and_commits(kafka: KafkaCluster, tmp_path: Path):
    source, sink, group = (f"raw_{uuid.uuid4().hex[:6]}", f"processed_{uuid.uuid4().hex[:6]}",
                           f"raw-processor-{uuid.uuid4().hex[:6]}")
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    for future in admin.create_topics([NewTopic(source, 2, 1), NewTopic(sink, 1, 1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(10):
        producer.produce(source, value=b"event %d" % i, partition=i % 2)
    assert producer.flush(30) == 0
    script = tmp_path / "consumer.py"
    script.write_text(yaml.safe_load(PROGRAM.read_text())["data"]["consumer.py"])
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers, KAFKA_GROUP_ID=group,
               KAFKA_TOPICS=source, KAFKA_AUTO_OFFSET_RESET="earliest", OUTPUT_TOPIC=sink, MAX_MESSAGES="10")
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "processed 10 messages" in result.stdout

    as_group = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group})
    committed = as_group.committed([TopicPartition(source, 0), TopicPartition(source, 1)], timeout=10)
    as_group.close()
    assert sorted(tp.offset for tp in committed) == [5, 5]

    reader = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": f"check-{group}",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    reader.assign([TopicPartition(sink, 0, 0)])
    forwarded = []
    while len(forwarded) < 10:
        message = reader.poll(10)
        assert message is not None, f"only {len(forwarded)} messages forwarded"
        forwarded.append(message.value())
    reader.close()
    assert sorted(forwarded) == sorted(b"EVENT %d" % i for i in range(10))
