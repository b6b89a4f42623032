"""A Kubernetes control plane of a test module's own, for tests that start, kill, freeze or restart
operators without disturbing the session's ``operator`` (which keeps serving the session cluster).

Its API clients are made from its kubeconfig with ``new_client_from_config``, never ``load_kube_config``:
the kubernetes client's default configuration is global and belongs to the session cluster."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from installed import OperatorProcess, install_chart_identity, service_account_kubeconfig
from kubernetes import client, config
from support import KUBECTL, REPO

from chart_render import RELEASE_NAMESPACE
from helpers import eventually
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.procs import free_port


@dataclass
class Isolated:
    """``kube``: the control plane (etcd, API server, controller-manager; no pods). ``api``, ``core``,
    ``apps``, ``coordination``: admin clients on it. ``kubeconfig``: the chart ServiceAccount's, which
    the operators use. ``start_operator`` runs ``command`` (the installed wheel's ``kafkaops``, or the image
    under podman) as ``kafkaops run``."""

    kube: KubeCluster
    api_client: client.ApiClient
    kubeconfig: Path
    command: list[str]
    workdir: Path
    base_env: dict[str, str]
    processes: list[OperatorProcess] = field(default_factory=list)

    @property
    def api(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api_client)

    @property
    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api_client)

    def kubectl(self, *args: str, input_text: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        """kubectl as admin on this control plane."""
        result = subprocess.run([KUBECTL, "--kubeconfig", str(self.kube.kubeconfig), *args], input=input_text,
                                capture_output=True, text=True, timeout=180, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def start_operator(self, name: str, env: dict[str, str] | None = None) -> OperatorProcess:
        """``kafkaops run`` as pod ``name`` (POD_NAME: its lease identity is ``name_<random>``), with the
        session broker, a free metrics port, the e2e settings, the Lease in the release namespace, and
        ``env`` on top (e.g. ``KAFKAOPS_LEADER_ELECTION=true``). Returns once /healthz answers 200; the
        log is ``<workdir>/<name>-<n>.log``. Operators still running when the test ends are stopped by the
        e2e conftest's teardown (``stop_operators``)."""
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        process_env = {**self.base_env, "POD_NAME": name, "KAFKAOPS_METRICS_PORT": str(free_port()), **(env or {})}
        process = OperatorProcess.start(self.command, self.kubeconfig, process_env, log)
        self.processes.append(process)
        return process

    def stop_operators(self) -> None:
        """Stop every operator still running (frozen ones too): what each test's teardown does, so that
        a test that failed half-way leaves the next one no operator holding the lease."""
        for process in self.processes:
            if process.alive():
                process.process.send_signal(signal.SIGCONT)  # a frozen one could not handle SIGTERM
                with contextlib.suppress(AssertionError):  # killed by stop(); its test reports what matters
                    process.stop(timeout=20)

    def stop(self) -> None:
        self.stop_operators()
        self.api_client.close()
        self.kube.stop()


def isolated_world(bootstrap_servers: str, helm: Path, command: list[str], workdir: Path, env: dict[str, str]
                   ) -> Isolated:
    """A control plane of its own with the CRDs established and the chart's identity installed, whose
    operators run ``command`` with ``env`` against ``bootstrap_servers``; the caller stops it."""
    cluster = start_kube(workdir=workdir / "kube", with_pods=False, audit=True)
    try:
        admin = config.new_client_from_config(config_file=str(cluster.kubeconfig), persist_config=False)
        world = Isolated(cluster, admin, workdir / "kubeconfig", command, workdir,
                         {**env, "KAFKAOPS_BOOTSTRAP_SERVERS": bootstrap_servers,
                          "KAFKAOPS_LEASE_NAMESPACE": RELEASE_NAMESPACE})
        # Every post-start hook done, RBAC's bootstrap roles included (a fresh ServiceAccount needs
        # system:basic-user for `kubectl auth whoami`).
        eventually(lambda: world.kubectl("get", "--raw", "/readyz", check=False).stdout.strip() == "ok",
                   timeout=60, what="the isolated API server's /readyz")
        world.kubectl("apply", "-f", str(REPO / "crds"))
        world.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io",
                      "crd/consumerapps.kafkaops.io")
        account = install_chart_identity(helm, bootstrap_servers, world.kubectl)
        service_account_kubeconfig(account, cluster.server, cluster.pki.ca, world.kubeconfig, world.kubectl)
    except BaseException:
        cluster.stop()
        raise
    return world
