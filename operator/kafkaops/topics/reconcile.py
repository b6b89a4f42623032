"""Bring one topic in line with its KafkaTopic: describe, plan, apply, and say what happened.

The outcome is plain data; the kopf handler turns it into status, events and retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafkaops.backoff import backoff_delays
from kafkaops.topics.plan import TopicPlan, plan_topic
from kafkaops.topics.spec import TopicSpec, parse_topic_spec
from kafkaops.types.errors import InvalidSpec, KafkaRejected, KafkaUnavailable
from kafkaops.types.topics import ConfigChange, ObservedTopic, TopicAdmin, TopicCreation


@dataclass(frozen=True)
class TopicOutcome:
    ready: bool
    reason: str
    message: str
    topic: str | None = None
    observed: ObservedTopic | None = None
    owned_keys: tuple[str, ...] | None = ()  # None: leave status.managedConfigKeys alone
    transient: bool = False  # worth retrying with backoff (broker unavailable, a race)
    changed: bool = False  # something was written to the broker
    pending: bool = False  # paused with a spec change not applied (kstatus must not say Current)
    # The Normal Events for what was written: (reason, message), one per kind of change.
    announcements: tuple[tuple[str, str], ...] = ()


async def apply_plan(admin: TopicAdmin, plan: TopicPlan) -> None:
    if plan.create:
        await admin.create_topic(TopicCreation(name=plan.topic, partitions=plan.partitions or 1,
                                               replication_factor=plan.replication_factor,
                                               config=dict(plan.config_set)))
        return
    steps = []
    if plan.partitions is not None:
        steps.append(admin.create_partitions(plan.topic, plan.partitions))
    if plan.config_set or plan.config_reset:
        steps.append(admin.alter_config(ConfigChange(plan.topic, dict(plan.config_set), plan.config_reset)))
    await asyncio.gather(*steps)


async def describe_when_visible(admin: TopicAdmin, topic: str, partitions: int | None,
                                timeout: float = 15.0) -> ObservedTopic | None:
    """Describe after a change. A controller commits a create before the brokers have applied it
    (thousands of new partitions take seconds), so poll briefly with backoff; the describes of
    many topics waiting at once are still coalesced into one request per round."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    observed = None
    for delay in backoff_delays(0.1, 2.0):
        observed = await admin.describe_topic(topic, with_config=False)
        if observed is not None and observed.partitions >= (partitions or 0):
            return observed
        if loop.time() + delay > deadline:
            break
        await asyncio.sleep(delay)
    return observed


def _summary(plan: TopicPlan, spec: TopicSpec, adopting: bool) -> tuple[str, str]:
    if plan.create:
        return "Created", f"created topic {plan.topic!r} with {spec.partitions} partitions"
    if adopting:
        detail = "; ".join(plan.differences) if plan.differences else "no differences"
        return "Adopted", f"adopted existing topic {plan.topic!r} ({detail})"
    if plan.is_noop:
        return "InSync", f"topic {plan.topic!r} matches the spec"
    return "Updated", f"updated topic {plan.topic!r}: " + "; ".join(plan.differences)


async def reconcile_topic(admin: TopicAdmin, resource_name: str, raw_spec: Mapping[str, Any],
                          previously_owned: Iterable[str] = (), adopting: bool = False) -> TopicOutcome:
    """One reconciliation. ``adopting`` is true until the resource has been reconciled once."""
    try:
        spec = parse_topic_spec(raw_spec)
    except InvalidSpec as error:
        return TopicOutcome(False, "InvalidSpec", str(error))
    topic = spec.kafka_name(resource_name)
    owned = tuple(sorted(spec.config))
    try:
        observed = await admin.describe_topic(topic)
        brokers = None
        if (observed is not None and spec.replication_factor is not None
                and spec.replication_factor != observed.replication_factor):
            if await admin.reassigning(topic, observed.partitions):
                return TopicOutcome(False, "Reassigning", f"replicas of topic {topic!r} are moving to replication "
                                    f"factor {spec.replication_factor}", topic, observed, tuple(previously_owned),
                                    transient=True)
            brokers = await admin.broker_ids()
        plan = plan_topic(spec, topic, observed, previously_owned, brokers)
        if plan.refusal is not None:
            return TopicOutcome(False, plan.refusal.reason, plan.refusal.message, topic, observed,
                                tuple(previously_owned))
        if plan.reassign:
            await admin.reassign(topic, plan.reassign)
            # Kafka copies the data in the background; kopf retries until the replicas match.
            return TopicOutcome(False, "Reassigning", f"reassigning {len(plan.reassign)} partition(s) of topic "
                                f"{topic!r}: {'; '.join(plan.differences)}", topic, observed,
                                tuple(previously_owned), transient=True, changed=True,
                                announcements=(("Reassigning", f"topic {topic!r}: "
                                                + "; ".join(plan.differences)),))
        reason, message = _summary(plan, spec, adopting and observed is not None)
        if plan.is_noop:  # nothing written; taking over a matching topic is still worth an Event
            return TopicOutcome(True, reason, message, topic, observed, owned,
                                announcements=((reason, message),) if reason == "Adopted" else ())
        await apply_plan(admin, plan)
        after = await describe_when_visible(admin, topic, plan.partitions)
    except KafkaUnavailable as error:
        return TopicOutcome(False, "BrokerUnavailable", f"Kafka is unreachable: {error}", topic,
                            transient=True)
    except KafkaRejected as error:
        if error.reason == "TopicAlreadyExists":  # created elsewhere between describe and create
            return TopicOutcome(False, "Conflict", error.message, topic, transient=True)
        return TopicOutcome(False, error.reason, f"Kafka rejected the change: {error.message}", topic)
    return TopicOutcome(True, reason, message, topic, after, owned, changed=True,
                        announcements=announcements(plan, reason, message))


def announcements(plan: TopicPlan, reason: str, message: str) -> tuple[tuple[str, str], ...]:
    """The Events of an applied plan: Created or Adopted as the condition says; an update is one
    Event per kind of change (partitions grown, config changed), each listing its own changes."""
    if reason != "Updated":
        return ((reason, message),)
    kinds = (("PartitionsIncreased", "partitions "), ("ConfigChanged", "config "))
    return tuple((kind, f"topic {plan.topic!r}: " + "; ".join(found))
                 for kind, prefix in kinds
                 if (found := [d for d in plan.differences if d.startswith(prefix)]))
