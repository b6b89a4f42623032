"""What tests do to a real broker as an application would: produce records, commit a group's offsets."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, ShareConsumer, TopicPartition

from helpers import eventually

Protocol = Literal["classic", "consumer", "share"]
PROTOCOLS: tuple[Protocol, ...] = ("classic", "consumer", "share")


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


def _member(bootstrap: str, protocol: Protocol, group: str, topics: Sequence[str], stop: threading.Event,
            failures: list[BaseException]) -> None:
    """One group member polling until ``stop``, then leaving the group (never committing: the lag stays)."""
    try:
        if protocol == "share":
            share = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group})
            try:
                share.subscribe(list(topics))
                while not stop.is_set():
                    share.poll(0.2)
            finally:
                share.close()
            return
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                             "enable.auto.commit": False, "auto.offset.reset": "latest"})
        try:
            consumer.subscribe(list(topics))
            while not stop.is_set():
                message = consumer.poll(0.2)
                if message is not None and message.error() and message.error().fatal():
                    raise KafkaException(message.error())
        finally:
            consumer.close()
    except BaseException as error:  # seen by the test when the block ends
        failures.append(error)


@contextmanager
def members(bootstrap: str, protocol: Protocol, group: str, topics: Sequence[str], count: int = 1) -> Iterator[None]:
    """``count`` live members of ``group`` speaking ``protocol`` (``classic``, ``consumer`` for KIP-848's
    group.protocol=consumer, or ``share``), each polling in its own thread while the block runs; they
    leave the group when it ends. Classic and consumer members never commit."""
    stop, failures = threading.Event(), []
    threads = [threading.Thread(target=_member, args=(bootstrap, protocol, group, topics, stop, failures),
                                name=f"{protocol}-member-{i}", daemon=True) for i in range(count)]
    with ExitStack() as stack:
        for thread in threads:
            thread.start()
            stack.callback(thread.join, 60)
        stack.callback(stop.set)  # runs first: stop, then join each
        yield
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads), "a group member did not leave"


def commit_as_member(bootstrap: str, protocol: Protocol, group: str, topic: str, offsets: dict[int, int],
                     timeout: float = 60) -> None:
    """Join ``group`` as one ``classic`` or ``consumer`` (KIP-848) member, commit these offsets of
    ``topic`` and leave: the group stays, empty, of that protocol (a commit without joining would make a
    classic group whatever the client)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                         "enable.auto.commit": False, "auto.offset.reset": "latest"})
    try:
        consumer.subscribe([topic])

        def assigned() -> bool:
            consumer.poll(0.2)
            return {tp.partition for tp in consumer.assignment()} >= set(offsets)
        eventually(assigned, timeout=timeout, interval=0, what=f"{topic} assigned to the {protocol} member")
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()
