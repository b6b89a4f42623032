"""A real Kubernetes control plane on loopback, started the way controller-runtime's envtest
does it: etcd, kube-apiserver (RBAC, certificates made here), kube-controller-manager
(garbage collection, Deployments, namespaces, service accounts), kube-scheduler and kwok
with one fake Node, so that Deployment pods are scheduled and reported Running without a
kubelet.
"""

from __future__ import annotations

import base64
import collections
import json
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.harness.gobuild import KUBERNETES_VERSION, ensure_kube_binaries
from kafkaops.harness.node import start_real_node
from kafkaops.harness.procs import HarnessError, Service, free_port, make_workdir, progress

FAKE_NODE = "kwok-node-0"
APISERVER = "kube-apiserver"
# Audit policy: every write (who, with which User-Agent, to what, when, with which answer), no bodies; reads
# are not recorded. Tests use it to judge writes by the API server's own record rather than by log lines.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
              {"level": "None"}],
}


@dataclass
class Pki:
    ca: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def make_pki(directory: Path) -> Pki:
    """One CA that signs the apiserver's serving certificate and an admin client
    certificate (CN=admin, O=system:masters), plus the service-account signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from kafkaops.harness.tls import CertificateAuthority, private_key_pem

    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create("kafkaops-harness-ca")
    serving = ca.issue("kube-apiserver", server=True, names=(
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "127.0.0.1", "10.96.0.1"))
    admin = ca.issue("admin", server=False, organization="system:masters")
    sa_key = ec.generate_private_key(ec.SECP256R1())
    pki = Pki(*(directory / f for f in ("ca.crt", "apiserver.crt", "apiserver.key", "admin.crt",
                                        "admin.key", "sa.key", "sa.pub")))
    pki.ca.write_text(ca.certificate_pem)
    pki.serving_cert.write_text(serving.certificate_pem)
    pki.serving_key.write_text(serving.key_pem)
    pki.admin_cert.write_text(admin.certificate_pem)
    pki.admin_key.write_text(admin.key_pem)
    pki.sa_key.write_text(private_key_pem(sa_key))
    pki.sa_pub.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    for path in (pki.serving_key, pki.admin_key, pki.sa_key):
        path.chmod(0o600)
    return pki


def kubeconfig_yaml(server: str, pki: Pki, user: str = "admin") -> str:
    """An admin kubeconfig with the certificates embedded, so it works from any directory."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "kafkaops-harness",
        "clusters": [{"name": "kafkaops-harness",
                      "cluster": {"server": server, "certificate-authority-data": b64(pki.ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(pki.admin_cert),
                                          "client-key-data": b64(pki.admin_key)}}],
        "contexts": [{"name": "kafkaops-harness", "context": {"cluster": "kafkaops-harness", "user": user}}],
    }
    return json.dumps(config, indent=2)  # JSON is YAML; no extra dependency needed.


@dataclass
class KubeCluster:
    """A running control plane; ``kubeconfig`` is an admin kubeconfig file."""

    workdir: Path
    server: str
    kubeconfig: Path
    pki: Pki
    services: list[Service] = field(default_factory=list)
    audit_log: Path | None = None

    def __enter__(self) -> KubeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for service in reversed(self.services):  # kubelet, containerd, kwok, scheduler, controllers, apiserver, etcd
            service.stop()

    def request(self, method: str, path: str, body: dict[str, object] | None = None,
                content_type: str = "application/json") -> dict[str, object]:
        """A small authenticated API call used by the harness itself (readiness, the fake node)."""
        return json.loads(self._call(method, path, body, content_type) or b"{}")  # type: ignore[no-any-return]

    def request_text(self, path: str, timeout: float = 30) -> str:
        """A GET of a non-JSON endpoint (``/metrics``, ``/readyz``) with the admin certificate."""
        return self._call("GET", path, None, "text/plain", timeout).decode()

    def _call(self, method: str, path: str, body: dict[str, object] | None, content_type: str,
              timeout: float = 5) -> bytes:
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, context=context, timeout=timeout) as response:
            return response.read()  # type: ignore[no-any-return]

    def audited_writes(self) -> list[dict[str, object]]:
        """Every write the API server has answered so far, oldest first, as audit.k8s.io/v1 Events
        (``userAgent``, ``verb``, ``objectRef``, ``requestReceivedTimestamp``, ``responseStatus``...);
        only for a cluster started with ``audit=True``."""
        if self.audit_log is None:
            raise HarnessError("this control plane was started without an audit log (audit=True)")
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line.strip()]

    def request_counts(self) -> collections.Counter[tuple[str, str, str]]:
        """The API server's own count of requests it has served, by (verb, resource, subresource),
        since it started (a restart resets it): what benchmarks diff to see what a side cost."""
        return parse_request_counts(self.request_text("/metrics"))

    def restart_apiserver(self, timeout: float = 120.0) -> None:
        """Stop the kube-apiserver and start it again with the same command (ports, certificates,
        etcd and so the stored objects unchanged); return once it is ready again. Clients see what
        a control-plane upgrade or crash shows them: connections drop, watches end, then it serves."""
        index = next(i for i, s in enumerate(self.services) if s.name == APISERVER)
        old = self.services[index]
        old.stop()
        apiserver = Service(APISERVER, old.cmd, old.log)
        self.services[index] = apiserver
        _wait_for("kube-apiserver (restarted)", lambda: self.request_text("/readyz", timeout=5) == "ok",
                  apiserver, timeout)
        # A client still starting (the controller-manager reads a ConfigMap at start) exits when the API
        # server is gone; once running, they all retry. Start such a one again, as a kubelet would.
        for i, service in enumerate(self.services):
            if not service.alive():
                progress(f"{service.name} exited while the API server was down; starting it again")
                service.stop()
                self.services[i] = Service(service.name, service.cmd, service.log)


