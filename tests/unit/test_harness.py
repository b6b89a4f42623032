"""The harness's pure parts: the Go wrapper module that makes kubernetes buildable, the API server's
request counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.harness.gobuild import helm_ldflags, kube_wrapper_gomod, staging_modules
from kafkaops.harness.kube import parse_request_counts

pytestmark = pytest.mark.unit

GOMOD = """module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/other/mod => github.com/fork/mod v1.0.0
)
"""


def test_every_staging_module_is_replaced_by_its_published_tag():
    assert staging_modules(GOMOD) == ["k8s.io/api", "k8s.io/client-go"]
    wrapper = kube_wrapper_gomod("v1.36.3", GOMOD)
    assert "require k8s.io/kubernetes v1.36.3" in wrapper
    assert "\tk8s.io/api => k8s.io/api v0.36.3" in wrapper
    assert "\tk8s.io/client-go => k8s.io/client-go v0.36.3" in wrapper
    assert "github.com/fork" not in wrapper
    assert "\ngo 1.26.0\n" in wrapper


def test_helm_is_told_the_kubernetes_version_of_its_client_go():
    flags = helm_ldflags("v3.21.4", "module helm.sh/helm/v3\n\nrequire (\n\tk8s.io/client-go v0.36.2\n)\n")
    assert "-X helm.sh/helm/v3/internal/version.version=v3.21.4" in flags
    assert "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36" in flags
    assert "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1" in flags


def test_request_counts_sum_apiserver_request_total_by_verb_resource_and_subresource():
    """On an excerpt of a real kube-apiserver v1.36.3 /metrics (its neighbours' families included)."""
    counts = parse_request_counts((Path(__file__).parent / "data" / "apiserver-metrics.txt").read_text())
    assert counts["POST", "configmaps", ""] == 3  # code 201 and code 404 folded
    assert counts["GET", "namespaces", ""] == 7
    assert counts["APPLY", "servicecidrs", "status"] == 1
    assert counts["POST", "apiservices", ""] == 21
    assert counts["GET", "", "/readyz"] == 12  # non-resource paths come as subresource
    assert counts["GET", "", "openapi/v3"] == 1
    assert sum(counts.values()) == 77  # nothing from apiserver_request_timestamp_* or _resource_objects
    assert len(counts) == 15  # 19 lines; configmaps POST, namespaces GET and POST, leases POST folded
