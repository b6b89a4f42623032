"""The operator, running for real against the harness's broker and API server: the repository's wheel
installed in a clean venv, run as ``kafkaops run`` in a subprocess with the Helm chart's ServiceAccount
and ClusterRole (not system:masters), so every e2e test also proves the chart's RBAC sufficient."""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clusters import GROUP, VERSION, kafka_cluster, secret
from group_protocols import GroupProtocol
from installed import (
    OperatorProcess,
    build_clean_install,
    install_chart_identity,
    service_account_kubeconfig,
)
from isolated import Isolated, isolated_world
from kubernetes import client, config
from support import OPERATOR_ENV, REPO, Topics, kubectl

from chart_render import RELEASE_NAMESPACE
from kafka_clients import PROTOCOLS
from kafkaops.harness.image import build_image
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.kstatus import ensure_kstatus
from kafkaops.harness.kube import KubeCluster
from kafkaops.harness.procs import free_port


@pytest.fixture(scope="session")
def crds(kubeconfig_env: str) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/kafkatopics.kafkaops.io",
            "crd/consumerapps.kafkaops.io", "crd/kafkausers.kafkaops.io", "crd/kafkaaccesspolicies.kafkaops.io")


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
    process = OperatorProcess.start([str(installed_operator)], kubeconfig, env, workdir / "operator.log")
    yield process
    code = process.stop()
    assert code == 0, f"the operator exited with {code} on SIGTERM:\n{process.tail()}"
    assert not process.denials(), "the API server refused the operator (chart RBAC too narrow):\n" + "\n".join(
        process.denials()[:20])
    # Tests delete their namespaces while the operator may still be writing there: an expected refusal,
    # never an error with a traceback.
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d )", process.text())
    loud = [r for r in records if ("being terminated" in r or "NamespaceTerminating" in r)
            and (" ERROR " in r.split("\n", 1)[0] or "Traceback" in r)]
    assert not loud, "\n".join(loud[:3])


@pytest.fixture(scope="module")
def isolated(kafka: KafkaCluster, helm: Path, installed_operator: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    """A control plane of this module's own; ``isolated.start_operator(name, env)`` runs operators on it
    against the session broker. For tests that kill, freeze or restart operators."""
    workdir = tmp_path_factory.mktemp("isolated")
    world = isolated_world(kafka.bootstrap_servers, helm, [str(installed_operator)], workdir, OPERATOR_ENV)
    yield world
    world.stop()


@pytest.fixture(scope="session")
def image() -> str:
    """The operator image, built from the Dockerfile by ``make image``'s code (seconds when cached)."""
    return build_image(REPO)


@pytest.fixture(scope="session")
def kstatus() -> Path:
    """Flux's health logic (cli-utils' kstatus) as a command: JSON object in, verdict out."""
    return ensure_kstatus()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows the end of the operator's log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    process = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(process, OperatorProcess):
        report.sections.append(("operator log (last lines)", process.tail()))
    world = getattr(item, "funcargs", {}).get("isolated")
    if report.failed and isinstance(world, Isolated):
        for started in world.processes:
            report.sections.append((f"isolated operator {started.log.name} (last lines)", started.tail(40)))


@pytest.fixture(autouse=True)
def _no_operator_left_behind() -> Iterator[None]:
    """Fails (as an error of the test that did it) if an operator process the test started is still
    running after its teardown, and kills it: one failing test must never become two."""
    before = {id(p) for p in OperatorProcess.started if p.alive()}
    yield
    left = [p for p in OperatorProcess.started if p.alive() and id(p) not in before]
    for process in left:
        process.process.send_signal(signal.SIGCONT)
        process.kill()
    if left:
        pytest.fail("operator processes left running by this test (now killed): "
                    + ", ".join(p.log.name for p in left))


@pytest.fixture(autouse=True)
def _isolated_operators_stopped(_no_operator_left_behind: None, request: pytest.FixtureRequest) -> Iterator[None]:
    """The operators a test started on the module's isolated control plane are stopped when the test
    ends, however it ended: a failed assertion before ``stop()`` leaves no leader holding the lease."""
    yield
    world = request.node.funcargs.get("isolated")
    if isinstance(world, Isolated):
        world.stop_operators()


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
def prod(api, operator, secured_kafka, kube) -> Iterator[tuple[str, str]]:
    """A KafkaCluster for the secured broker, its Secrets in the operator's namespace; returns
    (KafkaCluster name, the credentials Secret's name)."""
    core = client.CoreV1Api()
    name = f"prod-{uuid.uuid4().hex[:6]}"
    security = secured_kafka.security
    secret(core, RELEASE_NAMESPACE, f"{name}-ca", {"ca.crt": security.ca_pem})
    secret(core, RELEASE_NAMESPACE, f"{name}-admin", {"username": security.admin_user,
                                                       "password": security.admin_password})
    kafka_cluster(api, name, secured_kafka, f"{name}-ca", f"{name}-admin")
    yield name, f"{name}-admin"
    try:
        api.delete_cluster_custom_object(GROUP, VERSION, "kafkaclusters", name)
    except client.ApiException as error:
        if error.status != 404:
            raise


@pytest.fixture
def topic_name() -> str:
    return f"topic_{uuid.uuid4().hex[:8]}"



@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> GroupProtocol:
    """The protocol matrix: a test that reads groups end to end runs once per group protocol."""
    return GroupProtocol(request.param)
