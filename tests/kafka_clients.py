"""What tests do to a real broker as an application would: produce records, commit a group's offsets."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from helpers import eventually


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    """``count`` records into each partition named."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(topic, value=b"x%d" % i, partition=partition)
    assert producer.flush(30) == 0


def commit_offsets(config: dict[str, str], group: str, offsets: list[TopicPartition], timeout: float = 60) -> None:
    """Commit as ``group``. The first commit on a fresh broker may meet a coordinator that is still
    loading the offsets topic (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS): retried, bounded."""
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})

    def committed() -> bool:
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() not in (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS):
                raise
            return False
        return True

    try:
        eventually(committed, timeout=timeout, interval=0.5, what=f"offsets of group {group} committed")
    finally:
        consumer.close()