def parse_request_counts(exposition: str) -> collections.Counter[tuple[str, str, str]]:
    """Sum ``apiserver_request_total`` of a Prometheus text exposition by (verb, resource,
    subresource); codes, groups, versions and scopes are folded. Only that family's lines are
    parsed: the whole exposition is megabytes of histograms."""
    from prometheus_client.parser import text_string_to_metric_families

    lines = "\n".join(line for line in exposition.splitlines() if line.startswith("apiserver_request_total{"))
    counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for family in text_string_to_metric_families(lines + "\n"):
        for sample in family.samples:
            labels = sample.labels
            counts[labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", "")] += int(
                sample.value)
    return counts


def _wait_for(what: str, check: object, service: Service, timeout: float) -> None:
    service.wait_until(check, timeout)  # type: ignore[arg-type]
    progress(f"{what} ready")


def start_kube(*, workdir: Path | None = None, timeout: float = 120.0, with_pods: bool = True,
               audit: bool = False, real_node: bool = False) -> KubeCluster:
    """Start etcd, kube-apiserver, kube-controller-manager and (``with_pods``) kube-scheduler plus
    kwok with one fake node, and (``real_node``) containerd and a kubelet (``node.py``). Returns when
    the API serves the ``default`` namespace and the nodes are Ready. ``audit``: the API server records
    every write in ``<workdir>/audit.log``."""
    binaries = ensure_kube_binaries()
    workdir = workdir or make_workdir("kafkaops-kube-")
    started = time.monotonic()
    pki = make_pki(workdir / "pki")
    etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(kubeconfig_yaml(server, pki))
    kubeconfig.chmod(0o600)
    cluster = KubeCluster(workdir=workdir, server=server, kubeconfig=kubeconfig, pki=pki)
    audit_flags: list[str] = []
    if audit:
        policy, cluster.audit_log = workdir / "audit-policy.json", workdir / "audit.log"
        policy.write_text(json.dumps(AUDIT_POLICY))
        # JSON is YAML; "blocking": a request is answered only after its record is written.
        audit_flags = ["--audit-policy-file", str(policy), "--audit-log-path", str(cluster.audit_log),
                       "--audit-log-format", "json", "--audit-log-mode", "blocking", "--audit-log-maxsize", "0"]
    try:
        etcd = Service("etcd", [
            str(binaries["etcd"]), "--data-dir", str(workdir / "etcd"), "--name", "harness",
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"harness=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync", "--quota-backend-bytes", str(4 * 1024**3), "--log-level", "warn",
        ], workdir / "etcd.log")
        cluster.services.append(etcd)
        apiserver = Service(APISERVER, [
            str(binaries["kube-apiserver"]), "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(api_port), "--endpoint-reconciler-type", "none",
            "--cert-dir", str(workdir / "apiserver-certs"),
            "--tls-cert-file", str(pki.serving_cert), "--tls-private-key-file", str(pki.serving_key),
            "--client-ca-file", str(pki.ca), "--authorization-mode", "RBAC",
            "--service-cluster-ip-range", "10.96.0.0/24",
            "--service-account-issuer", f"{server}/",
            "--service-account-key-file", str(pki.sa_pub),
            "--service-account-signing-key-file", str(pki.sa_key),
            "--allow-privileged", "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false", "--v", "1", *audit_flags,
            # Logs and exec dial a node by its Hostname address: the real node's is localhost (node.py), so
            # the API server never reaches for another address.
            "--kubelet-preferred-address-types", "Hostname",
        ], workdir / "kube-apiserver.log")
        cluster.services.append(apiserver)
        _wait_for("kube-apiserver", lambda: bool(cluster.request("GET", "/api/v1/namespaces/default")),
                  apiserver, timeout)
        controllers = ",".join(("garbage-collector-controller", "deployment-controller",
                                "replicaset-controller", "namespace-controller",
                                "serviceaccount-controller", "serviceaccount-token-controller",
                                "clusterrole-aggregation-controller"))  # the built-in edit/view roles grow
        cluster.services.append(Service("kube-controller-manager", [
            str(binaries["kube-controller-manager"]), "--kubeconfig", str(kubeconfig),
            "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false",
            "--controllers", controllers, "--use-service-account-credentials=false",
            "--service-account-private-key-file", str(pki.sa_key), "--root-ca-file", str(pki.ca),
            "--concurrent-gc-syncs", "5", "--v", "1",
        ], workdir / "kube-controller-manager.log"))
        if with_pods or real_node:
            _start_pod_simulation(cluster, binaries, timeout)
        if real_node:
            start_real_node(cluster)
    except BaseException:
        cluster.stop()
        raise
    progress(f"Kubernetes {KUBERNETES_VERSION} ready at {server} in {time.monotonic() - started:.1f}s; "
             f"KUBECONFIG={kubeconfig}")
    return cluster


