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


class Work:
    """What both kinds of group do with a record (forward it to ``OUTPUT_TOPIC`` when set, then take
    ``PROCESSING_DELAY_MS``) and when they stop (SIGTERM, or ``MAX_MESSAGES`` processed)."""

    def __init__(self, env: Mapping[str, str], config: Mapping[str, str]) -> None:
        self.output = env.get("OUTPUT_TOPIC")
        self.producer = Producer(producer_config(config)) if self.output else None
        self.delay = float(env.get("PROCESSING_DELAY_MS", "0")) / 1000
        self.limit = int(env.get("MAX_MESSAGES", "0"))  # 0: run until stopped
        self.processed = 0
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def done(self) -> bool:
        return self.stopping or bool(self.limit and self.processed >= self.limit)

    def process(self, message: Any) -> None:
        if self.producer is not None:
            self.producer.produce(self.output, key=message.key(), value=(message.value() or b"").upper())
            self.producer.flush(30)
        time.sleep(self.delay)

    def report(self) -> None:
        print(f"processed {self.processed} messages", flush=True)


def main(env: Mapping[str, str] = os.environ) -> None:
    config = client_config(env)
    if env.get("KAFKA_GROUP_TYPE") == "share":
        main_share(env, config)
        return
    consumer = Consumer({**config, "enable.auto.commit": False})
    work = Work(env, config)
    consumer.subscribe(env["KAFKA_TOPICS"].split(","))
    try:
        while not work.done():
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    print(f"consumer error: {message.error()}", file=sys.stderr, flush=True)
                continue
            work.process(message)
            consumer.commit(message=message, asynchronous=False)
            work.processed += 1
    finally:
        consumer.close()
    work.report()


def main_share(env: Mapping[str, str], config: dict[str, str]) -> None:
    """A share group: records, not partitions, are shared among the consumers; each is acknowledged
    after processing (a record not acknowledged goes back to the group when its lock expires). Where
    a new share group starts is the group's config share.auto.offset.reset, not the consumer's."""
    config = {k: v for k, v in config.items() if k not in ("auto.offset.reset", "group.protocol")}
    consumer = ShareConsumer({**config, "share.acknowledgement.mode": "explicit"})
    work = Work(env, config)
    consumer.subscribe(env["KAFKA_TOPICS"].split(","))
    try:
        while not work.done():
            for message in consumer.poll(1.0):
                if message.error():
                    print(f"consumer error: {message.error()}", file=sys.stderr, flush=True)
                    continue
                if work.done():  # not processed: back to the group
                    consumer.acknowledge(message, AcknowledgeType.RELEASE)
                    continue
                work.process(message)
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                work.processed += 1
            consumer.commit_sync()
    finally:
        consumer.close()
    work.report()
