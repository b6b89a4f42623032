"""Resolving a connection's Secret references to values, purely: the Kubernetes adapter reads the
Secrets of the operator's namespace and hands their decoded data here, so the rules (what counts
as missing, trailing newlines, PEM sanity) are one testable function."""

from __future__ import annotations

from collections.abc import Mapping

from kafkaops.types.clusters import (
    ClusterConnection,
    ClusterProbeFailed,
    ClusterReason,
    ResolvedCredentials,
    SecretKeyRef,
    SecretNotFound,
)

SecretData = Mapping[str, Mapping[str, str]]  # Secret name -> decoded data


def _value(secrets: SecretData, ref: SecretKeyRef | None, namespace: str | None) -> str | None:
    if ref is None:
        return None
    data = secrets.get(ref.name)
    if data is None:
        raise SecretNotFound(ref, namespace)
    value = data.get(ref.key)
    if not value:
        raise SecretNotFound(ref, namespace, missing_key=True)
    return value


def _line(value: str | None) -> str | None:
    """``kubectl create secret --from-file`` keeps the file's final newline; no Kafka username or
    password ends in one, and sending it is a classic 'authentication failed' (KEDA 4689)."""
    return None if value is None else value.rstrip("\r\n")


def _pem(value: str | None, ref: SecretKeyRef | None, what: str) -> str | None:
    if value is not None and "-----BEGIN " not in value:
        raise ClusterProbeFailed(ClusterReason.INVALID_SPEC, f"Secret key {ref} does not hold a PEM {what}")
    return value


def resolve_credentials(connection: ClusterConnection, secrets: SecretData, *,
                        namespace: str | None = None) -> ResolvedCredentials:
    """The values behind every reference of ``connection``; raises ``SecretNotFound`` for a
    missing Secret or key, ``ClusterProbeFailed(InvalidSpec)`` for a value that is not PEM."""
    tls, sasl = connection.tls, connection.sasl
    ca = cert = key = username = password = None
    if tls is not None:
        ca = _pem(_value(secrets, tls.ca, namespace), tls.ca, "certificate")
        cert = _pem(_value(secrets, tls.client_certificate, namespace), tls.client_certificate, "certificate")
        key = _pem(_value(secrets, tls.client_key, namespace), tls.client_key, "private key")
    if sasl is not None:
        username = _line(_value(secrets, sasl.username, namespace))
        password = _line(_value(secrets, sasl.password, namespace))
    return ResolvedCredentials(ca_pem=ca, client_certificate_pem=cert, client_key_pem=key, username=username,
                               password=password)
