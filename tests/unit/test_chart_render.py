"""The Helm chart, rendered by a real helm: lint, schema, least-privilege RBAC, the restricted pod,
secrets only by reference. (The API server's verdict on the same output is in tests/e2e/test_chart_dry_run.py.)"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from chart_render import CHART, CI_VALUES, REPO, manifests, of_kind, render, run_helm

pytestmark = pytest.mark.unit
ROLE_KINDS = ("ClusterRole", "Role")
# Verbs a controller with our job never needs; "*" is checked separately.
DANGEROUS_VERBS = {"delete", "deletecollection", "escalate", "bind", "impersonate", "approve", "sign"}


def values(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


def deployment_of(docs: list[dict]) -> dict:
    (deployment,) = of_kind(docs, "Deployment")
    return deployment


def env_of(deployment: dict) -> dict[str, dict]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}


def test_chart_crds_are_byte_identical_to_the_repository_crds():
    ours = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert ours, "no CRDs in crds/"
    assert chart == ours, "charts/kafkaops/crds/ differs from crds/: cp crds/*.yaml charts/kafkaops/crds/"


def test_ci_values_files_cover_the_three_shapes():
    assert {p.name for p in CI_VALUES} >= {"default-values.yaml", "namespaced-values.yaml",
                                           "secure-monitoring-values.yaml"}


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_helm_lint_strict(helm, values_file):
    result = run_helm(helm, "lint", str(CHART), "--strict", "-f", str(values_file))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_rbac_has_no_wildcards_and_no_dangerous_verbs_and_secrets_only_in_its_namespace(helm, values_file):
    roles = [doc for doc in manifests(render(helm, values=values_file))
             if doc["kind"] in ROLE_KINDS and not aggregated(doc)]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in item for item in rule.get(field, [])), (role["metadata"]["name"], rule)
            assert not DANGEROUS_VERBS & set(rule["verbs"]), rule
            if "secrets" in rule["resources"] and role["metadata"]["name"].endswith("-cluster-secrets"):
                # KafkaClusters' Secrets: read, in the release namespace only
                assert role["kind"] == "Role" and role["metadata"]["namespace"] == "kafkaops-system", role
                assert rule == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, rule
            elif "secrets" in rule["resources"]:  # KafkaUsers' passwords: by name, never listed or watched
                assert rule == {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update"]}
            assert "nonResourceURLs" not in rule, rule


def aggregated(role: dict) -> bool:
    """The roles the chart adds to Kubernetes' built-in admin/edit/view roles (for people, not the operator)."""
    return any(key.startswith("rbac.authorization.k8s.io/aggregate-to-") for key in role["metadata"]["labels"])


def test_application_teams_get_their_objects_through_edit_and_view_but_never_a_policy_or_a_cluster(helm):
    docs = manifests(render(helm, values=values("default")))
    roles = {role["metadata"]["name"]: role for role in of_kind(docs, "ClusterRole") if aggregated(role)}
    assert set(roles) == {"kafkaops-edit", "kafkaops-view"}
    edit, view = roles["kafkaops-edit"], roles["kafkaops-view"]
    assert {"aggregate-to-edit", "aggregate-to-admin"} <= {k.rsplit("/", 1)[1] for k in edit["metadata"]["labels"]}
    assert "rbac.authorization.k8s.io/aggregate-to-view" in view["metadata"]["labels"]
    written = {resource for rule in edit["rules"] for resource in rule["resources"]}
    assert written == {"kafkatopics", "consumerapps", "kafkausers"}
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in view["rules"])
    assert "kafkaaccesspolicies" in {resource for rule in view["rules"] for resource in rule["resources"]}


def test_without_kafka_users_the_operator_reads_secrets_only_in_its_namespace(helm):
    docs = manifests(render(helm, "--set", "kafkaUsers.enabled=false", values=values("default")))
    secret_roles = {role["metadata"]["name"] for role in docs if role["kind"] in ROLE_KINDS and not aggregated(role)
                    and any("secrets" in rule["resources"] for rule in role["rules"])}
    assert secret_roles == {"kafkaops-cluster-secrets"}


