"""Operator start-up: kopf settings, the shared Kafka admin client, the two controllers and the
operator-wide loops (work queues, drift check, scaler), kept in one typed ``Runtime`` that kopf's
``memo`` carries to the event handlers; at cleanup the loops stop and the Kafka clients close."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import kopf

from kafkaops import metrics
from kafkaops.handlers.clusters import ClusterController, ClusterRegistry, default_client_settings
from kafkaops.handlers.consumers import ConsumerController
from kafkaops.handlers.scaler import ScalerState, scaler_loop
from kafkaops.handlers.tenancy import AccessPolicies
from kafkaops.handlers.topics import TopicController, drift_loop, topic_samples
from kafkaops.handlers.users import UserController, user_check_loop
from kafkaops.health import HEALTH
from kafkaops.kafka.admin import KafkaAdmin
from kafkaops.kafka.users import KafkaUserAdmin
from kafkaops.kube.lease import lease_namespace
from kafkaops.settings import Settings

# Keys waiting this long while no key at all was finished: the operator is wedged, and liveness says
# so (a slow but moving queue is not). Well above the longest retry backoff (60 s) and request timeout.
QUEUE_STALL_SECONDS = 300.0


@dataclass
class Runtime:
    """Everything the running operator holds, typed (kopf's ``memo`` is an untyped namespace)."""

    settings: Settings
    clusters: ClusterController
    policies: AccessPolicies
    topics: TopicController
    consumers: ConsumerController
    users: UserController
    scaler: ScalerState = field(default_factory=ScalerState)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        """The operator-wide loops (not kopf timers: those put a finalizer on every object)."""
        config, clusters, topics, consumers, users = (self.settings, self.clusters, self.topics, self.consumers,
                                                      self.users)
        self.background = [
            asyncio.create_task(clusters.run(clusters.process), name="kafkacluster-workers"),
            asyncio.create_task(clusters.list_at_start(()), name="kafkacluster-listing"),
            asyncio.create_task(self.policies.list_at_start(config.namespaces), name="kafkaaccesspolicy-listing"),
            asyncio.create_task(topics.run(topics.process), name="kafkatopic-workers"),
            asyncio.create_task(consumers.run(consumers.process), name="consumerapp-workers"),
            asyncio.create_task(users.run(users.process), name="kafkauser-workers"),
            asyncio.create_task(users.list_at_start(config.namespaces), name="kafkauser-listing"),
            asyncio.create_task(user_check_loop(users, config.drift_interval_seconds), name="kafkauser-check"),
            asyncio.create_task(topics.list_at_start(config.namespaces), name="kafkatopic-listing"),
            asyncio.create_task(consumers.list_at_start(config.namespaces), name="consumerapp-listing"),
            asyncio.create_task(consumers.list_deployments_at_start(config.namespaces), name="deployment-listing"),
            asyncio.create_task(topics.slow_start_warnings(), name="kafkatopic-startup"),
            asyncio.create_task(consumers.slow_start_warnings(), name="consumerapp-startup"),
            asyncio.create_task(drift_loop(topics, config.drift_interval_seconds), name="drift-check"),
            asyncio.create_task(scaler_loop(clusters.registry, consumers, self.scaler,
                                            timeout=2 * config.request_timeout_seconds), name="consumer-scaler"),
            asyncio.create_task(heartbeat(), name="heartbeat"),
            asyncio.create_task(report_synced(clusters, topics, consumers, users), name="readiness"),
        ]

    async def stop(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        self.clusters.registry.close()


async def heartbeat() -> None:
    """Proof for liveness that the event loop runs (a blocked loop stops beating)."""
    while True:
        HEALTH.beat()
        await asyncio.sleep(1.0)


async def report_synced(clusters: ClusterController, topics: TopicController, consumers: ConsumerController,
                        users: UserController) -> None:
    """Readiness: every object that existed at start is in the caches, every KafkaCluster probed."""
    while not (clusters.rechecked.is_set() and topics.progress.synced and consumers.progress.synced
               and consumers.owned.synced and topics.policies.synced.is_set() and users.progress.synced):
        await asyncio.sleep(0.2)
    HEALTH.set_synced(True)
    logger = logging.getLogger(__name__)
    logger.info("ready: %d KafkaTopic(s), %d ConsumerApp(s) and %d Deployment(s) cached", topics.progress.total,
                consumers.progress.total, consumers.owned.total)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger,
                    **_: Any) -> None:
    config = Settings.from_env()
    settings.posting.level = logging.WARNING  # Events are posted explicitly, not from every log line
    settings.watching.server_timeout = 300
    # List in pages: a restart's one listing of 10,000 KafkaTopics with their status was the peak of
    # the operator's memory (267 MB against 222 MB for the same objects without status).
    settings.watching.chunk_size = 500
    # Bounded waits on the API server: a watch whose connection silently died is re-established, and a
    # list or patch that hangs (seen once while a just-created CRD's storage was initializing) is
    # retried after a minute instead of kopf's default five.
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    # kopf's per-object workers only copy an event into a cache: no limit is needed (a limit with
    # kopf indexes is what deadlocked start-up), and an idle worker is let go after a second.
    settings.queueing.idle_timeout = 1.0
    admin = KafkaAdmin(config.kafka_client_config(), linger=config.batch_linger_ms / 1000,
                       mutation_linger=config.mutation_linger_ms / 1000, request_timeout=config.request_timeout_seconds)
    user_admin = KafkaUserAdmin(config.kafka_client_config(), request_timeout=config.request_timeout_seconds)
    registry = ClusterRegistry(admin, default_client_settings(config), user_admin)
    clusters = ClusterController(registry, config, lease_namespace(config.operator_namespace))
    registry.synced = clusters.rechecked  # the others wait until every KafkaCluster was probed once
    policies = AccessPolicies(config)
    users = UserController(registry, policies, config)
    runtime = Runtime(config, clusters, policies, TopicController(registry, policies, config),
                      ConsumerController(registry, policies, users, config), users)
    memo.runtime = runtime
    runtime.start()
    topics, consumers = runtime.topics, runtime.consumers
    for controller in (topics, consumers, runtime.users):
        HEALTH.add_check(f"{controller.kind} queue", lambda c=controller: c.queue.stalled(QUEUE_STALL_SECONDS))
    metrics.STATE.topics = lambda: topic_samples(list(topics.bodies.values()))
    metrics.STATE.groups = lambda: list(runtime.scaler.samples.values())
    metrics.STATE.granularity = config.lag_granularity
    logger.info("%s", config.startup_summary())  # secrets redacted


@kopf.on.cleanup()
async def stop_background(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.stop()
    metrics.STATE.topics = metrics.STATE.groups = tuple
    HEALTH.set_synced(False)
