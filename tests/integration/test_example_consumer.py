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


def test_example_consumer_works_against_the_secured_broker_with_what_the_operator_injects(
        secured_kafka: KafkaCluster, tmp_path: Path):
    """SASL_SSL with SCRAM-SHA-512 and the mounted CA file: the variables a ConsumerApp on a
    KafkaCluster gets (credentials from its Secret, the CA from the operator's ConfigMap)."""
    security = secured_kafka.security
    topic, group = f"secure_{uuid.uuid4().hex[:6]}", f"secure-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(secured_kafka.client_config())
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer(secured_kafka.client_config())
    for i in range(5):
        producer.produce(topic, value=b"event %d" % i)
    assert producer.flush(30) == 0
    script = tmp_path / "consumer.py"
    script.write_text(yaml.safe_load(PROGRAM.read_text())["data"]["consumer.py"])
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=secured_kafka.bootstrap_servers, KAFKA_GROUP_ID=group,
               KAFKA_TOPICS=topic, KAFKA_AUTO_OFFSET_RESET="earliest", KAFKA_SECURITY_PROTOCOL="SASL_SSL",
               KAFKA_SASL_MECHANISM="SCRAM-SHA-512", KAFKA_SSL_CA_LOCATION=str(security.ca_pem_path),
               KAFKA_SASL_USERNAME=security.admin_user, KAFKA_SASL_PASSWORD=security.admin_password,
               MAX_MESSAGES="5")
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "processed 5 messages" in result.stdout
    reader = Consumer({**secured_kafka.client_config(), "group.id": group})
    (committed,) = reader.committed([TopicPartition(topic, 0)], timeout=30)
    reader.close()
    assert committed.offset == 5
