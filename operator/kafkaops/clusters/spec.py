"""The KafkaCluster spec as a typed model, parsed into a ``ClusterConnection``. The CRD schema
(crds/kafkaclusters.yaml) and its CEL rules reject bad input at admission; this model repeats
the checks so that the operator never acts on what the schema would have refused.

Secret references follow what cert-manager produces: a CA under ``ca.crt``, a client certificate
as one ``kubernetes.io/tls`` Secret (``tls.crt`` + ``tls.key``). SASL names a mechanism and one
Secret with a username and a password; OAUTHBEARER can later add its own block beside
``credentialsSecretRef`` without breaking existing objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kafkaops.types.clusters import (
    ClusterConnection,
    SaslMechanism,
    SaslSettings,
    SecretKeyRef,
    TlsSettings,
)
from kafkaops.types.specs import parse_spec

# host:port[,host:port...]; a host may be a name, an IPv4 address or a bracketed IPv6 address.
BOOTSTRAP_SERVERS_PATTERN = r"^[^,\s]+:[0-9]{1,5}(,[^,\s]+:[0-9]{1,5})*$"
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
PASSWORD_MECHANISMS = (SaslMechanism.SCRAM_SHA_512.value, SaslMechanism.SCRAM_SHA_256.value,
                       SaslMechanism.PLAIN.value)

_MODEL = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
SecretName = Field(min_length=1, max_length=253, pattern=SECRET_NAME_PATTERN)


def _key(default: str, alias: str | None = None) -> Any:
    """A key in a Secret, with the default cert-manager (or a plain Secret) uses."""
    return Field(default, alias=alias, min_length=1, max_length=253, pattern=SECRET_KEY_PATTERN)


class CaSecretRef(BaseModel):
    model_config = _MODEL
    name: str = SecretName
    key: str = _key("ca.crt")


class ClientCertificateSecretRef(BaseModel):
    """A ``kubernetes.io/tls`` Secret (what a cert-manager Certificate writes)."""

    model_config = _MODEL
    name: str = SecretName
    certificate_key: str = _key("tls.crt", "certificateKey")
    private_key_key: str = _key("tls.key", "privateKeyKey")


class TlsSpec(BaseModel):
    model_config = _MODEL
    ca_secret_ref: CaSecretRef | None = Field(None, alias="caSecretRef")
    client_certificate_secret_ref: ClientCertificateSecretRef | None = Field(None, alias="clientCertificateSecretRef")
    server_name_check: bool = Field(True, alias="serverNameCheck")


class CredentialsSecretRef(BaseModel):
    model_config = _MODEL
    name: str = SecretName
    username_key: str = _key("username", "usernameKey")
    password_key: str = _key("password", "passwordKey")


class SaslSpec(BaseModel):
    model_config = _MODEL
    mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
    credentials_secret_ref: CredentialsSecretRef | None = Field(None, alias="credentialsSecretRef")

    @model_validator(mode="after")
    def _credentials(self) -> SaslSpec:
        if self.mechanism in PASSWORD_MECHANISMS and self.credentials_secret_ref is None:
            raise ValueError(f"sasl.mechanism {self.mechanism} needs sasl.credentialsSecretRef")
        return self


class KafkaClusterSpec(BaseModel):
    model_config = _MODEL
    bootstrap_servers: str = Field(alias="bootstrapServers", min_length=1, max_length=4096,
                                   pattern=BOOTSTRAP_SERVERS_PATTERN)
    tls: TlsSpec | None = None
    sasl: SaslSpec | None = None

    def connection(self, name: str) -> ClusterConnection:
        tls = None
        if self.tls is not None:
            ca, client = self.tls.ca_secret_ref, self.tls.client_certificate_secret_ref
            tls = TlsSettings(
                ca=SecretKeyRef(name=ca.name, key=ca.key) if ca else None,
                client_certificate=SecretKeyRef(name=client.name, key=client.certificate_key) if client else None,
                client_key=SecretKeyRef(name=client.name, key=client.private_key_key) if client else None,
                server_name_check=self.tls.server_name_check)
        sasl = None
        if self.sasl is not None:
            credentials = self.sasl.credentials_secret_ref
            assert credentials is not None  # every mechanism so far has one (validated above)
            sasl = SaslSettings(mechanism=SaslMechanism(self.sasl.mechanism),
                                username=SecretKeyRef(name=credentials.name, key=credentials.username_key),
                                password=SecretKeyRef(name=credentials.name, key=credentials.password_key))
        servers = tuple(s.strip() for s in self.bootstrap_servers.split(","))
        return ClusterConnection(name=name, bootstrap_servers=servers, tls=tls, sasl=sasl)


def parse_cluster_spec(spec: Any) -> KafkaClusterSpec:
    return parse_spec(KafkaClusterSpec, spec)


def parse_cluster_connection(name: str, spec: Any) -> ClusterConnection:
    """A KafkaCluster's spec as a connection; raises ``InvalidSpec`` with a user-facing message."""
    return parse_cluster_spec(spec).connection(name)
