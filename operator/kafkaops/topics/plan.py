"""Pure planning: what must change on the broker so that a topic matches its KafkaTopic.

No I/O here. ``plan_topic`` compares the desired spec with what the broker reported and
returns either a refusal (nothing is to be touched, with a reason for the user) or the
minimal set of actions. Only config keys named in the spec are owned; a key that used to
be owned and left the spec is reset to the broker default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kafkaops.topics.spec import TopicSpec

# Config keys whose values are comma-separated sets (order does not matter to Kafka).
_LIST_VALUED_KEYS = frozenset({"cleanup.policy", "leader.replication.throttled.replicas",
                               "follower.replication.throttled.replicas"})


@dataclass(frozen=True)
class ObservedTopic:
    """A topic as the broker describes it."""

    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str]
    overridden: frozenset[str] = frozenset()  # keys set on the topic itself (not defaults)
    topic_id: str | None = None


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
    differences: tuple[str, ...] = ()  # what differed, in words (for Adopted / drift reports)
    refusal: Refusal | None = None

    @property
    def is_noop(self) -> bool:
        return (self.refusal is None and not self.create and self.partitions is None
                and not self.config_set and not self.config_reset)


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


def plan_topic(spec: TopicSpec, topic: str, observed: ObservedTopic | None,
               previously_owned: Iterable[str] = ()) -> TopicPlan:
    if observed is None:
        return TopicPlan(topic=topic, create=True, partitions=spec.partitions,
                         replication_factor=spec.replication_factor, config_set=dict(spec.config))

    if spec.partitions < observed.partitions:
        return TopicPlan(topic=topic, refusal=Refusal(
            "PartitionDecreaseRefused",
            f"spec.partitions is {spec.partitions} but topic {topic!r} has {observed.partitions} partitions; "
            "Kafka cannot remove partitions (raise spec.partitions back, or recreate the topic)"))
    if spec.replication_factor is not None and spec.replication_factor != observed.replication_factor:
        return TopicPlan(topic=topic, refusal=Refusal(
            "ReplicationFactorChangeUnsupported",
            f"spec.replicationFactor is {spec.replication_factor} but topic {topic!r} has replication "
            f"factor {observed.replication_factor}; changing it needs a partition reassignment, "
            "which this version does not perform"))

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
