"""The harness's API server restart and request counters, on a real control plane.

A restart is what a control-plane upgrade or crash looks like to clients; tests and benchmarks rely on
the stored objects surviving it (etcd is kept), and on the API server's own counters to see what a
scenario cost it. The restart gets a control plane of its own: a restarted API server answers 403 until
its RBAC caches have synced, and the session's operator, reconnecting meanwhile, would log those as RBAC
denials, which fail the session."""

from __future__ import annotations

import uuid

import pytest

from kafkaops.harness.kube import APISERVER, KubeCluster, start_kube

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]


def test_request_counts_grow_by_the_requests_made(kube: KubeCluster):
    name = f"counted-{uuid.uuid4().hex[:8]}"
    before = kube.request_counts()
    kube.request("POST", "/api/v1/namespaces/default/configmaps",
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    for _ in range(3):
        kube.request("GET", f"/api/v1/namespaces/default/configmaps/{name}")
    kube.request("DELETE", f"/api/v1/namespaces/default/configmaps/{name}")
    grown = kube.request_counts() - before
    assert grown["POST", "configmaps", ""] >= 1
    assert grown["GET", "configmaps", ""] >= 3
    assert grown["DELETE", "configmaps", ""] >= 1


def test_restart_apiserver_keeps_the_stored_objects():
    with start_kube(with_pods=False) as kube:
        kube.request("POST", "/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"key": "value"}})
        position = [s.name for s in kube.services].index(APISERVER)
        old_pid = kube.services[position].proc.pid
        kube.restart_apiserver()
        restarted = kube.services[position]
        assert restarted.name == APISERVER and restarted.alive() and restarted.proc.pid != old_pid
        assert kube.request("GET", "/api/v1/namespaces/default/configmaps/kept")["data"] == {"key": "value"}
        assert all(s.alive() for s in kube.services)
        assert kube.request_counts()["GET", "configmaps", ""] >= 1  # counted anew by the new process
