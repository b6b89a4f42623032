"""Log formats and the no-secrets guarantee."""

from __future__ import annotations

import datetime
import io
import json
import logging
import sys

import pytest

from kafkaops.logs import JsonFormatter, TextFormatter, configure_logging, make_formatter
from kafkaops.settings import Settings

pytestmark = pytest.mark.unit

SECRET_ENV = {"KAFKAOPS_BOOTSTRAP_SERVERS": "kafka:9093", "KAFKAOPS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
              "KAFKAOPS_KAFKA_SASL_USERNAME": "operator", "KAFKAOPS_KAFKA_SASL_PASSWORD": "hunter2-sasl",
              "KAFKAOPS_KAFKA_SSL_KEY_PASSWORD": "pem-passphrase-77",
              "KAFKAOPS_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "oauth-s3cret"}
SECRETS = ("hunter2-sasl", "pem-passphrase-77", "oauth-s3cret")


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"kafkaops.test.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def kopf_like_record_extra() -> dict[str, object]:
    """What kopf's ObjectLogger puts on each record."""
    return {"k8s_skip": False, "settings": object(),
            "k8s_ref": {"apiVersion": "kafkaops.io/v1alpha1", "kind": "KafkaTopic", "name": "orders",
                        "uid": "1234", "namespace": "team-a"}}


def test_json_lines_carry_time_level_logger_message_and_object():
    logger, stream = capture(JsonFormatter())
    logger.info("created topic %r", "orders", extra=kopf_like_record_extra())
    logger.warning("plain line", extra={"topic": "orders", "changes": ["partitions 1 -> 3"]})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "created topic 'orders'" and first["level"] == "info"
    assert first["logger"] == logger.name
    assert first["object"] == {"kind": "KafkaTopic", "namespace": "team-a", "name": "orders", "uid": "1234"}
    assert "settings" not in first and "k8s_skip" not in first and "k8s_ref" not in first
    stamp = datetime.datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == datetime.timedelta(0) and first["time"].endswith("Z")
    assert second["level"] == "warning" and second["topic"] == "orders" and second["changes"] == ["partitions 1 -> 3"]
    assert "object" not in second
    assert third["level"] == "error" and "RuntimeError: boom" in third["exception"]


def test_text_lines_name_the_object():
    logger, stream = capture(TextFormatter())
    logger.info("created", extra=kopf_like_record_extra())
    logger.info("cluster-wide")
    first, second = stream.getvalue().splitlines()
    assert first.endswith(f"INFO {logger.name}: [team-a/orders] created")
    assert second.endswith(f"INFO {logger.name}: cluster-wide")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_the_log(log_format):
    settings = Settings.from_env(SECRET_ENV)
    assert settings.kafka_client_config()["sasl.password"] == "hunter2-sasl"  # the client still gets it
    logger, stream = capture(make_formatter(log_format, settings.secret_values()))
    logger.info("settings: %s", settings)
    logger.info("settings repr: %r", settings)
    logger.info("%s", settings.startup_summary(), extra=kopf_like_record_extra())
    logger.info("client config %s", settings.redacted())
    # Even a careless line that logs the raw config is scrubbed by the formatter.
    logger.warning("raw %s", settings.kafka_client_config(), extra={"config": settings.kafka_client_config()})
    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    assert "operator" in output and "SASL_SSL" in output and "kafka:9093" in output  # the rest stays readable
    assert settings.redacted()["sasl.password"] == "***"
    assert settings.redacted()["sasl.username"] == "operator"
    if log_format == "json":
        assert all(json.loads(line) for line in output.splitlines())


def test_redacted_view_without_the_formatter_too():
    settings = Settings.from_env(SECRET_ENV)
    text = f"{settings} {settings!r} {settings.startup_summary()} {settings.redacted()}"
    for secret in SECRETS:
        assert secret not in text
    assert settings.secret_values() == frozenset(SECRETS)


def test_configure_logging_replaces_root_handlers():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("json", verbose=True, secrets={"topsecret"})
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter) and root.level == logging.DEBUG
        assert getattr(handler, "stream", None) is sys.stderr
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
