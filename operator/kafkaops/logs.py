"""Log output for ``kafkaops run``: text for people, JSON (one object per line) for log pipelines.

kopf's per-object loggers attach the object reference as the record attribute ``k8s_ref``
(apiVersion, kind, name, uid, namespace); both formats show it. Every formatted line is
scrubbed of the configured secret values, so a password cannot leak through any message,
whoever logged it (kopf, librdkafka, our code).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any, Literal

REDACTED = "***"
MIN_SCRUBBED_LENGTH = 4  # shorter secrets would blank out ordinary words; see README
# Attributes every LogRecord has, plus kopf's internals: everything else came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "k8s_ref", "k8s_skip", "settings", "taskName"}


class SecretRegistry:
    """The secret values no log line may show: the operator's own (from its environment) and those
    read later from KafkaClusters' Secrets (a rotated password is added when it is read)."""

    def __init__(self) -> None:
        self._plain: tuple[str, ...] = ()
        self._json: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        kept = {*self._plain, *(v for v in values if len(v) >= MIN_SCRUBBED_LENGTH)}
        self._plain = tuple(sorted(kept, key=len, reverse=True))
        # A secret with quotes or backslashes appears escaped in a serialised JSON line.
        self._json = tuple(sorted({*kept, *(json.dumps(s, ensure_ascii=False)[1:-1] for s in kept)}, key=len,
                                  reverse=True))

    def scrub(self, text: str, *, in_json: bool = False) -> str:
        for secret in self._json if in_json else self._plain:
            text = text.replace(secret, REDACTED)
        return text


SECRETS = SecretRegistry()


def object_ref(record: logging.LogRecord) -> dict[str, str]:
    """kopf's object reference of a record, without empty parts."""
    ref = getattr(record, "k8s_ref", None) or {}
    return {key: str(value) for key, value in ref.items() if value and key in ("kind", "namespace", "name", "uid")}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: [namespace/name] message``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        SECRETS.add(secrets)

    def format(self, record: logging.LogRecord) -> str:
        ref = object_ref(record)
        text = super().format(record)
        if ref.get("name"):
            where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else ref["name"]
            prefix = f"{record.name}: "
            text = text.replace(prefix, f"{prefix}[{where}] ", 1)
        return SECRETS.scrub(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO-8601 UTC), ``level``, ``logger``, ``message``, the
    kopf object (``object``: kind, namespace, name, uid) and any ``extra=`` fields; ``exception``
    when there is one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        SECRETS.add(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": SECRETS.scrub(record.getMessage()),
        }
        ref = object_ref(record)
        if ref:
            entry["object"] = ref
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Scrub the serialised line too: a secret may sit in an extra field or a traceback.
        return SECRETS.scrub(json.dumps(entry, default=str, ensure_ascii=False), in_json=True)


def make_formatter(log_format: Literal["text", "json"], secrets: Iterable[str] = ()) -> logging.Formatter:
    return JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets)


def configure_logging(log_format: Literal["text", "json"] = "text", verbose: bool = False,
                      secrets: Iterable[str] = ()) -> None:
    """Send every log record to stderr in ``log_format``, replacing whatever handlers were set before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(log_format, secrets))
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # kopf says "Handler ... succeeded" for every watch event: at 10,000 objects, noise and CPU. Our
    # own decision lines say what happened; kopf's warnings and errors still show.
    logging.getLogger("kopf.objects").setLevel(logging.DEBUG if verbose else logging.WARNING)
