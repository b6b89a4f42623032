"""Kafka errors mapped to what the user should read in a status condition.

Everything from confluent-kafka is turned into one of two exceptions here, so no other
module has to know librdkafka's error codes.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaError, KafkaException

from kafkaops.types.errors import KafkaRejected, KafkaUnavailable, TopicMissing

# Broker-side answers that mean "your request is wrong": retrying will not help.
_REJECTION_REASONS: dict[int, str] = {
    KafkaError.INVALID_CONFIG: "InvalidConfig",
    KafkaError.INVALID_REPLICATION_FACTOR: "InvalidConfig",
    KafkaError.INVALID_PARTITIONS: "InvalidConfig",
    KafkaError.INVALID_REPLICA_ASSIGNMENT: "InvalidConfig",
    KafkaError.INVALID_REQUEST: "InvalidConfig",
    KafkaError.TOPIC_EXCEPTION: "InvalidConfig",
    KafkaError.POLICY_VIOLATION: "PolicyViolation",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "NotAuthorized",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "NotAuthorized",
    KafkaError.TOPIC_DELETION_DISABLED: "PolicyViolation",
}


def translate(error: BaseException, reasons: Mapping[int, str] | None = None) -> Exception:
    """Turn an exception raised by a confluent-kafka future into a domain exception. ``reasons``
    names rejections the caller's operation reads differently (it wins over the table above)."""
    if not isinstance(error, KafkaException) or not error.args:
        return KafkaUnavailable(str(error) or type(error).__name__)
    kafka_error = error.args[0]
    if not isinstance(kafka_error, KafkaError):
        return KafkaUnavailable(str(error))
    code = kafka_error.code()
    message = kafka_error.str()
    if reasons and code in reasons:
        return KafkaRejected(reasons[code], message, code)
    if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.UNKNOWN_TOPIC_ID, KafkaError._UNKNOWN_TOPIC):
        return TopicMissing(message)
    if code == KafkaError.TOPIC_ALREADY_EXISTS:
        return KafkaRejected("TopicAlreadyExists", message, code)
    if code in _REJECTION_REASONS:
        return KafkaRejected(_REJECTION_REASONS[code], message, code)
    if kafka_error.retriable() or code < 0:
        return KafkaUnavailable(message)
    return KafkaRejected("KafkaError", f"{kafka_error.name()}: {message}", code)
