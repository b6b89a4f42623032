"""The tenancy rules, on the table of cases the API server's admission policies are tested with."""

from __future__ import annotations

import pytest
import yaml

from chart_render import REPO
from kafkaops.consumers.spec import parse_consumer_spec
from kafkaops.handlers.tenancy import consumer_request, topic_request, user_request
from kafkaops.tenancy.rules import (
    AccessPolicy,
    TenancyMode,
    Verdict,
    consumer_violation,
    deletion_refusal,
    judge,
    parse_policy,
    topic_violation,
    user_violation,
)
from kafkaops.topics.ownership import Claim, hold
from kafkaops.topics.spec import parse_topic_spec
from kafkaops.types.errors import InvalidSpec
from kafkaops.users.spec import parse_user_spec
from tenancy_cases import CONSUMER_CASES, POLICY, TOPIC_CASES, USER_CASES, Case

pytestmark = pytest.mark.unit
TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "example.com/c:1"}]}}


def final_spec(case: Case) -> dict:
    return {**case.spec, **(case.update or {})}


@pytest.mark.parametrize("case", TOPIC_CASES, ids=lambda c: c.id)
def test_topic_rules(case: Case):
    request = topic_request(case.name, parse_topic_spec(final_spec(case)))
    assert topic_violation(parse_policy(POLICY), request) == case.refusal


@pytest.mark.parametrize("case", CONSUMER_CASES, ids=lambda c: c.id)
def test_consumer_rules(case: Case):
    request = consumer_request(case.name, parse_consumer_spec({**final_spec(case), "template": TEMPLATE}))
    assert consumer_violation(parse_policy(POLICY), request) == case.refusal


@pytest.mark.parametrize("case", USER_CASES, ids=lambda c: c.id)
def test_user_rules(case: Case):
    assert user_violation(parse_policy(POLICY), user_request(parse_user_spec(final_spec(case)))) == case.refusal


def test_the_table_is_as_large_as_promised_and_covers_both_answers():
    for cases, at_least in ((TOPIC_CASES, 20), (CONSUMER_CASES, 20), (USER_CASES, 15)):
        assert len(cases) >= at_least
        assert {case.refusal is None for case in cases} == {True, False}
        assert any(case.update for case in cases)


def test_policy_defaults_are_the_crds():
    """A policy that says only topicPrefixes: the default cluster only, no groups, no deletion."""
    crd = yaml.safe_load((REPO / "crds" / "kafkaaccesspolicies.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    policy = parse_policy({"topicPrefixes": ["a."]})
    assert list(policy.clusters) == schema["clusters"]["default"] == ["default"]
    assert list(policy.group_prefixes) == schema["groupPrefixes"]["default"] == []
    assert list(policy.read_topic_prefixes) == schema["readTopicPrefixes"]["default"] == []
    assert policy.allow_deletion is schema["allowDeletion"]["default"] is False
    with pytest.raises(InvalidSpec, match="topicPrefixes"):
        parse_policy({})


def allow_everything(_: AccessPolicy) -> None:
    return None


@pytest.mark.parametrize(("policy", "mode", "namespace", "expected"), [
    (None, TenancyMode.OFF, "team-a", None),
    (None, TenancyMode.AUDIT, "team-a", False),
    (None, TenancyMode.ENFORCE, "team-a", True),
    (None, TenancyMode.ENFORCE, "platform", None),
    (None, TenancyMode.AUDIT, "platform", None),
    (InvalidSpec("spec.maxPartitions: must be >= 1"), TenancyMode.OFF, "team-a", True),
    (parse_policy(POLICY), TenancyMode.OFF, "team-a", None),
    (parse_policy(POLICY), TenancyMode.ENFORCE, "platform", None),
])
def test_judge_a_namespace_with_and_without_a_policy(policy, mode, namespace, expected):
    verdict = judge(policy, allow_everything, mode=mode, namespace=namespace, trusted={"platform"})
    assert (verdict.refused if verdict is not None else None) == expected
    if verdict is not None:
        assert namespace in verdict.message or "invalid" in verdict.message


def test_a_policy_applies_in_a_trusted_namespace_too():
    verdict = judge(parse_policy(POLICY), lambda _: "no", mode=TenancyMode.ENFORCE, namespace="platform",
                    trusted={"platform"})
    assert verdict == Verdict(True, "no")


@pytest.mark.parametrize(("policy", "topic", "refusal"), [
    (None, "anything", None),
    ({**POLICY, "allowDeletion": True}, "payments.orders", None),
    ({**POLICY, "allowDeletion": True}, "inventory.stock", 'topic "inventory.stock" is outside this namespace\'s '
                                                          "prefixes [payments., billing.]"),
    (POLICY, "payments.orders", "deletionPolicy Delete is not allowed in this namespace (allowDeletion is false)"),
])
def test_deletion_refused_for_what_the_namespace_does_not_own(policy, topic, refusal):
    assert deletion_refusal(parse_policy(policy) if policy else None, topic) == refusal


def test_a_violation_holds_before_a_conflict_but_after_the_annotations():
    me, older = Claim("2026-12-02T10:00:00Z", "a", "t", "me"), Claim("2026-12-01T10:00:00Z", "b", "t", "other")
    held = hold({}, "orders", me, [me, older], "outside")
    assert held is not None and (held.reason, held.ready) == ("PolicyViolation", False)
    assert held.message == "outside; topic 'orders' is not touched"
    assert hold({"kafkaops.io/paused": "true"}, "orders", me, [me], "outside").reason == "Paused"
    assert hold({"kafkaops.io/managed": "false"}, "orders", me, [me], "outside").reason == "Unmanaged"
    assert hold({}, "orders", me, [me, older]).reason == "Conflict"
