"""Session fixtures that start the real parts through the project's harness.

A component that cannot start makes the tests that need it fail (never skip): a green run
must mean the tests really ran against Kafka and Kubernetes.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaops.harness.kafka import KafkaCluster, start_kafka
from kafkaops.harness.kube import KubeCluster, start_kube

TIERS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration, "e2e": pytest.mark.e2e}
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries the marker of its directory (tests/unit -> unit, ...), so ``-m unit`` selects
    every unit test, including those of a new file that forgot its ``pytestmark``."""
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        if tier in TIERS:
            item.add_marker(TIERS[tier])


# pytest-repeat's id suffix: test_x[2-5] is the second of five runs.
RUN_SUFFIX = re.compile(r"(?:\[|-)(\d+)-(\d+)\]$")


class LoopReport:
    """With ``--count N`` (make flake-check): pass/fail per run and per test, printed at the end."""

    def __init__(self) -> None:
        self.outcomes: dict[int, dict[str, str]] = defaultdict(dict)
        self.runs = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        match = RUN_SUFFIX.search(report.nodeid)
        if not match or not (report.when == "call" or report.failed):
            return
        run, self.runs = int(match.group(1)), int(match.group(2))
        test = report.nodeid[:match.start()] + ("]" if match.group(0)[0] == "-" else "")
        if self.outcomes[run].get(test) != "failed":  # a failed teardown after a passed call is a failure
            self.outcomes[run][test] = "failed" if report.failed else report.outcome

    def lines(self) -> list[str]:
        tests = sorted({t for run in self.outcomes.values() for t in run})
        out = []
        for run in range(1, self.runs + 1):
            got = self.outcomes.get(run, {})
            failed = sorted(t for t, o in got.items() if o == "failed")
            out.append(f"run {run}/{self.runs}: {sum(o == 'passed' for o in got.values())} passed, "
                       f"{len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
        for test in tests:
            passed = sum(self.outcomes.get(run, {}).get(test) == "passed" for run in range(1, self.runs + 1))
            out.append(f"{passed}/{self.runs} passed  {test}")
        clean = sum(all(o == "passed" for o in self.outcomes.get(run, {"": "missing"}).values())
                    for run in range(1, self.runs + 1))
        out.append(f"flake-check: {clean} of {self.runs} runs clean")
        return out


LOOPS = LoopReport()


def _looping(config: pytest.Config) -> bool:
    return int(config.getoption("count", default=1) or 1) > 1


def pytest_configure(config: pytest.Config) -> None:
    if _looping(config):
        config.pluginmanager.register(LOOPS, "flake-check-report")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _looping(terminalreporter.config):
        terminalreporter.section("flake-check: per run and per test")
        for line in LOOPS.lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    with start_kafka(1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def secured_kafka() -> Iterator[KafkaCluster]:
    """A second cluster, as production runs them: SASL_SSL with SCRAM-SHA-512 and ACLs enforced."""
    with start_kafka(1, secured=True, acls=True) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeCluster]:
    with start_kube() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kubeconfig_env(kube: KubeCluster) -> Iterator[str]:
    """KUBECONFIG for kubectl, the kubernetes client and kopf."""
    from kubernetes.config import kube_config

    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kube.kubeconfig)
    # The client reads $KUBECONFIG once, at import; kopf's login uses that default.
    previous_default = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kube.kubeconfig)
    yield str(kube.kubeconfig)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = previous_default
    if previous is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary the harness builds (``make test`` builds it first; this builds it if missing)."""
    from kafkaops.harness.gobuild import ensure_helm

    return ensure_helm()
