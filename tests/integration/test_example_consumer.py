"""The example consumer (``kafkaops example-consumer``, what examples/ run) works against a real broker
with only the KAFKA_* variables the operator injects: it consumes, forwards to OUTPUT_TOPIC and commits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.types.errors import KafkaUnavailable

pytestmark = pytest.mark.integration
EXAMPLE_CONSUMER = [sys.executable, "-m", "kafkaops", "example-consumer"]


def run_example(expect_processed: int, **env: str) -> None:
    """Run the example consumer with ``env`` on top of this process's, as its container would; it must
    exit 0 having processed ``expect_processed`` messages."""
    result = subprocess.run(EXAMPLE_CONSUMER, env=dict(os.environ, **env), capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"processed {expect_processed} messages" in result.stdout


def forwarded(bootstrap: str, sink: str, count: int) -> list[bytes]:
    """The first ``count`` values the example program forwarded to ``sink`` (one partition)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex[:6]}",
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    reader.assign([TopicPartition(sink, 0, 0)])
    values: list[bytes] = []
    try:
        while len(values) < count:
            message = reader.poll(10)
            assert message is not None, f"only {len(values)} messages forwarded"
            values.append(message.value())
    finally:
        reader.close()
    return values


def test_example_consumer_processes_forwards_and_commits(kafka: KafkaCluster):
    source, sink, group = (f"raw_{uuid.uuid4().hex[:6]}", f"processed_{uuid.uuid4().hex[:6]}",
                           f"raw-processor-{uuid.uuid4().hex[:6]}")
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    for future in admin.create_topics([NewTopic(source, 2, 1), NewTopic(sink, 1, 1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(10):
        producer.produce(source, value=b"event %d" % i, partition=i % 2)
    assert producer.flush(30) == 0
    run_example(KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers, KAFKA_GROUP_ID=group,
                KAFKA_TOPICS=source, KAFKA_AUTO_OFFSET_RESET="earliest", OUTPUT_TOPIC=sink, MAX_MESSAGES="10",
                expect_processed=10)

    as_group = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group})
    committed = as_group.committed([TopicPartition(source, 0), TopicPartition(source, 1)], timeout=10)
    as_group.close()
    assert sorted(tp.offset for tp in committed) == [5, 5]

    assert sorted(forwarded(kafka.bootstrap_servers, sink, 10)) == sorted(b"EVENT %d" % i for i in range(10))


def test_example_consumer_works_against_the_secured_broker_with_what_the_operator_injects(
        secured_kafka: KafkaCluster):
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
    run_example(KAFKA_BOOTSTRAP_SERVERS=secured_kafka.bootstrap_servers, KAFKA_GROUP_ID=group,
                KAFKA_TOPICS=topic, KAFKA_AUTO_OFFSET_RESET="earliest", KAFKA_SECURITY_PROTOCOL="SASL_SSL",
                KAFKA_SASL_MECHANISM="SCRAM-SHA-512", KAFKA_SSL_CA_LOCATION=str(security.ca_pem_path),
                KAFKA_SASL_USERNAME=security.admin_user, KAFKA_SASL_PASSWORD=security.admin_password,
                MAX_MESSAGES="5", expect_processed=5)
    reader = Consumer({**secured_kafka.client_config(), "group.id": group})
    (committed,) = reader.committed([TopicPartition(topic, 0)], timeout=30)
    reader.close()
    assert committed.offset == 5


def test_example_consumer_in_share_mode_acknowledges_what_it_processed(kafka: KafkaCluster):
    """KAFKA_GROUP_TYPE=share (a ConsumerApp with groupType: share): confluent-kafka's ShareConsumer
    in a share group; afterwards the broker holds no backlog for the group."""
    source, sink, group = (f"jobs_{uuid.uuid4().hex[:6]}", f"done_{uuid.uuid4().hex[:6]}",
                           f"jobs-{uuid.uuid4().hex[:6]}")
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    for future in admin.create_topics([NewTopic(source, 2, 1), NewTopic(sink, 1, 1)]).values():
        future.result(30)
    # A share group starts at the log end unless its config says otherwise (the consumer cannot choose).
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[
        ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)])
    assert admin.incremental_alter_configs([resource])[resource].result(30) is None
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(10):
        producer.produce(source, value=b"job %d" % i, partition=i % 2)
    assert producer.flush(30) == 0
    run_example(KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers, KAFKA_GROUP_ID=group,
                KAFKA_GROUP_TYPE="share", KAFKA_TOPICS=source, KAFKA_AUTO_OFFSET_RESET="earliest", OUTPUT_TOPIC=sink,
                MAX_MESSAGES="10", expect_processed=10)

    async def backlog():
        reader = KafkaAdmin({"bootstrap.servers": kafka.bootstrap_servers})
        try:
            return (await reader.share_group_offsets({group: {source: 2}}))[group]
        finally:
            reader.close()

    deadline, lags = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # share-partition state is written asynchronously
        try:
            lags = {key: offsets.lag for key, offsets in asyncio.run(backlog()).items()}
        except KafkaUnavailable:
            lags = None
        if lags == {(source, 0): 0, (source, 1): 0}:
            break
        time.sleep(0.5)
    assert lags == {(source, 0): 0, (source, 1): 0}

    assert sorted(forwarded(kafka.bootstrap_servers, sink, 10)) == sorted(b"JOB %d" % i for i in range(10))
