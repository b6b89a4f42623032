"""``kafkaops diff``: what applying KafkaTopic manifests would change on the broker.

For reviewing GitOps pull requests. Manifests are parsed with the operator's own spec model
and compared by the operator's own planner, so the diff says what the operator would do.
Everything here is pure except ``load_paths`` (reads files) and ``compute_diffs`` (asks the
broker: describes, then ``validate_only`` creates, partition growth and config alters).

One thing a manifest cannot tell: which config keys a KafkaTopic *used to* own. The operator
resets a key removed from ``spec.config`` to the broker default; the diff cannot see the
removal, so it lists every other key set on the topic itself (source DYNAMIC_TOPIC_CONFIG,
i.e. not at the broker default) as ``unmanaged (kept)`` for the reviewer to judge.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from kafkaops import GROUP
from kafkaops.topics.ownership import is_paused, is_unmanaged
from kafkaops.topics.plan import plan_topic
from kafkaops.topics.spec import TopicSpec, parse_topic_spec
from kafkaops.types.errors import InvalidSpec
from kafkaops.types.specs import check_topic_name
from kafkaops.types.topics import ConfigChange, DryRunAdmin, ObservedTopic, TopicCreation

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
Action = Literal["create", "update", "none", "skip", "error"]
EXIT_NO_CHANGE, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


# ---- manifests ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Manifest:
    """One KafkaTopic document."""

    source: str  # "path" or "path#N" (N: 1-based document index in a multi-document file)
    namespace: str | None
    name: str
    topic: str
    spec: TopicSpec
    paused: bool = False
    unmanaged: bool = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Problem:
    """A document or file that cannot be diffed; makes the exit code 1."""

    source: str
    message: str


@dataclass
class Loaded:
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # ignored documents (stderr)

    def extend(self, other: Loaded) -> None:
        self.manifests += other.manifests
        self.problems += other.problems
        self.notes += other.notes


def _is_kafkatopic(document: Mapping[str, Any]) -> bool:
    return document.get("kind") == "KafkaTopic" and str(document.get("apiVersion", "")).startswith(f"{GROUP}/")


def _manifest(document: Mapping[str, Any], source: str) -> Manifest:
    """Raise InvalidSpec with a user-facing message if the document cannot be acted on."""
    metadata = document.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("name"):
        raise InvalidSpec("metadata.name is required")
    name = str(metadata["name"])
    spec = parse_topic_spec(document.get("spec"))
    topic = spec.kafka_name(name)
    try:
        check_topic_name(topic)
    except ValueError as error:
        raise InvalidSpec(f"{error} (set spec.topicName)") from None
    annotations = metadata.get("annotations") or {}
    namespace = metadata.get("namespace")
    return Manifest(source, str(namespace) if namespace else None, name, topic, spec,
                    paused=is_paused(annotations), unmanaged=is_unmanaged(annotations))


def _collect(document: Any, source: str, loaded: Loaded) -> None:
    if document is None:
        return
    if not isinstance(document, Mapping):
        loaded.problems.append(Problem(source, f"not a Kubernetes object (a YAML {type(document).__name__})"))
        return
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        for index, item in enumerate(document["items"]):
            _collect(item, f"{source} items[{index}]", loaded)
        return
    if not _is_kafkatopic(document):
        name = (document.get("metadata") or {}).get("name", "?") if isinstance(document.get("metadata"), Mapping) \
            else "?"
        loaded.notes.append(f"{source}: ignoring {document.get('apiVersion', '?')} {document.get('kind', '?')} "
                            f"{name!r}: not a {GROUP} KafkaTopic")
        return
    try:
        loaded.manifests.append(_manifest(document, source))
    except InvalidSpec as error:
        loaded.problems.append(Problem(source, f"invalid KafkaTopic: {error}"))


def parse_manifests(text: str, source: str) -> Loaded:
    """All KafkaTopics in a (multi-document) YAML or JSON text; ``kind: List`` is unpacked."""
    loaded = Loaded()
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        loaded.problems.append(Problem(source, "not valid YAML: " + " ".join(str(error).split())))
        return loaded
    for index, document in enumerate(documents, start=1):
        _collect(document, f"{source}#{index}" if len(documents) > 1 else source, loaded)
    return loaded


def manifest_files(path: Path) -> list[Path]:
    """``path`` itself, or the manifest files under a directory (recursively, sorted)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES)
    return [path]


