"""The harness's pure parts: the Go wrapper module that makes kubernetes buildable."""

from __future__ import annotations

import pytest

from kafkaops.harness.gobuild import helm_ldflags, kube_wrapper_gomod, staging_modules

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