def _start_pod_simulation(cluster: KubeCluster, binaries: dict[str, Path], timeout: float) -> None:
    """kube-scheduler places pods on a fake node that kwok keeps Ready and whose pods it
    reports Running, so Deployments get real readyReplicas."""
    kubeconfig = str(cluster.kubeconfig)
    cluster.services.append(Service("kube-scheduler", [
        str(binaries["kube-scheduler"]), "--kubeconfig", kubeconfig,
        "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
        "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--leader-elect=false", "--v", "1",
    ], cluster.workdir / "kube-scheduler.log"))
    kwok = Service("kwok", [
        str(binaries["kwok"]), "--kubeconfig", kubeconfig, "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--manage-nodes-with-label-selector=", "--disregard-status-with-annotation-selector=",
        "--disregard-status-with-label-selector=", "--cidr=10.244.0.0/16", "--node-ip=10.244.0.1",
        "--node-lease-duration-seconds=40", "--server-address", f"127.0.0.1:{free_port()}",
    ], cluster.workdir / "kwok.log")
    cluster.services.append(kwok)
    cluster.request("POST", "/api/v1/nodes", {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": FAKE_NODE, "annotations": {"kwok.x-k8s.io/node": "fake"},
                     "labels": {"kubernetes.io/hostname": FAKE_NODE, "type": "kwok"}},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                   "capacity": {"cpu": "64", "memory": "256Gi", "pods": "1000"}},
    })

    def node_ready() -> bool:
        node = cluster.request("GET", f"/api/v1/nodes/{FAKE_NODE}")
        conditions = node.get("status", {}).get("conditions", [])  # type: ignore[union-attr]
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    _wait_for("kwok fake node", node_ready, kwok, timeout)
    # The API server taints a new node not-ready; the node-lifecycle controller (not run here,
    # kwok keeps the node Ready) would lift the taint. Do it, or nothing is ever scheduled.
    cluster.request("PATCH", f"/api/v1/nodes/{FAKE_NODE}", {"spec": {"taints": None}},
                    content_type="application/merge-patch+json")


def ensure_ready_or_raise(cluster: KubeCluster) -> None:
    """Used by fixtures: every component still running (a crash later would be silent otherwise)."""
    dead = [s.name for s in cluster.services if not s.alive()]
    if dead:
        raise HarnessError(f"control-plane components died: {dead}; logs in {cluster.workdir}")
