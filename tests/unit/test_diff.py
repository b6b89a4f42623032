"""kafkaops diff, the pure parts: manifest parsing, per-topic diff, exit code, rendering."""

from __future__ import annotations

import json

import pytest

from kafkaops.topics.diff import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_NO_CHANGE,
    Manifest,
    Problem,
    TopicDiff,
    diff_topic,
    duplicate_errors,
    exit_code,
    parse_manifests,
    rejected,
    render_json,
    render_text,
)
from kafkaops.topics.spec import TopicSpec
from kafkaops.types.topics import ObservedTopic

pytestmark = pytest.mark.unit

TOPIC = """\
apiVersion: kafkaops.io/v1alpha1
kind: KafkaTopic
metadata: {name: user-events, namespace: team-a}
spec:
  topicName: user_events
  partitions: 3
  config: {retention.ms: 86400000, cleanup.policy: "compact,delete"}
"""


def manifest(partitions=3, config=None, **kw) -> Manifest:
    spec = TopicSpec.model_validate({"partitions": partitions, "config": config or {}})
    return Manifest(kw.pop("source", "t.yaml"), kw.pop("namespace", "ns"), kw.pop("name", "t"),
                    kw.pop("topic", "t"), spec, **kw)


def observed(partitions=3, config=None, overridden=()) -> ObservedTopic:
    return ObservedTopic(name="t", partitions=partitions, replication_factor=1, config=config or {},
                         overridden=frozenset(overridden))


# ---- loading -------------------------------------------------------------------------------

def test_multi_document_file_yields_kafkatopics_and_notes_for_the_rest():
    text = TOPIC + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n---\n"
    loaded = parse_manifests(text, "topics.yaml")
    assert not loaded.problems
    (only,) = loaded.manifests
    assert only.topic == "user_events" and only.ref == "team-a/user-events" and only.source == "topics.yaml#1"
    assert only.spec.config == {"retention.ms": "86400000", "cleanup.policy": "compact,delete"}
    assert loaded.notes == ["topics.yaml#2: ignoring apps/v1 Deployment 'app': not a kafkaops.io KafkaTopic"]


def test_a_kafkatopic_of_another_api_group_is_ignored_not_diffed():
    text = "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata: {name: s}\nspec: {partitions: 1}\n"
    loaded = parse_manifests(text, "strimzi.yaml")
    assert not loaded.manifests and not loaded.problems
    assert "kafka.strimzi.io/v1beta2 KafkaTopic 's'" in loaded.notes[0]


def test_not_yaml_is_a_problem_with_the_parser_message():
    loaded = parse_manifests("apiVersion: [unclosed\n", "broken.yaml")
    assert not loaded.manifests
    (problem,) = loaded.problems
    assert problem.source == "broken.yaml" and problem.message.startswith("not valid YAML:")


def test_a_scalar_document_is_a_problem():
    (problem,) = parse_manifests("just a string\n", "s.yaml").problems
    assert "not a Kubernetes object" in problem.message


@pytest.mark.parametrize(("spec", "expected"), [
    ("{partitions: 0}", "spec.partitions: Input should be greater than or equal to 1"),
    ("{}", "spec.partitions: Field required"),
    ("{partitions: 1, replicas: 3}", "spec.replicas: Extra inputs are not permitted"),
    ("{partitions: 1, config: [a]}", "config must be a map"),
    ("{partitions: 1, topicName: 'bad name!'}", "topic name 'bad name!' must be 1-249 characters"),
    ("{partitions: 1, topicName: '..'}", "topic name '..' is not allowed by Kafka"),
])
def test_invalid_spec_gives_the_operators_message(spec, expected):
    text = f"apiVersion: kafkaops.io/v1alpha1\nkind: KafkaTopic\nmetadata: {{name: x}}\nspec: {spec}\n"
    (problem,) = parse_manifests(text, "x.yaml").problems
    assert problem.message.startswith("invalid KafkaTopic: ") and expected in problem.message


