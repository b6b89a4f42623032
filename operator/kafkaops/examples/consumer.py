"""The example consumer every ConsumerApp in ``examples/`` runs: ``kafkaops example-consumer`` from the
project's own image, so a pod needs no package index. It reads only the ``KAFKA_*`` variables the operator
injects (plus SASL credentials, if the template maps them from a Secret; flags of the same meaning win),
commits after processing, forwards to ``OUTPUT_TOPIC`` when set (a pipeline's first stage) and stops cleanly
on SIGTERM, so a scale-down loses nothing. With ``KAFKA_GROUP_TYPE=share`` (a ConsumerApp with
``groupType: share``) it joins a Kafka share group with confluent-kafka's ShareConsumer and acknowledges each
record after processing instead of committing offsets. ``PROCESSING_DELAY_MS`` sets its rate.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import AcknowledgeType, Consumer, KafkaError, Producer, ShareConsumer

PROPERTIES = {  # environment variable -> librdkafka property
    "KAFKA_BOOTSTRAP_SERVERS": "bootstrap.servers",
    "KAFKA_GROUP_ID": "group.id",
    "KAFKA_AUTO_OFFSET_RESET": "auto.offset.reset",
    "KAFKA_GROUP_PROTOCOL": "group.protocol",  # "consumer": KIP-848's protocol; unset: the classic one
    "KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "KAFKA_SASL_MECHANISMS": "sasl.mechanism",
    "KAFKA_SASL_USERNAME": "sasl.username",
    "KAFKA_SASL_PASSWORD": "sasl.password",
    "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
}


def client_config(env: Mapping[str, str]) -> dict[str, str]:
    return {prop: env[var] for var, prop in PROPERTIES.items() if env.get(var)}


def producer_config(config: Mapping[str, str]) -> dict[str, str]:
    """The client config without the consumer-only properties (librdkafka warns about them)."""
    return {k: v for k, v in config.items() if k not in ("group.id", "auto.offset.reset", "group.protocol")}


def main(env: Mapping[str, str] = os.environ) -> None:
    config = client_config(env)
    if env.get("KAFKA_GROUP_TYPE") == "share":
        main_share(env, config)
        return
    consumer = Consumer({**config, "enable.auto.commit": False})
    output = env.get("OUTPUT_TOPIC")
    producer = Producer(producer_config(config)) if output else None
    delay = float(env.get("PROCESSING_DELAY_MS", "0")) / 1000
    limit = int(env.get("MAX_MESSAGES", "0"))  # 0: run until stopped
    stopping: list[Any] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe(env["KAFKA_TOPICS"].split(","))
    processed = 0
    try:
        while not stopping and not (limit and processed >= limit):
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    print(f"consumer error: {message.error()}", file=sys.stderr, flush=True)
                continue
            if producer is not None:
                producer.produce(output, key=message.key(), value=(message.value() or b"").upper())
                producer.flush(30)
            time.sleep(delay)
            consumer.commit(message=message, asynchronous=False)
            processed += 1
    finally:
        consumer.close()
    print(f"processed {processed} messages", flush=True)


def main_share(env: Mapping[str, str], config: dict[str, str]) -> None:
    """A share group: records, not partitions, are shared among the consumers; each is acknowledged
    after processing (a record not acknowledged goes back to the group when its lock expires). Where
    a new share group starts is the group's config share.auto.offset.reset, not the consumer's."""
    config = {k: v for k, v in config.items() if k != "auto.offset.reset"}
    consumer = ShareConsumer({**config, "share.acknowledgement.mode": "explicit"})
    output = env.get("OUTPUT_TOPIC")
    producer = Producer(producer_config(config)) if output else None
    delay = float(env.get("PROCESSING_DELAY_MS", "0")) / 1000
    limit = int(env.get("MAX_MESSAGES", "0"))  # 0: run until stopped
    stopping: list[Any] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe(env["KAFKA_TOPICS"].split(","))
    processed = 0
    try:
        while not stopping and not (limit and processed >= limit):
            for message in consumer.poll(1.0):
                if message.error():
                    print(f"consumer error: {message.error()}", file=sys.stderr, flush=True)
                    continue
                if stopping or (limit and processed >= limit):  # not processed: back to the group
                    consumer.acknowledge(message, AcknowledgeType.RELEASE)
                    continue
                if producer is not None:
                    producer.produce(output, key=message.key(), value=(message.value() or b"").upper())
                    producer.flush(30)
                time.sleep(delay)
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                processed += 1
            consumer.commit_sync()
    finally:
        consumer.close()
    print(f"processed {processed} messages", flush=True)
