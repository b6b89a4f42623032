"""The chart installed for real with helm into a control plane of this module's own (kwok fakes the pods as
Running; nothing executes them), with the built image's name: install, upgrade, uninstall, and afterwards
nothing of the release is left but the CRDs (Helm never deletes a chart's ``crds/``).

No ``helm test``: under kwok a test hook Pod is marked Succeeded without any container running, so it would
prove nothing. What a hook would check (the operator answers on its ports, from the image, as the chart's
ServiceAccount) is proven by test_image.py, which runs the image itself."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from support import KUBECTL

from chart_render import CHART, RELEASE, RELEASE_NAMESPACE, run_helm
from helpers import eventually
from kafkaops.harness.kube import KubeCluster, start_kube

pytestmark = pytest.mark.e2e

# Written by the control plane itself all the time, whoever is installed.
CHURN = {"events", "events.events.k8s.io", "leases.coordination.k8s.io", "componentstatuses"}
# The CRDs, and the APIService the API server registers for their group by itself.
CRDS = {("CustomResourceDefinition", "", yaml.safe_load(path.read_text())["metadata"]["name"])
        for path in (CHART / "crds").glob("*.yaml")} | {("APIService", "", "v1alpha1.kafkaops.io")}
Kubectl = Callable[..., str]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    cluster = start_kube(workdir=tmp_path_factory.mktemp("chart-install"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def kubectl(cluster: KubeCluster) -> Kubectl:
    def run(*args: str) -> str:
        result = subprocess.run([KUBECTL, "--kubeconfig", str(cluster.kubeconfig), *args], capture_output=True,
                                text=True, timeout=180, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout
    return run


def everything(kubectl: Kubectl) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every object the API server lists, but the control plane's own churn."""
    kinds = [k for k in kubectl("api-resources", "--verbs=list", "-o", "name").split() if k not in CHURN]
    items = json.loads(kubectl("get", ",".join(kinds), "--all-namespaces", "-o", "json"))["items"]
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items}


def settled(kubectl: Kubectl) -> set[tuple[str, str, str]] | None:
    """Everything, once the controllers have made what a fresh control plane makes by itself (the
    ``kubernetes`` Service, every namespace's ``default`` ServiceAccount)."""
    now = everything(kubectl)
    namespaces = {name for kind, _, name in now if kind == "Namespace"}
    made = {("Service", "default", "kubernetes")} | {("ServiceAccount", ns, "default") for ns in namespaces}
    return now if made <= now else None


def test_install_upgrade_uninstall_leaves_only_the_crds(helm: Path, cluster, kubectl, image):
    repository, tag = image.rsplit(":", 1)
    kubectl("create", "namespace", RELEASE_NAMESPACE)  # as the README's install steps do
    before = eventually(lambda: settled(kubectl), timeout=60, what="the fresh control plane's own objects in place")

    install = [RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--wait", "--timeout", "3m",
               "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
               "--set", "kafka.bootstrapServers=kafka-0.kafka:9092"]
    run_helm(helm, "--kubeconfig", str(cluster.kubeconfig), "install", *install)
    deployment = json.loads(kubectl("get", "deployment", RELEASE, "-n", RELEASE_NAMESPACE, "-o", "json"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"] == 2  # kwok's pods
    installed = everything(kubectl) - before
    assert installed >= CRDS
    assert {("ServiceAccount", RELEASE_NAMESPACE, RELEASE), ("ClusterRole", "", RELEASE),
            ("ClusterRoleBinding", "", RELEASE), ("Service", RELEASE_NAMESPACE, f"{RELEASE}-metrics")} <= installed

    run_helm(helm, "--kubeconfig", str(cluster.kubeconfig), "upgrade", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE,
             "--reuse-values", "--set", "logFormat=json", "--wait", "--timeout", "3m")
    deployment = json.loads(kubectl("get", "deployment", RELEASE, "-n", RELEASE_NAMESPACE, "-o", "json"))
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KAFKAOPS_LOG_FORMAT"] == "json"
    history = json.loads(run_helm(helm, "--kubeconfig", str(cluster.kubeconfig), "history", RELEASE,
                                  "-n", RELEASE_NAMESPACE, "-o", "json").stdout)
    assert [r["status"] for r in history] == ["superseded", "deployed"]

    run_helm(helm, "--kubeconfig", str(cluster.kubeconfig), "uninstall", RELEASE, "-n", RELEASE_NAMESPACE,
             "--wait", "--timeout", "3m")
    # ReplicaSets and pods go by garbage collection, after helm returns.
    seen: list[set[tuple[str, str, str]]] = [set()]

    def only_the_crds_added() -> bool:
        seen[0] = everything(kubectl)
        return seen[0] - before == CRDS
    try:
        eventually(only_the_crds_added, timeout=120, interval=1, what="nothing of the release left but the CRDs")
    except AssertionError as error:
        raise AssertionError(f"{error}\nadded: {seen[0] - before - CRDS}\ngone: {before - seen[0]}") from None
    assert before <= seen[0]
