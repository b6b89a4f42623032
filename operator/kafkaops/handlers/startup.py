"""Operator start-up: kopf settings and the shared Kafka admin client (through ``memo``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from prometheus_client import start_http_server

from kafkaops import GROUP, metrics
from kafkaops.handlers.consumers import Scaler, scaler_loop
from kafkaops.handlers.topics import drift_loop, topic_samples
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.settings import Settings

FINALIZER = f"{GROUP}/topic-deletion"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger,
                    kafkatopic_index: kopf.Index, topic_claims: kopf.Index, consumerapp_index: kopf.Index,
                    owned_deployments: kopf.Index,
                    **_: Any) -> None:
    config = Settings.from_env()
    # Keep kopf's bookkeeping in our own annotations: the CRD status schema has no `kopf` field.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = FINALIZER
    settings.posting.level = logging.WARNING  # Events are posted explicitly, not from every log line
    settings.watching.server_timeout = 300
    # Bounded waits on the API server: a watch whose connection silently died is re-established, and a
    # list or patch that hangs (seen once while a just-created CRD's storage was initializing) is
    # retried after a minute instead of kopf's default five.
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    # Bounded concurrency: objects queue instead of each holding a worker, its body and its
    # pending requests at once; this caps memory with thousands of KafkaTopics.
    settings.queueing.worker_limit = config.max_concurrent_reconciles
    settings.queueing.idle_timeout = 1.0
    memo.settings = config
    memo.in_progress = set()  # (namespace, name) of KafkaTopics kopf is handling or retrying
    memo.admin = KafkaAdmin(config.kafka_client_config(), linger=config.batch_linger_ms / 1000,
                            mutation_linger=config.mutation_linger_ms / 1000,
                            request_timeout=config.request_timeout_seconds)
    scaler = Scaler()
    # Operator-wide loops (not kopf timers: those put a finalizer on every object).
    memo.background = [asyncio.create_task(drift_loop(memo, kafkatopic_index, topic_claims), name="drift-check"),
                       asyncio.create_task(scaler_loop(memo, consumerapp_index, owned_deployments, scaler),
                                           name="consumer-scaler")]
    metrics.STATE.topics = lambda: topic_samples(kafkatopic_index)
    metrics.STATE.groups = lambda: list(scaler.samples.values())
    if config.metrics_port:
        memo.metrics_server, _ = start_http_server(config.metrics_port)
        logger.info("metrics on :%d/metrics", config.metrics_port)
    logger.info("%s", config.startup_summary())  # secrets redacted


@kopf.on.cleanup()
async def stop_background(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.get("background", []):
        task.cancel()
    await asyncio.gather(*memo.get("background", []), return_exceptions=True)
    metrics.STATE.topics = metrics.STATE.groups = tuple
    server = memo.get("metrics_server")
    if server is not None:
        server.shutdown()
        server.server_close()
