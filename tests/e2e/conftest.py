"""The operator, running for real against the harness's broker and API server: the repository's wheel
installed in a clean venv, run as ``kafkaops run`` in a subprocess with the Helm chart's ServiceAccount
and ClusterRole (not system:masters), so every e2e test also proves the chart's RBAC sufficient."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed import (
    OperatorProcess,
    build_clean_install,
    install_chart_identity,
    service_account_kubeconfig,
)
from kubernetes import client, config
from support import REPO, Topics, kubectl

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.procs import free_port

# Short intervals so that drift, retries and bounded deletion show within a test's patience.
OPERATOR_ENV = {"KAFKAOPS_DRIFT_INTERVAL_SECONDS": "2", "KAFKAOPS_DELETION_TIMEOUT_SECONDS": "6",
                "KAFKAOPS_REQUEST_TIMEOUT_SECONDS": "4"}


@pytest.fixture(scope="session")
def crds(kubeconfig_env: str) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io",
            "crd/consumerapps.kafkaops.io")


@pytest.fixture(scope="session")
def api(kubeconfig_env: str) -> client.CustomObjectsApi:
    config.load_kube_config(config_file=kubeconfig_env)
    return client.CustomObjectsApi()


@pytest.fixture(scope="session")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def metrics_url(operator: OperatorProcess, metrics_port: int) -> str:
    """The running operator's Prometheus endpoint."""
    return f"http://127.0.0.1:{metrics_port}/metrics"


@pytest.fixture(scope="session")
def installed_operator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``kafkaops`` from the freshly built wheel in a clean venv (built once per session)."""
    return build_clean_install(tmp_path_factory.mktemp("installed"))


@pytest.fixture(scope="session")
def operator(kafka: KafkaCluster, kube: KubeCluster, crds: None, helm: Path, installed_operator: Path,
             metrics_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    workdir = tmp_path_factory.mktemp("operator")
    account = install_chart_identity(helm, kafka.bootstrap_servers)
    kubeconfig = service_account_kubeconfig(account, kube.server, kube.pki.ca, workdir / "kubeconfig")
    env = {**OPERATOR_ENV, "KAFKAOPS_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "KAFKAOPS_METRICS_PORT": str(metrics_port)}
    process = OperatorProcess.start(installed_operator, kubeconfig, env, workdir / "operator.log")
    yield process
    code = process.stop()
    assert code == 0, f"the operator exited with {code} on SIGTERM:\n{process.tail()}"
    assert not process.denials(), "the API server refused the operator (chart RBAC too narrow):\n" + "\n".join(
        process.denials()[:20])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows the end of the operator's log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    process = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(process, OperatorProcess):
        report.sections.append(("operator log (last lines)", process.tail()))


@pytest.fixture(autouse=True)
def _operator_still_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test after which the operator is dead fails, with the operator's last words."""
    yield
    process = request.node.funcargs.get("operator")
    if isinstance(process, OperatorProcess) and not process.alive():
        pytest.fail(f"the operator exited with {process.process.returncode}:\n{process.tail()}")


@pytest.fixture
def namespace(kubeconfig_env: str) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def topics(api, operator, namespace, kafka) -> Topics:
    return Topics(api, namespace, kafka)


@pytest.fixture
def topic_name() -> str:
    return f"topic_{uuid.uuid4().hex[:8]}"


class Isolated:
    """A control plane of its own (etcd, API server, controller-manager; no pods), with the CRDs and
    the chart's identity, for tests that restart or kill the operator, or the API server itself,
    without disturbing the session's operator. Clients are bound to it explicitly: the kubernetes
    client's default configuration is global and belongs to the session cluster."""

    def __init__(self, kube: KubeCluster, kafka: KafkaCluster, executable: Path, workdir: Path, helm: Path) -> None:
        self.kube, self.kafka, self.executable, self.workdir = kube, kafka, executable, workdir
        self.api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
        self.api = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.kubectl("apply", "-f", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io",
                     "crd/consumerapps.kafkaops.io")
        account = install_chart_identity(helm, kafka.bootstrap_servers, kubeconfig=kube.kubeconfig)
        self.operator_kubeconfig = service_account_kubeconfig(account, kube.server, kube.pki.ca,
                                                              workdir / "kubeconfig", kubeconfig=kube.kubeconfig)

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        return kubectl("--kubeconfig", str(self.kube.kubeconfig), *args, input_text=input_text).stdout

    def start_operator(self, name: str, env: dict[str, str] | None = None) -> OperatorProcess:
        """The installed wheel as the chart's ServiceAccount, logging to ``<workdir>/<name>.log``."""
        full_env = {**OPERATOR_ENV, "KAFKAOPS_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
                    "KAFKAOPS_METRICS_PORT": str(free_port()), **(env or {})}
        return OperatorProcess.start(self.executable, self.operator_kubeconfig, full_env,
                                     self.workdir / f"{name}.log")


@pytest.fixture(scope="module")
def isolated(kafka: KafkaCluster, helm: Path, installed_operator: Path, kubeconfig_env: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    with start_kube(with_pods=False) as kube:
        yield Isolated(kube, kafka, installed_operator, tmp_path_factory.mktemp("isolated"), helm)