def test_default_rbac_is_one_cluster_role_bound_to_the_service_account(helm):
    docs = manifests(render(helm, values=values("default")))
    (cluster_role,) = [role for role in of_kind(docs, "ClusterRole") if not aggregated(role)]
    (binding,) = of_kind(docs, "ClusterRoleBinding")
    (account,) = of_kind(docs, "ServiceAccount")
    roles = of_kind(docs, "Role")  # the leader Lease and the KafkaClusters' Secrets
    assert sorted(r["metadata"]["name"] for r in roles) == ["kafkaops-cluster-secrets", "kafkaops-leader-election"]
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "kafkaops-system"}]
    assert deployment_of(docs)["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    resources = {r for rule in cluster_role["rules"] for r in rule["resources"]}
    assert {"kafkatopics", "consumerapps", "kafkatopics/status", "deployments", "deployments/scale", "events",
            "customresourcedefinitions", "kafkaclusters", "kafkaclusters/status", "configmaps"} <= resources
    assert "KAFKAOPS_NAMESPACES" not in env_of(deployment_of(docs))


def test_namespaced_rbac_is_a_role_per_watched_namespace_and_only_crd_and_kafkacluster_access_cluster_wide(helm):
    docs = manifests(render(helm, values=values("namespaced")))
    own = ("kafkaops-system", "default")  # the release namespace's Roles; KafkaClusters' Events in default
    roles = [r for r in of_kind(docs, "Role") if r["metadata"]["namespace"] not in own]
    bindings = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["namespace"] not in own]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(b["subjects"][0]["namespace"] == "kafkaops-system" for b in bindings)
    (cluster_role,) = [role for role in of_kind(docs, "ClusterRole") if not aggregated(role)]
    assert cluster_role["rules"] == [{"apiGroups": ["apiextensions.k8s.io"],
                                      "resources": ["customresourcedefinitions"],
                                      "verbs": ["list", "watch"]},
                                     {"apiGroups": ["kafkaops.io"], "resources": ["kafkaclusters"],
                                      "verbs": ["list", "watch"]},
                                     {"apiGroups": ["kafkaops.io"], "resources": ["kafkaclusters/status"],
                                      "verbs": ["patch"]}]
    env = env_of(deployment_of(docs))
    assert env["KAFKAOPS_NAMESPACES"]["value"] == "team-a,team-b"
    assert env["KAFKAOPS_LOG_FORMAT"]["value"] == "json"


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_the_pod_is_restricted_and_probed(helm, values_file):
    deployment = deployment_of(manifests(render(helm, values=values_file)))
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 65532
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert container["args"] == ["run", "--liveness", "http://0.0.0.0:8080/healthz"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == 8080
    assert ports["metrics"] == int(env_of(deployment)["KAFKAOPS_METRICS_PORT"]["value"])


def test_two_replicas_one_leading_by_default(helm):
    docs = manifests(render(helm, values=values("default")))
    deployment = deployment_of(docs)
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    env = env_of(deployment)
    assert env["KAFKAOPS_LEADER_ELECTION"]["value"] == "true"
    assert env["KAFKAOPS_LEASE_NAME"]["value"] == "kafkaops-leader"
    assert env["KAFKAOPS_LEASE_NAMESPACE"]["value"] == "kafkaops-system"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    (budget,) = of_kind(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == spec["selector"]
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_the_lease_role_is_the_release_namespace_and_names_the_lease_where_rbac_can(helm):
    docs = manifests(render(helm, values=values("namespaced")))
    (role,) = [r for r in of_kind(docs, "Role") if r["metadata"]["name"] == "kafkaops-leader-election"]
    assert role["metadata"]["namespace"] == "kafkaops-system"
    assert role["rules"] == [  # "create" cannot be limited by resourceNames: the name is not known yet
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["kafkaops-leader"],
         "verbs": ["get", "update"]}]
    (binding,) = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["name"] == "kafkaops-leader-election"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == "kafkaops-system"


def test_one_replica_without_leader_election_is_recreated_and_has_no_lease(helm):
    docs = manifests(render(helm, "--set", "kafka.bootstrapServers=k:9092", "--set", "replicaCount=1",
                            "--set", "leaderElection.enabled=false"))
    spec = deployment_of(docs)["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert "KAFKAOPS_LEADER_ELECTION" not in env_of(deployment_of(docs))
    roles = [r["metadata"]["name"] for r in of_kind(docs, "Role")]
    assert roles == ["kafkaops-cluster-secrets"] and not of_kind(docs, "PodDisruptionBudget")


def test_an_affinity_given_replaces_the_default_anti_affinity(helm):
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}]}}}
    docs = manifests(render(helm, "--set", "kafka.bootstrapServers=k:9092", "--set-json",
                            f"affinity={json.dumps(affinity)}"))
    assert deployment_of(docs)["spec"]["template"]["spec"]["affinity"] == affinity


def test_sasl_and_tls_come_from_existing_secrets_by_reference_only(helm):
    text = render(helm, values=values("secure-monitoring"))
    docs = manifests(text)
    assert not of_kind(docs, "Secret")
    deployment = deployment_of(docs)
    env = env_of(deployment)
    assert env["KAFKAOPS_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["KAFKAOPS_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["KAFKAOPS_KAFKA_SASL_USERNAME"] == {
        "name": "KAFKAOPS_KAFKA_SASL_USERNAME",
        "valueFrom": {"secretKeyRef": {"name": "kafka-credentials", "key": "user"}}}
    assert env["KAFKAOPS_KAFKA_SASL_PASSWORD"] == {
        "name": "KAFKAOPS_KAFKA_SASL_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "kafka-credentials", "key": "password"}}}
    assert env["KAFKAOPS_KAFKA_SSL_CA_LOCATION"]["value"] == "/etc/kafkaops/kafka-tls/ca.crt"
    assert env["KAFKAOPS_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"]["value"] == "https"
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "kafka-tls", "secret": {"secretName": "kafka-ca", "items": [{"key": "ca.pem", "path": "ca.crt"}]}
            } in pod["volumes"]
    (container,) = pod["containers"]
    assert {"name": "kafka-tls", "mountPath": "/etc/kafkaops/kafka-tls", "readOnly": True} in container["volumeMounts"]


def test_monitoring_objects_only_when_enabled(helm):
    default = manifests(render(helm, values=values("default")))
    assert not {"ServiceMonitor", "PrometheusRule", "ConfigMap"} & {d["kind"] for d in default}
    (service,) = of_kind(default, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]

    docs = manifests(render(helm, values=values("secure-monitoring")))
    (monitor,) = of_kind(docs, "ServiceMonitor")
    (service,) = of_kind(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (rule,) = of_kind(docs, "PrometheusRule")
    shipped_groups = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text()) or []
    assert rule["spec"]["groups"] == shipped_groups  # verbatim: Prometheus' {{ $labels }} untouched by helm
    (dashboard,) = of_kind(docs, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "files" / "dashboard.json").read_text())
    assert json.loads(dashboard["data"]["kafkaops.json"]) == shipped