def test_a_metadata_name_kafka_cannot_take_needs_topic_name():
    long_name = "a" * 250
    text = (f"apiVersion: kafkaops.io/v1alpha1\nkind: KafkaTopic\nmetadata: {{name: {long_name}}}\n"
            "spec: {partitions: 1}\n")
    (problem,) = parse_manifests(text, "x.yaml").problems
    assert "must be 1-249 characters" in problem.message and "set spec.topicName" in problem.message
    fixed = text.replace("partitions: 1", "partitions: 1, topicName: short")
    assert parse_manifests(fixed, "x.yaml").manifests[0].topic == "short"


def test_missing_metadata_name_is_a_problem():
    text = "apiVersion: kafkaops.io/v1alpha1\nkind: KafkaTopic\nspec: {partitions: 1}\n"
    assert parse_manifests(text, "x.yaml").problems[0].message == "invalid KafkaTopic: metadata.name is required"


def test_kind_list_is_unpacked_and_annotations_are_read():
    item = {"apiVersion": "kafkaops.io/v1alpha1", "kind": "KafkaTopic", "spec": {"partitions": 1},
            "metadata": {"name": "p", "annotations": {"kafkaops.io/paused": "true"}}}
    unmanaged = {**item, "metadata": {"name": "u", "annotations": {"kafkaops.io/managed": "false"}}}
    loaded = parse_manifests(json.dumps({"apiVersion": "v1", "kind": "List", "items": [item, unmanaged]}), "l.json")
    paused, let_go = loaded.manifests
    assert paused.paused and not paused.unmanaged and paused.source == "l.json items[0]"
    assert let_go.unmanaged


# ---- one topic -------------------------------------------------------------------------------

def test_missing_topic_is_a_creation_with_everything():
    diff = diff_topic(manifest(config={"retention.ms": "1000"}), None)
    assert diff.action == "create" and diff.partitions == (None, 3) and diff.replication_factor is None
    assert [(c.key, c.old, c.new) for c in diff.config] == [("retention.ms", None, "1000")]


def test_identical_topic_is_no_change_even_when_spelled_differently():
    diff = diff_topic(manifest(config={"cleanup.policy": "compact, delete"}),
                      observed(config={"cleanup.policy": "delete,compact"}, overridden={"cleanup.policy"}))
    assert diff.action == "none" and not diff.config and not diff.unmanaged


def test_growth_config_change_and_unmanaged_keys():
    current = {"retention.ms": "604800000", "segment.ms": "1000", "cleanup.policy": "delete"}
    diff = diff_topic(manifest(partitions=6, config={"retention.ms": "1000", "cleanup.policy": "compact"}),
                      observed(partitions=3, config=current, overridden={"segment.ms", "cleanup.policy"}))
    assert diff.action == "update" and diff.partitions == (3, 6)
    assert [(c.key, c.old, c.new, c.old_is_default) for c in diff.config] == [
        ("cleanup.policy", "delete", "compact", False), ("retention.ms", "604800000", "1000", True)]
    assert diff.unmanaged == (("segment.ms", "1000"),)


@pytest.mark.parametrize(("wanted", "current", "rf", "reason"), [
    (2, 6, None, "PartitionDecreaseRefused"), (3, 3, 3, "ReplicationFactorChangeUnsupported")])
def test_refusals_are_errors(wanted, current, rf, reason):
    spec = TopicSpec.model_validate({"partitions": wanted, "replicationFactor": rf} if rf else {"partitions": wanted})
    diff = diff_topic(Manifest("t.yaml", None, "t", "t", spec), observed(partitions=current))
    assert diff.action == "error" and diff.reason == reason and exit_code([diff]) == EXIT_ERROR


def test_replication_factor_change_is_a_reassignment_when_the_brokers_are_known():
    spec = TopicSpec.model_validate({"partitions": 2, "replicationFactor": 3})
    current = ObservedTopic(name="t", partitions=2, replication_factor=1, config={}, assignment=((1,), (2,)))
    diff = diff_topic(Manifest("t.yaml", None, "t", "t", spec), current, brokers=[1, 2, 3])
    assert diff.action == "update" and diff.replication == (1, 3) and exit_code([diff]) == EXIT_CHANGES
    assert "replication factor: 1 -> 3 (reassignment)" in render_text([diff])
    too_many = diff_topic(Manifest("t.yaml", None, "t", "t", spec), current, brokers=[1])
    assert too_many.action == "error" and too_many.reason == "InvalidConfig"


