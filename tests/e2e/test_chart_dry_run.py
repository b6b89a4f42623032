"""The chart's rendered manifests, judged by the real API server (``kubectl apply --dry-run=server``:
schema, defaulting and admission, nothing stored). That the RBAC suffices is proven by the whole e2e
suite: its ``operator`` fixture runs the operator as the chart's ServiceAccount."""

from __future__ import annotations

import pytest
from support import REPO, kubectl

from chart_render import CI_VALUES, RELEASE_NAMESPACE, manifests, render

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "e2e" / "fixtures"


@pytest.fixture(scope="module")
def monitoring_crds(crds):
    kubectl("apply", "-f", str(FIXTURES / "monitoring-crds.yaml"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com")


@pytest.fixture(scope="module")
def target_namespaces(kubeconfig_env):
    """The release namespace and the namespaces the namespaced values file watches must exist."""
    names = [RELEASE_NAMESPACE, "team-a", "team-b"]
    for name in names:
        kubectl("create", "namespace", name, check=False)
    return names


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_every_rendered_manifest_is_accepted_by_the_api_server(helm, monitoring_crds, target_namespaces,
                                                               values_file):
    text = render(helm, values=values_file, crds=True)
    kinds = sorted({doc["kind"] for doc in manifests(text)})
    result = kubectl("apply", "--dry-run=server", "-f", "-", input_text=text, check=False)
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == len(manifests(text)), result.stdout
    assert {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service",
            "Deployment"} <= set(kinds)
