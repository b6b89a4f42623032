"""Tenancy on the real API server: the chart's ValidatingAdmissionPolicies judge KafkaTopics and
ConsumerApps written by an application team's ServiceAccount (the aggregated ``edit`` role, which
cannot touch the KafkaAccessPolicy), on the same table of cases as the Python rules; and the
operator's backstop for what was stored before a policy changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusters import object_reason
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from installed import service_account_kubeconfig
from kubernetes import client, config
from support import GROUP, REPO, VERSION, kubectl

from chart_render import manifests, render
from helpers import eventually, ready_condition
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.kube import KubeCluster
from tenancy_cases import CONSUMER_CASES, POLICY, TOPIC_CASES, USER_CASES, Case

pytestmark = pytest.mark.e2e
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}
CHART_PARTS = ("--show-only", "templates/tenancy.yaml", "--show-only", "templates/aggregated-roles.yaml")
KINDS = {"KafkaTopic": "kafkatopics", "ConsumerApp": "consumerapps", "KafkaUser": "kafkausers"}


def apply_tenancy(helm: Path, bootstrap_servers: str, *values: str) -> list[dict[str, Any]]:
    """The chart's admission policies and aggregated roles, as ``helm install`` with these values would
    make them; the bindings of another mode are removed."""
    text = render(helm, "--set", f"kafka.bootstrapServers={bootstrap_servers}", *values, *CHART_PARTS)
    kubectl("delete", "validatingadmissionpolicybindings", "-l", "app.kubernetes.io/name=kafkaops",
            "--ignore-not-found")
    kubectl("apply", "-f", "-", input_text=text)
    return manifests(text)


def write_policy(namespace: str, spec: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input_text=json.dumps({
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaAccessPolicy",
        "metadata": {"name": "default", "namespace": namespace}, "spec": spec}))


def body(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "ConsumerApp":
        spec = {**spec, "template": TEMPLATE}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}


def refusal(call: Any) -> str | None:
    """None if the API server admitted the write, else its message."""
    try:
        call()
    except client.ApiException as error:
        return str(json.loads(error.body)["message"])
    return None


@pytest.fixture(scope="module")
def tenancy(helm: Path, kafka: KafkaCluster, crds: None) -> Iterator[list[dict[str, Any]]]:
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkaaccesspolicies.kafkaops.io")
    yield apply_tenancy(helm, kafka.bootstrap_servers)
    kubectl("delete", "validatingadmissionpolicybindings,validatingadmissionpolicies", "-l",
            "app.kubernetes.io/name=kafkaops", "--ignore-not-found")


@pytest.fixture
def tenant_api(kube: KubeCluster, namespace: str, tmp_path: Path) -> client.CustomObjectsApi:
    """An application team's ServiceAccount bound to the built-in ``edit`` ClusterRole in its namespace."""
    kubectl("create", "serviceaccount", "app-team", "-n", namespace)
    kubectl("create", "rolebinding", "app-team-edit", "--clusterrole=edit", f"--serviceaccount={namespace}:app-team",
            "-n", namespace)
    path = service_account_kubeconfig("app-team", kube.server, kube.pki.ca, tmp_path / "tenant", namespace=namespace)
    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(path), persist_config=False))


# Writes every policy of the tests refuses: they name a topic outside every prefix.
PROBES = {"KafkaTopic": {"partitions": 1}, "ConsumerApp": {"topics": ["outside.probe"]},
          "KafkaUser": {"authorization": {"acls": [{"resource": {"type": "topic", "name": "outside.probe"},
                                                    "operations": ["Read"]}]}}}


def until_enforced(api: client.CustomObjectsApi, namespace: str, kinds: tuple[str, ...] = ("KafkaTopic",)) -> None:
    """Admission policies take effect asynchronously, each kind's binding on its own (CI once saw the
    KafkaTopic policy in force and the ConsumerApp one not yet): wait until a write each kind's policy
    refuses is refused. An admitted probe has a name of its own, so the next one is not a conflict."""
    def refused(kind: str) -> bool:
        probe = body(kind, f"outside.probe-{uuid.uuid4().hex[:6]}", PROBES[kind])
        message = refusal(lambda: api.create_namespaced_custom_object(GROUP, VERSION, namespace, KINDS[kind], probe))
        return message is not None and "ValidatingAdmissionPolicy" in message

    for kind in kinds:
        eventually(lambda kind=kind: refused(kind), timeout=60, what=f"the admission policy for {kind} in force")