def load_paths(paths: Iterable[str], stdin_text: str | None = None) -> Loaded:
    """Read every file (``-`` is standard input) and parse it."""
    loaded = Loaded()
    for raw in paths:
        if raw == "-":
            loaded.extend(parse_manifests(stdin_text or "", "<stdin>"))
            continue
        path = Path(raw)
        if not path.exists():
            loaded.problems.append(Problem(raw, "no such file or directory"))
            continue
        for file in manifest_files(path):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                loaded.problems.append(Problem(str(file), f"cannot read: {error}"))
                continue
            loaded.extend(parse_manifests(text, str(file)))
    return loaded


# ---- the diff of one topic (pure) ----------------------------------------------------------

@dataclass(frozen=True)
class ConfigDelta:
    key: str
    old: str | None  # None: the topic does not exist yet, or the broker reports no value
    new: str
    old_is_default: bool = False


@dataclass(frozen=True)
class TopicDiff:
    topic: str
    manifest: Manifest
    action: Action
    partitions: tuple[int | None, int] | None = None  # (current or None on create, wanted)
    replication_factor: int | None = None  # on create; None: the broker's default
    replication: tuple[int, int] | None = None  # (current, wanted): a reassignment
    config: tuple[ConfigDelta, ...] = ()
    unmanaged: tuple[tuple[str, str], ...] = ()  # keys set on the topic, not in the manifest: kept
    reason: str | None = None  # on error
    message: str | None = None  # on error or skip
    notes: tuple[str, ...] = ()


def diff_topic(manifest: Manifest, observed: ObservedTopic | None, brokers: Sequence[int] | None = None
               ) -> TopicDiff:
    """What the operator would do with ``manifest`` given the topic as observed (None: missing) on a
    cluster with these brokers (None: unknown, then a replication-factor change cannot be planned)."""
    notes = (f"paused ({GROUP}/paused): the operator applies this only once resumed",) if manifest.paused else ()
    if manifest.unmanaged:
        return TopicDiff(manifest.topic, manifest, "skip",
                         message=f'{GROUP}/managed is "false": the operator never touches this topic')
    spec = manifest.spec
    plan = plan_topic(spec, manifest.topic, observed, (), brokers)  # previously owned keys cannot be known
    if plan.refusal is not None:
        return TopicDiff(manifest.topic, manifest, "error", reason=plan.refusal.reason,
                         message=plan.refusal.message, notes=notes)
    if observed is None:
        return TopicDiff(manifest.topic, manifest, "create", partitions=(None, spec.partitions),
                         replication_factor=spec.replication_factor,
                         config=tuple(ConfigDelta(k, None, v) for k, v in sorted(spec.config.items())), notes=notes)
    config = tuple(ConfigDelta(key, observed.config.get(key), value, key not in observed.overridden)
                   for key, value in sorted(plan.config_set.items()))
    unmanaged = tuple(sorted((key, observed.config.get(key, "")) for key in observed.overridden - set(spec.config)))
    partitions = (observed.partitions, plan.partitions) if plan.partitions is not None else None
    replication = (observed.replication_factor, spec.replication_factor) \
        if plan.reassign and spec.replication_factor is not None else None
    if replication:
        notes += ("the operator reassigns replicas first; partition and config changes follow once Kafka is done",)
    return TopicDiff(manifest.topic, manifest, "none" if plan.is_noop else "update", partitions=partitions,
                     replication=replication, config=config, unmanaged=unmanaged, notes=notes)


