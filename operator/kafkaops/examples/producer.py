"""``kafkaops example-producer``: load for the example consumers, at a steady rate for a while, from the
project's image or a checkout (a demo's or an e2e test's burst)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import Producer

from kafkaops.examples.consumer import client_config, producer_config


def produce(env: Mapping[str, str], topic: str, rate: float, seconds: float) -> int:
    """``rate`` records a second to ``topic`` for ``seconds``, keyed round-robin so that every partition
    gets its share; returns how many the broker acknowledged."""
    config = producer_config(client_config(env))
    acknowledged = 0

    def delivered(error: object, _message: object) -> None:
        nonlocal acknowledged
        acknowledged += error is None

    producer = Producer({**config, "linger.ms": 5})
    total = int(rate * seconds)
    started = time.monotonic()
    for i in range(total):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.produce(topic, key=str(i).encode(), value=b"event %d" % i, on_delivery=delivered)
        producer.poll(0)
    producer.flush(60)
    return acknowledged