def test_unmanaged_manifest_is_skipped_and_paused_is_noted():
    assert diff_topic(manifest(unmanaged=True), None).action == "skip"
    paused = diff_topic(manifest(paused=True), None)
    assert paused.action == "create" and "paused" in paused.notes[0]


def test_two_manifests_naming_one_topic():
    first, second = manifest(name="a", source="a.yaml"), manifest(name="b", source="b.yaml")
    assert duplicate_errors([first, second, manifest(topic="other")]) == {
        1: "topic 't' is also named by KafkaTopic ns/a (a.yaml); only one KafkaTopic can own a topic"}
    assert duplicate_errors([first, manifest(name="a", source="copy.yaml")]) == {
        1: "KafkaTopic ns/a is given twice (also in a.yaml)"}


# ---- exit code and rendering ------------------------------------------------------------------

def test_exit_code_decision():
    none = diff_topic(manifest(), observed())
    create = diff_topic(manifest(), None)
    skip = diff_topic(manifest(unmanaged=True), None)
    assert exit_code([]) == EXIT_NO_CHANGE
    assert exit_code([none, skip]) == EXIT_NO_CHANGE
    assert exit_code([none, create]) == EXIT_CHANGES
    assert exit_code([create, rejected(create, "InvalidConfig", "bad")]) == EXIT_ERROR
    assert exit_code([none], [Problem("x.yaml", "not valid YAML")]) == EXIT_ERROR


def sample() -> list[TopicDiff]:
    create = diff_topic(manifest(topic="a-new", config={"retention.ms": "1000"}), None)
    update = diff_topic(manifest(topic="b-changed", partitions=6, config={"retention.ms": "1000"}),
                        observed(config={"retention.ms": "604800000", "segment.ms": "5"}, overridden={"segment.ms"}))
    same = diff_topic(manifest(topic="c-same"), observed())
    bad = rejected(diff_topic(manifest(topic="d-bad", config={"retention.ms": "x"}), None), "InvalidConfig",
                   "Invalid value x for configuration retention.ms: Not a number of type LONG")
    return [create, update, same, bad]


def test_text_rendering():
    text = render_text(sample(), [Problem("broken.yaml", "not valid YAML: ...")])
    assert text == """\
! broken.yaml
    error: not valid YAML: ...
+ topic a-new (create)  [KafkaTopic ns/t, t.yaml]
    partitions: 3
    replication factor: broker default
    config retention.ms: 1000
~ topic b-changed (change)  [KafkaTopic ns/t, t.yaml]
    partitions: 3 -> 6
    config retention.ms: 604800000 (default) -> 1000
    unmanaged (kept): segment.ms = 5
= topic c-same (no change)  [KafkaTopic ns/t, t.yaml]
! topic d-bad (error: InvalidConfig)  [KafkaTopic ns/t, t.yaml]
    partitions: 3
    replication factor: broker default
    config retention.ms: x
    error: Invalid value x for configuration retention.ms: Not a number of type LONG
4 topic(s): 1 to create, 1 to change, 1 unchanged, 0 skipped, 2 error(s)
"""


def test_json_rendering_is_machine_readable():
    document = json.loads(render_json(sample()))
    assert document["exitCode"] == EXIT_ERROR
    assert document["summary"] == {"create": 1, "update": 1, "none": 1, "skip": 0, "error": 1}
    create, update, same, bad = document["topics"]
    assert create == {"topic": "a-new", "action": "create",
                      "kafkaTopic": {"namespace": "ns", "name": "t", "source": "t.yaml"},
                      "partitions": {"from": None, "to": 3}, "replicationFactor": None,
                      "config": [{"key": "retention.ms", "from": None, "fromDefault": False, "to": "1000"}]}
    assert update["partitions"] == {"from": 3, "to": 6} and update["unmanagedConfig"] == {"segment.ms": "5"}
    assert update["config"] == [{"key": "retention.ms", "from": "604800000", "fromDefault": True, "to": "1000"}]
    assert same["action"] == "none" and "config" not in same
    assert bad["error"]["reason"] == "InvalidConfig" and "Not a number" in bad["error"]["message"]