def judge(api: client.CustomObjectsApi, namespace: str, kind: str, case: Case) -> str | None:
    plural = KINDS[kind]
    created = refusal(lambda: api.create_namespaced_custom_object(GROUP, VERSION, namespace, plural,
                                                                  body(kind, case.name, case.spec)))
    if created is not None or case.update is None:
        return created
    return refusal(lambda: api.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, case.name,
                                                              {"spec": case.update}))


def test_admission_agrees_with_the_rules_on_every_case(tenancy, tenant_api, api, namespace):
    write_policy(namespace, POLICY)
    until_enforced(tenant_api, namespace, tuple(KINDS))
    mismatches = []
    for kind, cases in (("KafkaTopic", TOPIC_CASES), ("ConsumerApp", CONSUMER_CASES), ("KafkaUser", USER_CASES)):
        for case in cases:
            message = judge(tenant_api, namespace, kind, case)
            agrees = message is None if case.refusal is None else (message is not None and case.refusal in message)
            if not agrees:
                mismatches.append(f"{kind} {case.id}: expected {case.refusal!r}, the API server said {message!r}")
    assert not mismatches, "\n".join(mismatches)
    # The operator's own metadata writes (finalizers) on a stored object are never judged: only spec writes.
    api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "kafkatopics", "payments.orders",
                                       {"metadata": {"annotations": {"team": "payments"}}})


def test_a_tenant_reads_but_cannot_change_its_policy(tenancy, tenant_api, namespace):
    write_policy(namespace, POLICY)
    policy = tenant_api.get_namespaced_custom_object(GROUP, VERSION, namespace, "kafkaaccesspolicies", "default")
    assert policy["spec"]["topicPrefixes"] == POLICY["topicPrefixes"]
    for attempt in (lambda: tenant_api.patch_namespaced_custom_object(
                        GROUP, VERSION, namespace, "kafkaaccesspolicies", "default", {"spec": {"topicPrefixes": [""]}}),
                    lambda: tenant_api.delete_namespaced_custom_object(
                        GROUP, VERSION, namespace, "kafkaaccesspolicies", "default")):
        with pytest.raises(client.ApiException) as refused:
            attempt()
        assert refused.value.status == 403
    assert kubectl("auth", "can-i", "create", "kafkaclusters.kafkaops.io",
                   f"--as=system:serviceaccount:{namespace}:app-team", check=False).stdout.strip() == "no"


def test_a_namespace_without_a_policy_is_refused_when_enforcing_unless_trusted(tenancy, helm, kafka, api):
    strict, trusted = f"t-strict-{uuid.uuid4().hex[:6]}", f"t-trusted-{uuid.uuid4().hex[:6]}"
    for name in (strict, trusted):
        kubectl("create", "namespace", name)
    try:
        apply_tenancy(helm, kafka.bootstrap_servers, "--set", "tenancy.mode=enforce",
                      "--set", f"tenancy.trustedNamespaces={{{trusted}}}")
        until_enforced(api, strict, ("KafkaTopic", "ConsumerApp"))
        message = refusal(lambda: api.create_namespaced_custom_object(
            GROUP, VERSION, strict, "consumerapps", body("ConsumerApp", "app", {"topics": ["t"]})))
        assert message is not None and "no params found" in message and "kafkaops-tenancy-consumers" in message
        assert refusal(lambda: api.create_namespaced_custom_object(
            GROUP, VERSION, trusted, "kafkatopics", body("KafkaTopic", f"trusted-{uuid.uuid4().hex[:6]}",
                                                         {"partitions": 1}))) is None
        # A trusted namespace with a policy is held to it.
        write_policy(trusted, {"topicPrefixes": ["trusted."]})
        eventually(lambda: refusal(lambda: api.create_namespaced_custom_object(
            GROUP, VERSION, trusted, "kafkatopics", body("KafkaTopic", "outside.x", {"partitions": 1}))),
            timeout=30, what="the trusted namespace's policy in force")
    finally:
        apply_tenancy(helm, kafka.bootstrap_servers)
        for name in (strict, trusted):
            kubectl("delete", "namespace", name, "--wait=false")


def wait_ready(api: client.CustomObjectsApi, namespace: str, plural: str, name: str) -> None:
    eventually(lambda: (ready_condition(api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))
                        or {}).get("status") == "True", timeout=60, what=f"{plural} {namespace}/{name} Ready")


