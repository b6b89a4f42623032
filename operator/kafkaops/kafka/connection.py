"""Client configuration for one KafkaCluster, and the probe that decides its Ready reason.

Both client libraries get their configuration from the same ``ClusterConnection`` and
``ResolvedCredentials``, without files: librdkafka takes PEM in ``ssl.ca.pem`` /
``ssl.certificate.pem`` / ``ssl.key.pem``; kafka-python takes an ``ssl.SSLContext`` built with
``cadata`` (a client certificate is the one exception: the standard library loads it only from a
file, which lives in a private temporary directory for the duration of the load).

Nothing here logs or raises a message with a password or a private key in it: the probe's
messages and librdkafka's log lines are scrubbed of ``credentials.secret_values()``.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from kafkaops.types.clusters import (
    ClusterConnection,
    ClusterProbe,
    ClusterProbeFailed,
    ClusterReason,
    ResolvedCredentials,
)

log = logging.getLogger("kafkaops.kafka.connection")
REDACTED = "***"
PROBE_TIMEOUT_SECONDS = 10.0

_AUTHENTICATION = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
                             KafkaError.ILLEGAL_SASL_STATE, KafkaError.UNSUPPORTED_SASL_MECHANISM})
_TLS = frozenset({KafkaError._SSL})
# Everything the client could not get past; the verdict is still being decided while only these come.
_UNREACHABLE = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE,
                          KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT})


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _required(value: str | None, what: str, connection: ClusterConnection) -> str:
    if not value:
        raise ValueError(f"KafkaCluster {connection.name}: {what} was not resolved (resolve_credentials first)")
    return value


def confluent_config(connection: ClusterConnection, credentials: ResolvedCredentials,
                     base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """librdkafka configuration (AdminClient, Producer, Consumer) for this cluster; ``base`` adds
    tuning properties (timeouts, client.id) that the connection does not decide. Never log it."""
    config: dict[str, Any] = {**(base or {}), "bootstrap.servers": ",".join(connection.bootstrap_servers),
                              "security.protocol": connection.security_protocol}
    if connection.tls is not None:
        if credentials.ca_pem:
            config["ssl.ca.pem"] = credentials.ca_pem
        if connection.tls.client_certificate is not None:
            config["ssl.certificate.pem"] = _required(credentials.client_certificate_pem, "client certificate",
                                                      connection)
            config["ssl.key.pem"] = _required(credentials.client_key_pem, "client key", connection)
        config["ssl.endpoint.identification.algorithm"] = "https" if connection.tls.server_name_check else "none"
    if connection.sasl is not None:
        config["sasl.mechanism"] = connection.sasl.mechanism.value
        config["sasl.username"] = _required(credentials.username, "SASL username", connection)
        config["sasl.password"] = _required(credentials.password, "SASL password", connection)
    return config


def ssl_context(connection: ClusterConnection, credentials: ResolvedCredentials) -> ssl.SSLContext:
    """A client SSLContext: the KafkaCluster's CA only (or the system store without one), the
    server name checked unless ``serverNameCheck: false``, the client certificate for mTLS."""
    assert connection.tls is not None
    context = (ssl.create_default_context(cadata=credentials.ca_pem) if credentials.ca_pem
               else ssl.create_default_context())
    context.check_hostname = connection.tls.server_name_check
    context.verify_mode = ssl.CERT_REQUIRED
    if connection.tls.client_certificate is not None:
        certificate = _required(credentials.client_certificate_pem, "client certificate", connection)
        key = _required(credentials.client_key_pem, "client key", connection)
        with tempfile.TemporaryDirectory(prefix="kafkaops-tls-") as directory:  # mode 0700
            path = Path(directory) / "client.pem"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(key if key.endswith("\n") else key + "\n")
                out.write(certificate)
            context.load_cert_chain(path)
    return context


def python_config(connection: ClusterConnection, credentials: ResolvedCredentials, *,
                  request_timeout: float = 30.0, client_id: str = "kafkaops") -> dict[str, Any]:
    """kafka-python arguments (KafkaAdminClient, KafkaConsumer) for this cluster. Never log it."""
    timeout_ms = int(request_timeout * 1000)
    config: dict[str, Any] = {"bootstrap_servers": list(connection.bootstrap_servers), "client_id": client_id,
                              "request_timeout_ms": timeout_ms, "bootstrap_timeout_ms": timeout_ms,
                              "security_protocol": connection.security_protocol}
    if connection.tls is not None:
        config["ssl_context"] = ssl_context(connection, credentials)
        config["ssl_check_hostname"] = connection.tls.server_name_check
    if connection.sasl is not None:
        config["sasl_mechanism"] = connection.sasl.mechanism.value
        config["sasl_plain_username"] = _required(credentials.username, "SASL username", connection)
        config["sasl_plain_password"] = _required(credentials.password, "SASL password", connection)
    return config


class _ScrubbingLogger:
    """What librdkafka's ``logger`` needs (``.log(level, fmt, *args)``): lines scrubbed of secrets."""

    def __init__(self, logger: logging.Logger, secrets: frozenset[str]) -> None:
        self._logger, self._secrets = logger, secrets

    def log(self, level: int, message: str, *args: Any) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, "%s", scrub(message % args if args else message, self._secrets))


