"""The failures the domain reasons about, raised by the adapters (which map their clients' errors
onto these) and by the spec models."""

from __future__ import annotations


class InvalidSpec(ValueError):
    """The spec cannot be acted on; the message is meant for the user (status condition)."""


class KafkaUnavailable(Exception):
    """The cluster could not be reached or did not answer in time: retry later."""


class KafkaRejected(Exception):
    """The broker refused the request; ``reason`` is a status-condition reason."""

    def __init__(self, reason: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code


class TopicMissing(Exception):
    """The topic does not exist (describe of an unknown topic)."""


class ClusterNotReady(Exception):
    """The object's KafkaCluster is missing or cannot be used; ``message`` names it and says why
    (its own Ready reason), for the object's ``ClusterNotReady`` condition."""

    def __init__(self, cluster: str, why: str) -> None:
        super().__init__(f"KafkaCluster {cluster!r} is not ready: {why}")
        self.cluster = cluster
        self.message = str(self)


class ClusterNotFound(ClusterNotReady):
    """No KafkaCluster of that name exists: waited for a while (it may be applied in the same sync),
    then only a person can fix it (kstatus Stalled)."""