def test_the_operator_holds_what_a_changed_policy_no_longer_allows(tenancy, api, operator, namespace, topics, kafka):
    """Objects stored before their policy changed: nothing on the broker is touched (no drift
    correction, no deletion), the consumer is not scaled, and all recovers when the policy allows again."""
    topic, group = f"payments.held-{uuid.uuid4().hex[:6]}", f"payments-{uuid.uuid4().hex[:6]}"
    allowing = {"topicPrefixes": ["payments."], "groupPrefixes": ["payments-"], "allowDeletion": True}
    write_policy(namespace, allowing)
    until_enforced(api, namespace)
    topics.create("held", {"topicName": topic, "partitions": 2, "deletionPolicy": "Delete",
                           "config": {"retention.ms": "86400000"}})
    topics.wait("held", "Created")
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", body("ConsumerApp", "app", {
        "topics": [topic], "groupId": group,
        "scaling": {"minReplicas": 1, "maxReplicas": 2, "pollIntervalSeconds": 1}}))
    object_reason(api, namespace, "consumerapps", "app", "LagCollected")

    write_policy(namespace, {"topicPrefixes": ["billing."], "groupPrefixes": ["billing-"]})
    held = ready_condition(object_reason(api, namespace, "kafkatopics", "held", "PolicyViolation"))
    assert held["status"] == "False" and f'topic "{topic}" is outside this namespace\'s prefixes [billing.]' in \
        held["message"]
    app = ready_condition(object_reason(api, namespace, "consumerapps", "app", "PolicyViolation"))
    assert f'group "{group}" is outside' in app["message"]
    assert ("Warning", "PolicyViolation") in {(t, r) for t, r, _ in topics.events("held")}
    # A change on the broker behind the operator's back is not corrected while held (drift checks run every 2 s).
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "1234567", incremental_operation=AlterConfigOpType.SET)])
    topics.admin.incremental_alter_configs([resource])[resource].result(10)
    samples: list[dict[str, Any]] = []

    def sample() -> bool:
        samples.append(api.get_namespaced_custom_object(GROUP, VERSION, namespace, "consumerapps", "app"))
        return len(samples) >= 5

    eventually(sample, timeout=30, interval=1.5, what="five samples over several drift intervals")
    assert topics.broker(topic)[2]["retention.ms"] == "1234567"
    assert {ready_condition(app)["reason"] for app in samples} == {"PolicyViolation"}

    # The policy allows again: both recover by themselves, and the drift is corrected.
    write_policy(namespace, allowing)
    topics.wait("held", check=lambda obj: ready_condition(obj)["status"] == "True")
    eventually(lambda: topics.broker(topic)[2]["retention.ms"] == "86400000", timeout=30, what="drift corrected")
    object_reason(api, namespace, "consumerapps", "app", "LagCollected")

    # Deletion that the policy no longer allows keeps the topic.
    write_policy(namespace, {"topicPrefixes": ["payments."], "allowDeletion": False})
    topics.delete("held")
    eventually(lambda: topics.gone("held"), timeout=30, what="KafkaTopic released")
    assert topics.broker(topic) is not None
    assert any(r == "Retained" and "allowDeletion is false" in m for _, r, m in topics.events("held"))


def test_a_claim_the_policy_refuses_does_not_hold_the_topic(tenancy, api, operator, kafka, topics):
    """A KafkaTopic stored before its namespace had a policy owns a topic; once the policy excludes
    it, the other namespace's KafkaTopic for that topic takes over (oldest claim within the prefixes)."""
    # Claims made in the same second are ordered by namespace: this one's sorts first, so it owns the topic.
    other = f"a-other-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", other)
    try:
        topic = f"payments.shared-{uuid.uuid4().hex[:6]}"
        topics.create("first", {"topicName": topic, "partitions": 1}, namespace=other)
        topics.wait("first", "Created", namespace=other)
        write_policy(topics.namespace, {"topicPrefixes": ["payments."]})
        topics.create("second", {"topicName": topic, "partitions": 1})
        topics.wait("second", "Conflict")
        write_policy(other, {"topicPrefixes": ["billing."]})
        object_reason(api, other, "kafkatopics", "first", "PolicyViolation")
        topics.wait("second", check=lambda obj: ready_condition(obj)["status"] == "True")
    finally:
        kubectl("delete", "namespace", other, "--wait=false")