def _message(error: KafkaException) -> str:
    kafka_error = error.args[0] if error.args else None
    return kafka_error.str() if isinstance(kafka_error, KafkaError) else str(error)


def _verdict(errors: list[KafkaError]) -> tuple[ClusterReason, KafkaError] | None:
    """The decisive error so far: authentication before TLS before (only once all brokers are
    down, or time is up) unreachable."""
    for codes, reason in ((_AUTHENTICATION, ClusterReason.AUTHENTICATION_FAILED), (_TLS, ClusterReason.TLS_ERROR)):
        for error in errors:
            if error.code() in codes:
                return reason, error
    return None


def probe(connection: ClusterConnection, credentials: ResolvedCredentials,
          timeout: float = PROBE_TIMEOUT_SECONDS) -> ClusterProbe:
    """Connect, authenticate and describe the cluster, within ``timeout`` seconds (blocking: run it
    in a thread). Raises ``ClusterProbeFailed`` with AuthenticationFailed, TLSError or Unreachable
    and the client's message. A fresh client each time, so a rotated Secret is always used."""
    secrets = credentials.secret_values()
    errors: list[KafkaError] = []
    timeout_ms = max(1000, int(timeout * 1000))
    config = confluent_config(connection, credentials, {
        "client.id": f"kafkaops-probe-{connection.name}", "socket.timeout.ms": timeout_ms,
        "socket.connection.setup.timeout.ms": timeout_ms, "reconnect.backoff.ms": 200,
        "reconnect.backoff.max.ms": 1000})
    config["error_cb"] = errors.append
    config["logger"] = _ScrubbingLogger(logging.getLogger("kafkaops.kafka.librdkafka"), secrets)
    started = time.monotonic()
    deadline = started + timeout
    try:
        admin = AdminClient(config)
    except KafkaException as error:  # e.g. a PEM librdkafka cannot parse
        message = scrub(_message(error), secrets)
        raise ClusterProbeFailed(ClusterReason.TLS_ERROR if "ssl" in message.lower() else ClusterReason.UNREACHABLE,
                                 message) from None
    future = admin.describe_cluster(request_timeout=timeout)
    # Callbacks (error_cb, logger) are served by poll(): poll until answered, decided or out of time.
    while not future.done() and time.monotonic() < deadline:
        admin.poll(0.1)
        if _verdict(errors) is not None or any(e.code() == KafkaError._ALL_BROKERS_DOWN for e in errors):
            break
    admin.poll(0)
    failure: str | None = None
    if future.done():
        try:
            description = future.result()
        except KafkaException as error:
            if error.args and isinstance(error.args[0], KafkaError):
                errors.append(error.args[0])
            failure = _message(error)
        else:
            return ClusterProbe(cluster_id=description.cluster_id, brokers=len(description.nodes),
                                controller_id=description.controller.id if description.controller else None)
    else:
        future.cancel()
    decided = _verdict(errors)
    if decided is not None:
        reason, error = decided
        message = error.str()
    else:
        reason = ClusterReason.UNREACHABLE
        transport = next((e for e in errors if e.code() in (KafkaError._TRANSPORT, KafkaError._RESOLVE)), None)
        message = transport.str() if transport is not None else (
            failure or f"no answer from {','.join(connection.bootstrap_servers)} within {timeout:g}s")
    message = scrub(message, secrets)
    log.debug("probe of KafkaCluster %s: %s (%s) after %.1fs", connection.name, reason, message,
              time.monotonic() - started)
    raise ClusterProbeFailed(reason, message)


__all__ = ["ClusterProbeFailed", "confluent_config", "probe", "python_config", "scrub", "ssl_context"]
