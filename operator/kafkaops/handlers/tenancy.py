"""The namespaces' KafkaAccessPolicies, cached from kopf's watch events, and the backstop verdict
the KafkaTopic and ConsumerApp workers ask for before they act.

Admission (the chart's ValidatingAdmissionPolicies) refuses what breaks a policy when it is
written; this catches the rest: objects stored before their namespace's policy changed, API
servers without the admission policy, and ``audit`` mode's warnings. A policy that comes, changes
or goes re-queues its namespace's objects, so they converge by themselves. Workers wait until
every policy that existed at start is cached: a restart must not judge a namespace by a policy
it has not read yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf

from kafkaops import GROUP, VERSION
from kafkaops.consumers.spec import ConsumerAppSpec
from kafkaops.handlers.controller import Key, key_of, retried
from kafkaops.kube import api
from kafkaops.settings import Settings
from kafkaops.tenancy.rules import (
    POLICY_NAME,
    AccessPolicy,
    AclRequest,
    ConsumerRequest,
    TenancyMode,
    TopicRequest,
    UserRequest,
    Verdict,
    judge,
    parse_policy,
)
from kafkaops.topics.spec import TopicSpec
from kafkaops.types.errors import InvalidSpec
from kafkaops.users.spec import KafkaUserSpec
from kafkaops.workqueue import StartupProgress

PLURAL = "kafkaaccesspolicies"
log = logging.getLogger(__name__)


def topic_request(name: str, spec: TopicSpec) -> TopicRequest:
    return TopicRequest(cluster=spec.cluster, topic=spec.kafka_name(name), partitions=spec.partitions,
                        replication_factor=spec.replication_factor, deletion_policy=spec.deletion_policy,
                        config=spec.config)


def consumer_request(name: str, spec: ConsumerAppSpec) -> ConsumerRequest:
    return ConsumerRequest(cluster=spec.cluster, group=spec.group(name), topics=spec.topics)


def user_request(spec: KafkaUserSpec) -> UserRequest:
    return UserRequest(cluster=spec.cluster, acls=tuple(
        AclRequest(resource_type=str(rule.resource.type), name=rule.resource.resource_name,
                   operations=tuple(str(operation) for operation in rule.operations), permission=str(rule.type))
        for rule in spec.authorization.acls))


class AccessPolicies:
    """namespace -> its KafkaAccessPolicy (or why it is unusable), and who to tell when one changes."""

    def __init__(self, settings: Settings) -> None:
        self.mode, self.trusted = settings.tenancy_mode, settings.trusted_namespaces
        self.policies: dict[str, AccessPolicy | InvalidSpec] = {}
        self.listeners: list[Callable[[str], None]] = []
        self.progress: StartupProgress[Key] = StartupProgress("KafkaAccessPolicy", time.monotonic())
        self.synced = asyncio.Event()

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        key = key_of(body)
        namespace, name = key
        self.progress.seen(key)
        self._synced()
        if name != POLICY_NAME:
            return  # the CRD refuses other names; one stored before that rule means nothing
        previous = self.policies.get(namespace)
        if event_type == "DELETED":
            self.policies.pop(namespace, None)
        else:
            try:
                self.policies[namespace] = parse_policy(body.get("spec") or {})
            except InvalidSpec as error:
                self.policies[namespace] = error
        if repr(previous) != repr(self.policies.get(namespace)):
            log.info("KafkaAccessPolicy %s/%s %s", namespace, name, "deleted" if event_type == "DELETED" else "read")
            for listener in self.listeners:
                listener(namespace)

    async def list_at_start(self, namespaces: Iterable[str]) -> None:
        keys = await retried("start-up listing of KafkaAccessPolicies", lambda: self._list(namespaces))
        self.progress.listed(keys)
        self._synced()

    async def _list(self, namespaces: Iterable[str]) -> set[Key]:
        """A missing CRD (an upgrade that has not applied it yet) counts as no policies."""
        try:
            return await api.list_keys(PLURAL, namespaces)
        except api.ApiException as error:
            if error.status != 404:
                raise
            log.warning("the KafkaAccessPolicy CRD is not installed: no namespace has a policy")
            return set()

    def _synced(self) -> None:
        if self.progress.synced and not self.synced.is_set():
            self.synced.set()

    def applies(self, namespace: str) -> bool:
        """Whether a verdict can be anything but "go ahead" (lets callers skip building a request)."""
        return namespace in self.policies or (self.mode is not TenancyMode.OFF and namespace not in self.trusted)

    def verdict(self, namespace: str, violation: Callable[[AccessPolicy], str | None]) -> Verdict | None:
        return judge(self.policies.get(namespace), violation, mode=self.mode, namespace=namespace,
                     trusted=self.trusted)

    def policy(self, namespace: str) -> AccessPolicy | None:
        found = self.policies.get(namespace)
        return found if isinstance(found, AccessPolicy) else None


@kopf.on.event(GROUP, VERSION, PLURAL)
async def kafkaaccesspolicy_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runtime.policies.on_event(event.get("type"), event["object"])
