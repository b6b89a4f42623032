"""Client configuration built from a KafkaCluster, for both client libraries, with no file left behind."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import pytest

from kafkaops.clusters.spec import parse_cluster_connection
from kafkaops.harness.tls import CertificateAuthority
from kafkaops.kafka.connection import confluent_config, python_config, scrub, ssl_context
from kafkaops.kafka.fallback_admin import python_client_config
from kafkaops.types.clusters import NO_CREDENTIALS, ResolvedCredentials

pytestmark = pytest.mark.unit

CA = CertificateAuthority.create("unit-test-ca")
CLIENT = CA.issue("kafkaops", server=False)
SCRAM = {"mechanism": "SCRAM-SHA-512", "credentialsSecretRef": {"name": "creds"}}
CREDENTIALS = ResolvedCredentials(ca_pem=CA.certificate_pem, username="alice", password="pa55word")


def connection(**spec):
    return parse_cluster_connection("prod", {"bootstrapServers": "a:9093,b:9093", **spec})


@pytest.mark.parametrize(("spec", "credentials", "confluent", "python"), [
    ({}, NO_CREDENTIALS,
     {"bootstrap.servers": "a:9093,b:9093", "security.protocol": "PLAINTEXT"},
     {"bootstrap_servers": ["a:9093", "b:9093"], "security_protocol": "PLAINTEXT"}),
    ({"tls": {"caSecretRef": {"name": "ca"}}, "sasl": SCRAM}, CREDENTIALS,
     {"security.protocol": "SASL_SSL", "ssl.ca.pem": CA.certificate_pem,
      "ssl.endpoint.identification.algorithm": "https", "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.username": "alice", "sasl.password": "pa55word"},
     {"security_protocol": "SASL_SSL", "ssl_check_hostname": True, "sasl_mechanism": "SCRAM-SHA-512",
      "sasl_plain_username": "alice", "sasl_plain_password": "pa55word"}),
    ({"tls": {"serverNameCheck": False}}, NO_CREDENTIALS,
     {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "none"},
     {"security_protocol": "SSL", "ssl_check_hostname": False}),
    ({"sasl": {"mechanism": "SCRAM-SHA-256", "credentialsSecretRef": {"name": "creds"}}}, CREDENTIALS,
     {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256"},
     {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256"}),
    ({"tls": {}, "sasl": {"mechanism": "PLAIN", "credentialsSecretRef": {"name": "creds"}}}, CREDENTIALS,
     {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"},
     {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}),
])
def test_both_libraries_get_the_same_connection(spec, credentials, confluent, python):
    c = connection(**spec)
    built = confluent_config(c, credentials)
    assert built.items() >= confluent.items()
    assert "ssl.ca.location" not in built and "ssl.certificate.location" not in built  # no files
    py = python_config(c, credentials)
    assert py.items() >= python.items()
    assert ("ssl_context" in py) == (c.tls is not None)
    assert "ssl_cafile" not in py
    if c.tls is None:
        assert not any(key.startswith("ssl.") for key in built)


def test_ssl_context_trusts_only_the_clusters_ca_and_checks_the_name():
    context = python_config(connection(tls={"caSecretRef": {"name": "ca"}}), CREDENTIALS)["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "unit-test-ca"),),)]
    unchecked = ssl_context(connection(tls={"caSecretRef": {"name": "ca"}, "serverNameCheck": False}), CREDENTIALS)
    assert not unchecked.check_hostname and unchecked.verify_mode == ssl.CERT_REQUIRED


def test_tls_without_a_ca_uses_the_system_trust_store():
    context = ssl_context(connection(tls={}), NO_CREDENTIALS)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert "ssl.ca.pem" not in confluent_config(connection(tls={}), NO_CREDENTIALS)


def test_mtls_certificate_goes_in_as_pem_and_no_key_file_is_left_behind():
    c = connection(tls={"caSecretRef": {"name": "ca"}, "clientCertificateSecretRef": {"name": "me"}})
    credentials = ResolvedCredentials(ca_pem=CA.certificate_pem, client_certificate_pem=CLIENT.certificate_pem,
                                      client_key_pem=CLIENT.key_pem)
    built = confluent_config(c, credentials)
    assert built["ssl.certificate.pem"] == CLIENT.certificate_pem and built["ssl.key.pem"] == CLIENT.key_pem
    before = set(Path(tempfile.gettempdir()).glob("kafkaops-tls-*"))
    context = python_config(c, credentials)["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert set(Path(tempfile.gettempdir()).glob("kafkaops-tls-*")) == before


def test_a_mismatched_client_key_is_refused_when_the_context_is_built():
    c = connection(tls={"clientCertificateSecretRef": {"name": "me"}})
    other = CA.issue("someone-else", server=False)
    with pytest.raises(ssl.SSLError):
        ssl_context(c, ResolvedCredentials(client_certificate_pem=CLIENT.certificate_pem, client_key_pem=other.key_pem))


def test_unresolved_credentials_are_a_programming_error_not_a_silent_plaintext_login():
    with pytest.raises(ValueError, match="SASL username was not resolved"):
        confluent_config(connection(sasl=SCRAM), NO_CREDENTIALS)
    with pytest.raises(ValueError, match="client certificate was not resolved"):
        python_config(connection(tls={"clientCertificateSecretRef": {"name": "me"}}), NO_CREDENTIALS)


def test_base_properties_are_kept_but_never_override_the_connection():
    built = confluent_config(connection(), NO_CREDENTIALS, {"client.id": "x", "bootstrap.servers": "elsewhere:1"})
    assert built["client.id"] == "x" and built["bootstrap.servers"] == "a:9093,b:9093"


def test_the_env_configured_default_cluster_turns_the_name_check_off_for_kafka_python_too():
    config = python_client_config({"bootstrap.servers": "k:9093", "security.protocol": "ssl",
                                   "ssl.endpoint.identification.algorithm": "none"}, 5)
    assert config["ssl_check_hostname"] is False and config["security_protocol"] == "SSL"
    assert "ssl_check_hostname" not in python_client_config({"bootstrap.servers": "k:9092"}, 5)


def test_scrub_replaces_every_secret_longest_first():
    assert scrub("user alice password pa55word and pa55", {"pa55word", "pa55", ""}) == \
        "user alice password *** and ***"
