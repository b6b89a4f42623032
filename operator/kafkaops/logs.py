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


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def object_ref(record: logging.LogRecord) -> dict[str, str]:
    """kopf's object reference of a record, without empty parts."""
    ref = getattr(record, "k8s_ref", None) or {}
    return {key: str(value) for key, value in ref.items() if value and key in ("kind", "namespace", "name", "uid")}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: [namespace/name] message``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = sorted((s for s in secrets if len(s) >= MIN_SCRUBBED_LENGTH), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        ref = object_ref(record)
        text = super().format(record)
        if ref.get("name"):
            where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else ref["name"]
            prefix = f"{record.name}: "
            text = text.replace(prefix, f"{prefix}[{where}] ", 1)
        return _scrub(text, self._secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO-8601 UTC), ``level``, ``logger``, ``message``, the
    kopf object (``object``: kind, namespace, name, uid) and any ``extra=`` fields; ``exception``
    when there is one."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        kept = [s for s in secrets if len(s) >= MIN_SCRUBBED_LENGTH]
        # A secret with quotes or backslashes appears escaped in the serialised line.
        self._secrets = sorted({*kept, *(json.dumps(s, ensure_ascii=False)[1:-1] for s in kept)}, key=len,
                               reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _scrub(record.getMessage(), self._secrets),
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
        return _scrub(json.dumps(entry, default=str, ensure_ascii=False), self._secrets)


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
