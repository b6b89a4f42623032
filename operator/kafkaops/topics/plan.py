"""Pure planning: what must change on the broker so that a topic matches its KafkaTopic.

No I/O here. ``plan_topic`` compares the desired spec with what the broker reported and
returns either a refusal (nothing is to be touched, with a reason for the user) or the
minimal set of actions. Only config keys named in the spec are owned; a key that used to
be owned and left the spec is reset to the broker default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kafkaops.topics.spec import TopicSpec
from kafkaops.types.topics import ObservedTopic

# Config keys whose values are comma-separated sets (order does not matter to Kafka).
_LIST_VALUED_KEYS = frozenset({"cleanup.policy", "leader.replication.throttled.replicas",
                               "follower.replication.throttled.replicas"})


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


@dataclass(frozen=True)
class TopicPlan:
    """Actions for one topic. Empty (``is_noop``) when the broker already matches."""

    topic: str
    create: bool = False
    partitions: int | None = None  # create with, or grow to, this many partitions
    replication_factor: int | None = None  # only used on create (None: broker default)
    config_set: Mapping[str, str] = field(default_factory=dict)
    config_reset: tuple[str, ...] = ()
    reassign: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # partition -> new replicas
    differences: tuple[str, ...] = ()  # what differed, in words (for Adopted / drift reports)
    refusal: Refusal | None = None

    @property
    def is_noop(self) -> bool:
        return (self.refusal is None and not self.create and self.partitions is None
                and not self.config_set and not self.config_reset and not self.reassign)


def replica_assignment(current: Sequence[Sequence[int]], brokers: Sequence[int], factor: int
                       ) -> dict[int, tuple[int, ...]]:
    """New replica lists for a replication-factor change that moves as little as possible: a
    partition keeps its first ``factor`` replicas (its preferred leader stays first) and, to grow,
    takes the brokers holding the fewest replicas of this topic so far (ties by broker id)."""
    load = dict.fromkeys(brokers, 0)
    for replicas in current:
        for broker in replicas[:factor]:
            if broker in load:
                load[broker] += 1
    assignment = {}
    for partition, replicas in enumerate(current):
        chosen = list(replicas[:factor])
        while len(chosen) < factor:
            broker = min((b for b in brokers if b not in chosen), key=lambda b: (load[b], b))
            chosen.append(broker)
            load[broker] += 1
        if tuple(chosen) != tuple(replicas):
            assignment[partition] = tuple(chosen)
    return assignment


def normalise_config_value(key: str, value: str) -> str:
    """Kafka accepts the same setting spelled several ways; compare a canonical form."""
    text = value.strip()
    if key in _LIST_VALUED_KEYS:
        return ",".join(sorted({part.strip() for part in text.split(",") if part.strip()}))
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered
    try:
        return str(int(text))
    except ValueError:
        pass
    try:
        return repr(float(text))
    except ValueError:
        return text


def config_equal(key: str, a: str, b: str) -> bool:
    return normalise_config_value(key, a) == normalise_config_value(key, b)


def plan_replication_change(factor: int, topic: str, observed: ObservedTopic,
                            brokers: Sequence[int] | None) -> TopicPlan:
    change = f"replication factor {observed.replication_factor} -> {factor}"
    if brokers is None or not observed.assignment:
        return TopicPlan(topic=topic, differences=(change,), refusal=Refusal(
            "ReplicationFactorChangeUnsupported",
            f"spec.replicationFactor is {factor} but topic {topic!r} has replication factor "
            f"{observed.replication_factor}; the brokers are unknown, so no reassignment can be planned"))
    if factor > len(brokers):
        return TopicPlan(topic=topic, differences=(change,), refusal=Refusal(
            "InvalidConfig",
            f"spec.replicationFactor is {factor} but the cluster has {len(brokers)} broker(s); "
            f"topic {topic!r} keeps replication factor {observed.replication_factor}"))
    return TopicPlan(topic=topic, reassign=replica_assignment(observed.assignment, brokers, factor),
                     differences=(change,))


def plan_topic(spec: TopicSpec, topic: str, observed: ObservedTopic | None,
               previously_owned: Iterable[str] = (), brokers: Sequence[int] | None = None) -> TopicPlan:
    """``brokers``: the cluster's broker ids, needed only to plan a replication-factor change."""
    if observed is None:
        return TopicPlan(topic=topic, create=True, partitions=spec.partitions,
                         replication_factor=spec.replication_factor, config_set=dict(spec.config))

    if spec.partitions < observed.partitions:
        return TopicPlan(topic=topic, refusal=Refusal(
            "PartitionDecreaseRefused",
            f"spec.partitions is {spec.partitions} but topic {topic!r} has {observed.partitions} partitions; "
            "Kafka cannot remove partitions (raise spec.partitions back, or recreate the topic)"))
    if spec.replication_factor is not None and spec.replication_factor != observed.replication_factor:
        # Alone in its plan: partitions and config follow once the reassignment is done.
        return plan_replication_change(spec.replication_factor, topic, observed, brokers)

    differences: list[str] = []
    grow_to = None
    if spec.partitions > observed.partitions:
        grow_to = spec.partitions
        differences.append(f"partitions {observed.partitions} -> {spec.partitions}")

    config_set: dict[str, str] = {}
    for key, value in sorted(spec.config.items()):
        current = observed.config.get(key)
        if current is None or not config_equal(key, current, value):
            config_set[key] = value
            differences.append(f"config {key}: {current!r} -> {value!r}")

    config_reset = tuple(sorted(
        key for key in set(previously_owned) - set(spec.config)
        if key in observed.overridden))
    differences.extend(f"config {key}: {observed.config[key]!r} -> broker default" for key in config_reset)

    return TopicPlan(topic=topic, partitions=grow_to, config_set=config_set, config_reset=config_reset,
                     differences=tuple(differences))
