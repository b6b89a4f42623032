"""The KafkaCluster spec: parsed into a connection, refused with a user-facing message, and the CRD
schema saying the same as the model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kafkaops.clusters.credentials import resolve_credentials
from kafkaops.clusters.spec import (
    BOOTSTRAP_SERVERS_PATTERN,
    PASSWORD_MECHANISMS,
    SECRET_KEY_PATTERN,
    SECRET_NAME_PATTERN,
    KafkaClusterSpec,
    parse_cluster_connection,
)
from kafkaops.types.clusters import (
    ClusterConnection,
    ClusterProbeFailed,
    ClusterReason,
    SaslMechanism,
    SecretKeyRef,
    SecretNotFound,
)
from kafkaops.types.errors import InvalidSpec

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((REPO / "crds" / "kafkaclusters.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
SPEC_SCHEMA = VERSION["schema"]["openAPIV3Schema"]["properties"]["spec"]
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(("spec", "servers", "tls", "sasl"), [
    ({"bootstrapServers": "kafka:9092"}, ("kafka:9092",), None, None),
    ({"bootstrapServers": "a:9093,b:9093,[::1]:9093"}, ("a:9093", "b:9093", "[::1]:9093"), None, None),
    # tls: {} is TLS with the system trust store and the server name checked
    ({"bootstrapServers": "a:9093", "tls": {}}, ("a:9093",), (None, None, None, True), None),
    ({"bootstrapServers": "a:9093", "tls": {"caSecretRef": {"name": "kafka-ca"}, "serverNameCheck": False}},
     ("a:9093",), ("kafka-ca/ca.crt", None, None, False), None),
    ({"bootstrapServers": "a:9093", "tls": {"caSecretRef": {"name": "ca", "key": "root.pem"},
                                            "clientCertificateSecretRef": {"name": "me"}}},
     ("a:9093",), ("ca/root.pem", "me/tls.crt", "me/tls.key", True), None),
    ({"bootstrapServers": "a:9093", "tls": {"clientCertificateSecretRef": {
        "name": "me", "certificateKey": "cert.pem", "privateKeyKey": "key.pem"}}},
     ("a:9093",), (None, "me/cert.pem", "me/key.pem", True), None),
    ({"bootstrapServers": "a:9093", "sasl": {"mechanism": "SCRAM-SHA-512", "credentialsSecretRef": {"name": "u"}}},
     ("a:9093",), None, ("SCRAM-SHA-512", "u/username", "u/password")),
    ({"bootstrapServers": "a:9093", "tls": {}, "sasl": {"mechanism": "PLAIN", "credentialsSecretRef": {
        "name": "u", "usernameKey": "user", "passwordKey": "pass"}}},
     ("a:9093",), (None, None, None, True), ("PLAIN", "u/user", "u/pass")),
])
def test_valid_specs_become_connections(spec, servers, tls, sasl):
    connection = parse_cluster_connection("prod", spec)
    assert connection.name == "prod" and connection.bootstrap_servers == servers
    if tls is None:
        assert connection.tls is None
    else:
        t = connection.tls
        assert (str(t.ca) if t.ca else None, str(t.client_certificate) if t.client_certificate else None,
                str(t.client_key) if t.client_key else None, t.server_name_check) == tls
    if sasl is None:
        assert connection.sasl is None
    else:
        s = connection.sasl
        assert (s.mechanism.value, str(s.username), str(s.password)) == sasl


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "spec.bootstrapServers: Field required"),
    ({"bootstrapServers": "kafka"}, "spec.bootstrapServers: String should match pattern"),
    ({"bootstrapServers": "a:9092, b:9092"}, "spec.bootstrapServers: String should match pattern"),
    ({"bootstrapServers": "a:9092", "sasl": {"mechanism": "SCRAM-SHA-512"}},
     "sasl.mechanism SCRAM-SHA-512 needs sasl.credentialsSecretRef"),
    ({"bootstrapServers": "a:9092", "sasl": {"mechanism": "GSSAPI", "credentialsSecretRef": {"name": "u"}}},
     "spec.sasl.mechanism: Input should be 'SCRAM-SHA-512', 'SCRAM-SHA-256' or 'PLAIN'"),
    ({"bootstrapServers": "a:9092", "tls": {"caSecretRef": {"name": "Not_A_Name"}}},
     "spec.tls.caSecretRef.name: String should match pattern"),
    ({"bootstrapServers": "a:9092", "tls": {"caSecretRef": {"name": "ca", "key": "a/b"}}},
     "spec.tls.caSecretRef.key: String should match pattern"),
    ({"bootstrapServers": "a:9092", "tls": {"caSecretRef": {}}}, "spec.tls.caSecretRef.name: Field required"),
    ({"bootstrapServers": "a:9092", "tls": {"ca": {"name": "x"}}}, "spec.tls.ca: Extra inputs are not permitted"),
    ({"bootstrapServers": "a:9092", "password": "x"}, "spec.password: Extra inputs are not permitted"),
])
def test_invalid_specs_say_what_is_wrong(spec, message):
    with pytest.raises(InvalidSpec) as error:
        parse_cluster_connection("prod", spec)
    assert message in str(error.value)


def _schema_properties(schema: dict) -> set[str]:
    return set(schema.get("properties", {}))


def _model_fields(model: type) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_crd_schema_has_exactly_the_model_fields_at_every_level():
    from kafkaops.clusters.spec import (
        CaSecretRef,
        ClientCertificateSecretRef,
        CredentialsSecretRef,
        SaslSpec,
        TlsSpec,
    )

    tls, sasl = SPEC_SCHEMA["properties"]["tls"], SPEC_SCHEMA["properties"]["sasl"]
    pairs = [(SPEC_SCHEMA, KafkaClusterSpec), (tls, TlsSpec), (sasl, SaslSpec),
             (tls["properties"]["caSecretRef"], CaSecretRef),
             (tls["properties"]["clientCertificateSecretRef"], ClientCertificateSecretRef),
             (sasl["properties"]["credentialsSecretRef"], CredentialsSecretRef)]
    for schema, model in pairs:
        assert _schema_properties(schema) == _model_fields(model), model.__name__
        for name, field in model.model_fields.items():
            prop = schema["properties"][field.alias or name]
            if field.default is not None and isinstance(field.default, str | bool):
                assert prop["default"] == field.default, (model.__name__, name)
            if prop.get("type") == "string" and "pattern" in prop and name != "bootstrap_servers":
                assert prop["pattern"] in (SECRET_NAME_PATTERN, SECRET_KEY_PATTERN)
    assert SPEC_SCHEMA["required"] == ["bootstrapServers"]
    assert SPEC_SCHEMA["properties"]["bootstrapServers"]["pattern"] == BOOTSTRAP_SERVERS_PATTERN
    assert sasl["properties"]["mechanism"]["enum"] == [m.value for m in SaslMechanism] == list(PASSWORD_MECHANISMS)


def test_crd_is_cluster_scoped_with_status_printer_columns_and_the_sasl_rule():
    assert CRD["spec"]["scope"] == "Cluster" and CRD["spec"]["names"]["shortNames"] == ["kc"]
    assert VERSION["subresources"] == {"status": {}}
    assert [c["name"] for c in VERSION["additionalPrinterColumns"]] == ["Ready", "Reason", "Brokers", "ClusterID",
                                                                       "Age"]
    (rule,) = SPEC_SCHEMA["properties"]["sasl"]["x-kubernetes-validations"]
    assert "has(self.credentialsSecretRef)" in rule["rule"]
    assert set(VERSION["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]) == {
        "observedGeneration", "clusterId", "brokers", "controllerId", "lastProbeTime", "conditions"}


@pytest.mark.parametrize(("servers", "ok"), [
    ("a:1", True), ("a.b.svc:9093,c:9093", True), ("10.0.0.1:9092", True), ("[fd00::1]:9092", True),
    ("a", False), ("a:", False), ("a:9092,", False), (",a:9092", False), ("a:9092 ", False), ("a:123456", False),
])
def test_bootstrap_pattern(servers, ok):
    assert bool(re.fullmatch(BOOTSTRAP_SERVERS_PATTERN, servers)) is ok


# ---- resolving the references ---------------------------------------------------------------

SECURED = parse_cluster_connection("prod", {
    "bootstrapServers": "a:9093",
    "tls": {"caSecretRef": {"name": "kafka-ca"}, "clientCertificateSecretRef": {"name": "client"}},
    "sasl": {"mechanism": "SCRAM-SHA-512", "credentialsSecretRef": {"name": "creds"}}})
SECRETS = {"kafka-ca": {"ca.crt": CERT}, "client": {"tls.crt": CERT, "tls.key": KEY},
           "creds": {"username": "alice\n", "password": "pa55word\r\n"}}


def test_resolving_reads_every_reference_and_drops_a_final_newline_from_username_and_password():
    credentials = resolve_credentials(SECURED, SECRETS, namespace="kafkaops")
    assert credentials.ca_pem == CERT and credentials.client_certificate_pem == CERT
    assert credentials.client_key_pem == KEY
    assert (credentials.username, credentials.password) == ("alice", "pa55word")


def test_a_plaintext_cluster_needs_no_secret():
    plain = ClusterConnection(name="dev", bootstrap_servers=("k:9092",))
    assert resolve_credentials(plain, {}) == resolve_credentials(plain, SECRETS)
    assert resolve_credentials(plain, {}).secret_values() == frozenset()


@pytest.mark.parametrize(("secrets", "message"), [
    ({k: v for k, v in SECRETS.items() if k != "creds"}, "Secret kafkaops/creds not found"),
    ({**SECRETS, "creds": {"username": "alice"}}, "Secret kafkaops/creds has no key 'password'"),
    ({**SECRETS, "creds": {"username": "alice", "password": ""}}, "Secret kafkaops/creds has no key 'password'"),
    ({**SECRETS, "kafka-ca": {"tls.crt": CERT}}, "Secret kafkaops/kafka-ca has no key 'ca.crt'"),
    ({**SECRETS, "client": {"tls.crt": CERT}}, "Secret kafkaops/client has no key 'tls.key'"),
])
def test_missing_secrets_and_keys_are_secret_not_found(secrets, message):
    with pytest.raises(SecretNotFound) as error:
        resolve_credentials(SECURED, secrets, namespace="kafkaops")
    assert error.value.reason == ClusterReason.SECRET_NOT_FOUND and error.value.message == message
    assert "pa55word" not in str(error.value)


def test_a_ca_that_is_not_pem_is_invalid_spec_naming_the_key():
    with pytest.raises(ClusterProbeFailed) as error:
        resolve_credentials(SECURED, {**SECRETS, "kafka-ca": {"ca.crt": "not a certificate"}})
    assert error.value.reason == ClusterReason.INVALID_SPEC
    assert error.value.message == "Secret key kafka-ca/ca.crt does not hold a PEM certificate"
    assert SecretKeyRef(name="kafka-ca", key="ca.crt") in SECURED.secret_refs()