def duplicate_errors(manifests: Sequence[Manifest]) -> dict[int, str]:
    """Index -> message for every manifest naming a topic an earlier manifest already names: in the
    cluster one of them would be ``Conflict`` (the oldest wins), so the pull request is wrong."""
    first: dict[str, Manifest] = {}
    errors = {}
    for index, manifest in enumerate(manifests):
        if manifest.topic in first:
            other = first[manifest.topic]
            errors[index] = (f"KafkaTopic {manifest.ref} is given twice (also in {other.source})"
                             if other.ref == manifest.ref else
                             f"topic {manifest.topic!r} is also named by KafkaTopic {other.ref} ({other.source}); "
                             "only one KafkaTopic can own a topic")
        else:
            first[manifest.topic] = manifest
    return errors


def rejected(diff: TopicDiff, reason: str, message: str) -> TopicDiff:
    return replace(diff, action="error", reason=reason, message=message)


def exit_code(diffs: Iterable[TopicDiff], problems: Sequence[Problem] = ()) -> int:
    """1 if anything is wrong, else 2 if applying would change the broker, else 0."""
    diffs = list(diffs)
    if problems or any(d.action == "error" for d in diffs):
        return EXIT_ERROR
    if any(d.action in ("create", "update") for d in diffs):
        return EXIT_CHANGES
    return EXIT_NO_CHANGE


def sort_key(diff: TopicDiff) -> tuple[str, str]:
    return diff.topic, diff.manifest.source


# ---- against the broker ---------------------------------------------------------------------

def _reason(error: Exception) -> tuple[str, str]:
    return getattr(error, "reason", type(error).__name__), getattr(error, "message", str(error))


async def compute_diffs(admin: DryRunAdmin, manifests: Sequence[Manifest]) -> list[TopicDiff]:
    """Describe every topic (coalesced), plan, then let the broker validate every change without
    applying it: one ``validate_only`` request per kind. Raises KafkaUnavailable."""
    duplicates = duplicate_errors(manifests)
    unique = [m for i, m in enumerate(manifests) if i not in duplicates]
    observed = await asyncio.gather(*(admin.describe_topic(m.topic) for m in unique))
    brokers = await admin.broker_ids() if any(
        o is not None and m.spec.replication_factor not in (None, o.replication_factor)
        for m, o in zip(unique, observed, strict=True)) else None
    diffs = [diff_topic(m, o, brokers) for m, o in zip(unique, observed, strict=True)]

    creates = [d for d in diffs if d.action == "create"]
    grows = [d for d in diffs if d.action == "update" and d.partitions is not None]
    alters = [d for d in diffs if d.action == "update" and d.config]
    outcomes = await asyncio.gather(
        admin.validate_creations([TopicCreation(name=d.topic, partitions=d.manifest.spec.partitions,
                                                replication_factor=d.replication_factor,
                                                config={c.key: c.new for c in d.config}) for d in creates]),
        admin.validate_partition_growth([(d.topic, d.partitions[1]) for d in grows if d.partitions]),
        admin.validate_config_changes([ConfigChange(d.topic, {c.key: c.new for c in d.config}, ()) for d in alters]))
    failures: dict[str, Exception] = {}
    for group, results in zip((creates, grows, alters), outcomes, strict=True):
        for diff, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                failures.setdefault(diff.topic, result)
    diffs = [rejected(d, *_reason(failures[d.topic])) if d.topic in failures else d for d in diffs]
    diffs += [TopicDiff(manifests[i].topic, manifests[i], "error", reason="Conflict", message=message)
              for i, message in duplicates.items()]
    return sorted(diffs, key=sort_key)


# ---- output -----------------------------------------------------------------------------

_MARKS: dict[str, str] = {"create": "+", "update": "~", "none": "=", "skip": "-", "error": "!"}
_HEADINGS: dict[str, str] = {"create": "create", "update": "change", "none": "no change", "skip": "skipped",
                             "error": "error"}