def test_the_tenancy_example_two_teams_on_one_cluster(tenancy, api, operator, kafka):
    """examples/tenancy/: the platform team's policies, each team's objects Ready inside them, and every
    manifest of refused.yaml refused with the message its comment promises."""
    example = REPO / "examples" / "tenancy"
    try:
        kubectl("apply", "-f", str(example / "platform.yaml"))
        until_enforced(api, "payments")
        kubectl("apply", "-f", str(example / "teams.yaml"))
        for namespace, plural, name in (("shipping", "kafkatopics", "shipping.events.dispatched"),
                                        ("payments", "kafkatopics", "payments.settlements"),
                                        ("payments", "consumerapps", "payments-dispatch-listener")):
            wait_ready(api, namespace, plural, name)
        text = (example / "refused.yaml").read_text()
        promised = {line.split("#", 1)[1].strip() for line in text.splitlines() if line.startswith("#   ")}
        messages = [refusal(lambda d=doc: api.create_namespaced_custom_object(
            GROUP, VERSION, d["metadata"]["namespace"], KINDS[d["kind"]], d)) for doc in manifests(text)]
        assert all(messages), messages
        assert {line for line in promised for message in messages if line in message} == promised, messages
    finally:
        kubectl("delete", "namespace", "payments", "shipping", "--wait=false", "--ignore-not-found")


def test_without_admission_the_operator_enforces_and_audits_namespaces_without_a_policy(isolated, kafka):
    """A control plane without the chart's admission policies (tenancy.admission: false): the operator's
    backstop alone. enforce: a namespace without a policy gets PolicyViolation and nothing on the broker, a
    trusted one is served; audit: served, with a NoAccessPolicy Warning Event."""
    strict, trusted = f"s-{uuid.uuid4().hex[:6]}", f"tr-{uuid.uuid4().hex[:6]}"
    for name in (strict, trusted):
        isolated.core.create_namespace({"metadata": {"name": name}})
    topic = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic", "metadata": {"name": "t"}}
    names = {ns: f"backstop_{uuid.uuid4().hex[:6]}" for ns in (strict, trusted)}
    for ns, kafka_name in names.items():
        isolated.api.create_namespaced_custom_object(GROUP, VERSION, ns, "kafkatopics",
                                                     {**topic, "spec": {"topicName": kafka_name, "partitions": 1}})
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})

    def on_broker(name: str) -> bool:
        return name in admin.list_topics(timeout=10).topics

    enforce = {"KAFKAOPS_TENANCY_MODE": "enforce", "KAFKAOPS_TRUSTED_NAMESPACES": trusted}
    operator = isolated.start_operator("tenancy-enforce", enforce)
    try:
        held = object_reason_on(isolated, strict, "PolicyViolation")
        assert f'namespace "{strict}" has no KafkaAccessPolicy' in ready_condition(held)["message"]
        object_reason_on(isolated, trusted, "Created")
        assert not on_broker(names[strict]) and on_broker(names[trusted])
    finally:
        assert operator.stop() == 0
    operator = isolated.start_operator("tenancy-audit", {"KAFKAOPS_TENANCY_MODE": "audit"})
    try:
        object_reason_on(isolated, strict, "Created")  # held before, served now
        assert on_broker(names[strict])
        isolated.api.create_namespaced_custom_object(GROUP, VERSION, strict, "kafkatopics", {
            **topic, "metadata": {"name": "audited"}, "spec": {"topicName": f"{names[strict]}-2", "partitions": 1}})
        object_reason_on(isolated, strict, "Created", "audited")
        eventually(lambda: [e.message for e in isolated.core.list_namespaced_event(
            strict, field_selector="involvedObject.name=audited").items if e.reason == "NoAccessPolicy"],
            timeout=30, what="a NoAccessPolicy Warning Event on the new KafkaTopic")
    finally:
        assert operator.stop() == 0


def object_reason_on(isolated: Any, namespace: str, reason: str, name: str = "t") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = isolated.api.get_namespaced_custom_object(GROUP, VERSION, namespace, "kafkatopics", name)
        condition = ready_condition(obj)
        return obj if condition and condition["reason"] == reason else None

    return eventually(probe, timeout=60, what=f"KafkaTopic {namespace}/{name} {reason}")
