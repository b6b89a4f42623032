"""How to reach one Kafka cluster, as plain values: what a KafkaCluster spec says (secret
*references* only), what the operator read from those Secrets (``ResolvedCredentials``, whose
repr hides every secret), and what a probe of the cluster found or why it failed.

The domain builds ``ClusterConnection`` from the CRD, the Kubernetes adapter resolves the
references, the Kafka adapter turns both into client configuration; keeping the values here
lets each side depend on them without depending on the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class SaslMechanism(StrEnum):
    """SASL mechanisms a KafkaCluster may name (OAUTHBEARER to come: it needs no password)."""

    SCRAM_SHA_512 = "SCRAM-SHA-512"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    PLAIN = "PLAIN"


class ClusterReason(StrEnum):
    """Reasons of a KafkaCluster's ``Ready`` condition."""

    CONNECTED = "Connected"
    AUTHENTICATION_FAILED = "AuthenticationFailed"
    TLS_ERROR = "TLSError"
    UNREACHABLE = "Unreachable"
    SECRET_NOT_FOUND = "SecretNotFound"
    INVALID_SPEC = "InvalidSpec"  # what the CRD schema could not reject (e.g. an unparsable PEM)


@dataclass(frozen=True, kw_only=True)
class SecretKeyRef:
    """One key of a Secret in the operator's namespace (cert-manager's ClusterIssuer rule)."""

    name: str
    key: str

    def __str__(self) -> str:
        return f"{self.name}/{self.key}"


@dataclass(frozen=True, kw_only=True)
class TlsSettings:
    """TLS to the brokers. ``ca`` None: the system trust store. Client certificate and key come
    together (mTLS) or not at all."""

    ca: SecretKeyRef | None = None
    client_certificate: SecretKeyRef | None = None
    client_key: SecretKeyRef | None = None
    server_name_check: bool = True

    def __post_init__(self) -> None:
        if (self.client_certificate is None) != (self.client_key is None):
            raise ValueError("a client certificate needs its key and a key its certificate")


@dataclass(frozen=True, kw_only=True)
class SaslSettings:
    """SASL with a username and password read from Secrets."""

    mechanism: SaslMechanism
    username: SecretKeyRef
    password: SecretKeyRef


@dataclass(frozen=True, kw_only=True)
class ClusterConnection:
    """Everything needed to connect to a cluster except the secret values themselves."""

    name: str
    bootstrap_servers: tuple[str, ...]
    tls: TlsSettings | None = None
    sasl: SaslSettings | None = None

    def __post_init__(self) -> None:
        if not self.bootstrap_servers:
            raise ValueError("at least one bootstrap server is needed")

    @property
    def security_protocol(self) -> str:
        """Kafka's name for the combination: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
        if self.sasl is None:
            return "SSL" if self.tls else "PLAINTEXT"
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def secret_refs(self) -> tuple[SecretKeyRef, ...]:
        """Every Secret key this connection needs, in a stable order (what a Secret watch looks for)."""
        refs: list[SecretKeyRef | None] = []
        if self.tls is not None:
            refs += [self.tls.ca, self.tls.client_certificate, self.tls.client_key]
        if self.sasl is not None:
            refs += [self.sasl.username, self.sasl.password]
        return tuple(ref for ref in refs if ref is not None)

    def secret_names(self) -> frozenset[str]:
        return frozenset(ref.name for ref in self.secret_refs())


def _shown(value: str | None) -> str:
    return "None" if value is None else f"<{len(value)} chars>"


@dataclass(frozen=True, kw_only=True, repr=False)
class ResolvedCredentials:
    """The values read from the referenced Secrets. Compare two to see a rotation; never log the
    fields: ``repr``/``str`` show only which are set, ``secret_values()`` feeds the log scrubber."""

    ca_pem: str | None = None
    client_certificate_pem: str | None = None
    client_key_pem: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return (f"ResolvedCredentials(ca_pem={_shown(self.ca_pem)}, "
                f"client_certificate_pem={_shown(self.client_certificate_pem)}, "
                f"client_key_pem={'***' if self.client_key_pem else None}, username={self.username!r}, "
                f"password={'***' if self.password else None})")

    __str__ = __repr__

    def secret_values(self) -> frozenset[str]:
        """The values that must never appear in logs, status or Events."""
        return frozenset(v for v in (self.password, self.client_key_pem) if v)


NO_CREDENTIALS = ResolvedCredentials()


@dataclass(frozen=True, kw_only=True)
class ClusterProbe:
    """What a successful probe found (the KafkaCluster's status fields)."""

    cluster_id: str | None
    brokers: int
    controller_id: int | None


class ClusterProbeFailed(Exception):
    """The cluster could not be used; ``reason`` is a ``ClusterReason``, ``message`` the client's
    words (already scrubbed of secrets) for the condition message."""

    def __init__(self, reason: ClusterReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class SecretNotFound(ClusterProbeFailed):
    """A referenced Secret or key does not exist (or is empty)."""

    def __init__(self, ref: SecretKeyRef, namespace: str | None = None, *, missing_key: bool = False) -> None:
        where = f"{namespace}/{ref.name}" if namespace else ref.name
        message = (f"Secret {where} has no key {ref.key!r}" if missing_key else f"Secret {where} not found")
        super().__init__(ClusterReason.SECRET_NOT_FOUND, message)
        self.ref = ref


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """What a ConsumerApp's containers are told about their cluster. Nothing secret: the CA is a
    public certificate, and credentials come from a Secret of the app's own namespace."""

    bootstrap_servers: str
    env: Mapping[str, str] = field(default_factory=dict)  # KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM
    ca_pem: str | None = None