def _config_line(delta: ConfigDelta) -> str:
    if delta.old is None:
        return f"    config {delta.key}: {delta.new}"
    old = f"{delta.old} (default)" if delta.old_is_default else delta.old
    return f"    config {delta.key}: {old} -> {delta.new}"


def summary(diffs: Sequence[TopicDiff], problems: Sequence[Problem] = ()) -> dict[str, int]:
    counts = {action: sum(1 for d in diffs if d.action == action) for action in _MARKS}
    counts["error"] += len(problems)
    return counts


def render_text(diffs: Sequence[TopicDiff], problems: Sequence[Problem] = ()) -> str:
    """One block per topic, sorted by topic name; manifest problems first; a summary line last."""
    lines: list[str] = [f"! {p.source}\n    error: {p.message}" for p in problems]
    for diff in diffs:
        heading = _HEADINGS[diff.action] + (f": {diff.reason}" if diff.reason else "")
        lines.append(f"{_MARKS[diff.action]} topic {diff.topic} ({heading})  "
                     f"[KafkaTopic {diff.manifest.ref}, {diff.manifest.source}]")
        if diff.partitions is not None and diff.partitions[0] is None:  # a creation (perhaps rejected)
            lines.append(f"    partitions: {diff.partitions[1]}")
            rf = diff.replication_factor
            lines.append(f"    replication factor: {rf if rf is not None else 'broker default'}")
        elif diff.partitions is not None:
            lines.append(f"    partitions: {diff.partitions[0]} -> {diff.partitions[1]}")
        if diff.replication is not None:
            lines.append(f"    replication factor: {diff.replication[0]} -> {diff.replication[1]} (reassignment)")
        lines += [_config_line(delta) for delta in diff.config]
        lines += [f"    unmanaged (kept): {key} = {value}" for key, value in diff.unmanaged]
        if diff.message:
            lines.append(f"    {'error' if diff.action == 'error' else 'note'}: {diff.message}")
        lines += [f"    note: {note}" for note in diff.notes]
    counts = summary(diffs, problems)
    lines.append(f"{len(diffs)} topic(s): {counts['create']} to create, {counts['update']} to change, "
                 f"{counts['none']} unchanged, {counts['skip']} skipped, {counts['error']} error(s)")
    return "\n".join(lines) + "\n"


def to_json(diffs: Sequence[TopicDiff], problems: Sequence[Problem] = ()) -> dict[str, Any]:
    topics = []
    for diff in diffs:
        entry: dict[str, Any] = {
            "topic": diff.topic, "action": diff.action,
            "kafkaTopic": {"namespace": diff.manifest.namespace, "name": diff.manifest.name,
                           "source": diff.manifest.source},
        }
        if diff.partitions is not None:
            entry["partitions"] = {"from": diff.partitions[0], "to": diff.partitions[1]}
        if diff.partitions is not None and diff.partitions[0] is None:
            entry["replicationFactor"] = diff.replication_factor
        if diff.replication is not None:
            entry["replicationFactor"] = {"from": diff.replication[0], "to": diff.replication[1]}
        if diff.config:
            entry["config"] = [{"key": c.key, "from": c.old, "fromDefault": c.old_is_default, "to": c.new}
                               for c in diff.config]
        if diff.unmanaged:
            entry["unmanagedConfig"] = dict(diff.unmanaged)
        if diff.action == "error":
            entry["error"] = {"reason": diff.reason, "message": diff.message}
        elif diff.message:
            entry["message"] = diff.message
        if diff.notes:
            entry["notes"] = list(diff.notes)
        topics.append(entry)
    return {"topics": topics, "problems": [{"source": p.source, "message": p.message} for p in problems],
            "summary": summary(diffs, problems), "exitCode": exit_code(diffs, problems)}


def render_json(diffs: Sequence[TopicDiff], problems: Sequence[Problem] = ()) -> str:
    return json.dumps(to_json(diffs, problems), indent=2) + "\n"
