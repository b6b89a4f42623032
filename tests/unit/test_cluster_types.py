"""The KafkaCluster value types: what they derive, and that credentials never print their secrets."""

from __future__ import annotations

import pytest

from kafkaops.types.clusters import (
    ClusterConnection,
    ClusterReason,
    ResolvedCredentials,
    SaslMechanism,
    SaslSettings,
    SecretKeyRef,
    SecretNotFound,
    TlsSettings,
)

pytestmark = pytest.mark.unit

CA = SecretKeyRef(name="kafka-ca", key="ca.crt")
SASL = SaslSettings(mechanism=SaslMechanism.SCRAM_SHA_512, username=SecretKeyRef(name="creds", key="username"),
                    password=SecretKeyRef(name="creds", key="password"))


@pytest.mark.parametrize(("tls", "sasl", "protocol"), [
    (None, None, "PLAINTEXT"),
    (TlsSettings(ca=CA), None, "SSL"),
    (None, SASL, "SASL_PLAINTEXT"),
    (TlsSettings(ca=CA), SASL, "SASL_SSL"),
    (TlsSettings(), SASL, "SASL_SSL"),  # TLS with the system trust store
])
def test_security_protocol_follows_tls_and_sasl(tls, sasl, protocol):
    assert ClusterConnection(name="c", bootstrap_servers=("k:9093",), tls=tls, sasl=sasl).security_protocol == protocol


def test_secret_refs_list_every_referenced_key_once_in_order():
    tls = TlsSettings(ca=CA, client_certificate=SecretKeyRef(name="client", key="tls.crt"),
                      client_key=SecretKeyRef(name="client", key="tls.key"))
    connection = ClusterConnection(name="c", bootstrap_servers=("k:9093",), tls=tls, sasl=SASL)
    assert [str(r) for r in connection.secret_refs()] == ["kafka-ca/ca.crt", "client/tls.crt", "client/tls.key",
                                                          "creds/username", "creds/password"]
    assert connection.secret_names() == {"kafka-ca", "client", "creds"}
    assert ClusterConnection(name="c", bootstrap_servers=("k:9092",)).secret_refs() == ()


@pytest.mark.parametrize("kwargs", [
    {"client_certificate": SecretKeyRef(name="client", key="tls.crt")},
    {"client_key": SecretKeyRef(name="client", key="tls.key")},
])
def test_a_client_certificate_and_its_key_come_together(kwargs):
    with pytest.raises(ValueError, match="client certificate needs its key"):
        TlsSettings(**kwargs)


def test_a_connection_needs_a_bootstrap_server_and_keyword_arguments():
    with pytest.raises(ValueError, match="bootstrap"):
        ClusterConnection(name="c", bootstrap_servers=())
    with pytest.raises(TypeError):
        SecretKeyRef("name", "key")  # type: ignore[misc]


def test_credentials_repr_and_str_show_no_secret():
    password, key = "s3cr3t-pa55word", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n"
    credentials = ResolvedCredentials(ca_pem="-----BEGIN CERTIFICATE-----\nabc\n", client_key_pem=key,
                                      client_certificate_pem="-----BEGIN CERTIFICATE-----\nxyz\n",
                                      username="alice", password=password)
    for shown in (repr(credentials), str(credentials), f"{credentials}", repr([credentials]),
                  repr({"c": credentials})):
        assert password not in shown and "MIGHAgEA" not in shown and "BEGIN" not in shown
        assert "username='alice'" in shown and "password=***" in shown
    assert credentials.secret_values() == {password, key}
    assert ResolvedCredentials().secret_values() == frozenset()
    assert "password=None" in repr(ResolvedCredentials())


def test_credentials_compare_by_value_so_a_rotation_is_a_change():
    before = ResolvedCredentials(username="alice", password="one")
    assert before == ResolvedCredentials(username="alice", password="one")
    assert before != ResolvedCredentials(username="alice", password="two")


def test_secret_not_found_is_a_probe_failure_with_the_secret_named():
    missing = SecretNotFound(CA, "kafkaops")
    assert missing.reason == ClusterReason.SECRET_NOT_FOUND == "SecretNotFound"
    assert missing.message == "Secret kafkaops/kafka-ca not found"
    assert SecretNotFound(CA, missing_key=True).message == "Secret kafka-ca has no key 'ca.crt'"


def test_reasons_are_the_condition_reasons_of_the_issue():
    assert {r.value for r in ClusterReason} >= {"Connected", "AuthenticationFailed", "TLSError", "Unreachable",
                                                "SecretNotFound"}