def test_lag_granularity_reaches_the_operator(helm):
    default = env_of(deployment_of(manifests(render(helm, values=values("default")))))
    assert default["KAFKAOPS_LAG_GRANULARITY"]["value"] == "partition"
    docs = manifests(render(helm, "--set", "metrics.lagGranularity=topic", values=values("default")))
    assert env_of(deployment_of(docs))["KAFKAOPS_LAG_GRANULARITY"]["value"] == "topic"


@pytest.mark.parametrize(("args", "message"), [
    ((), "bootstrapServers"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "replicas=2"), "additional properties 'replicas'"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "replicaCount=0"), "replicaCount"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "leaderElection.enabled=false"), "leaderElection/enabled"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "rbac.clusterWide=false"), "watchNamespaces"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "logFormat=xml"), "logFormat"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "kafka.securityProtocol=TLS"), "securityProtocol"),
    (("--set", "kafka.bootstrapServers=k:9092", "--set", "metrics.lagGranularity=group"), "lagGranularity"),
])
def test_the_schema_refuses_bad_values(helm, args, message):
    result = run_helm(helm, "template", "x", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


NUMBERS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


def test_the_readme_rbac_block_is_what_helm_renders(helm):
    """The README shows the default ClusterRole; it must never claim less (or more) than the chart grants."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"\*\*RBAC\.\*\*.*?```yaml\n(.*?)```", readme, re.S)
    assert block, "no RBAC block in README.md"
    docs = manifests(render(helm, values=values("default")))
    (cluster_role,) = [role for role in of_kind(docs, "ClusterRole") if not aggregated(role)]
    assert yaml.safe_load(block.group(1)) == cluster_role["rules"]


def test_the_readme_counts_the_crds_the_chart_installs(helm):
    crds = of_kind(manifests(render(helm, values=values("default"), crds=True)), "CustomResourceDefinition")
    assert len(crds) == len(list((REPO / "crds").glob("*.yaml")))
    readme = (REPO / "README.md").read_text()
    counted = set(re.findall(r"\b(three|four|five|six|seven) CRDs\b", readme))
    assert counted <= {NUMBERS[len(crds)]}, counted


def rendered_notes(helm, tmp_path: Path, *args: str) -> str:
    """NOTES.txt as ``helm install`` prints it (helm template skips it, and a client-side dry-run
    install still asks a cluster for its version): a copy of the chart with one template that
    includes it."""
    chart = tmp_path / "kafkaops"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "zz-notes.yaml").write_text(
        'notes: |\n{{ include "kafkaops/templates/NOTES.txt" . | indent 2 }}\n')
    text = run_helm(helm, "template", "kafkaops", str(chart), "--namespace", "kafkaops-system", "-f",
                    str(values("default")), *args, "--show-only", "templates/zz-notes.yaml").stdout
    return yaml.safe_load(text)["notes"]


def test_notes_tell_how_to_check_the_install_with_names_the_chart_renders(helm, tmp_path):
    notes = rendered_notes(helm, tmp_path, "--set", "metrics.port=9191")
    docs = manifests(render(helm, "--set", "metrics.port=9191", values=values("default")))
    pod_labels = deployment_of(docs)["spec"]["template"]["metadata"]["labels"]
    selector = re.search(r"get pods -l (\S+)", notes).group(1)
    assert dict(pair.split("=") for pair in selector.split(",")).items() <= pod_labels.items()
    (service,) = of_kind(docs, "Service")
    assert f"svc/{service['metadata']['name']} 9191:9191" in notes
    assert service["spec"]["ports"][0]["port"] == 9191 and "localhost:9191/metrics" in notes
    heredoc = notes.split("<<'YAML'\n")[1].split("YAML\n")[0]
    manifest = yaml.safe_load(textwrap.dedent(heredoc.rsplit("\n", 1)[0]))
    assert manifest["kind"] == "KafkaTopic"
    assert f"kubectl wait --for=condition=Ready --timeout=60s kafkatopic/{manifest['metadata']['name']}" in notes
