"""The operator as it is shipped: the repository's wheel installed into a clean virtual environment
(what the Dockerfile's second stage does), or the image itself under podman, run as ``kafkaops run`` (the
image's entrypoint) in a subprocess that authenticates as the Helm chart's ServiceAccount, with only the
chart's RBAC."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from support import REPO, kubectl

from chart_render import RELEASE, RELEASE_NAMESPACE, manifests, render
from helpers import eventually
from kafkaops.harness.procs import free_port, tail


def build_clean_install(workdir: Path) -> Path:
    """Build the wheel from a copy of exactly what the Dockerfile copies, install it alone into a new
    venv; return the venv's ``kafkaops`` executable."""
    source, wheels, venv = workdir / "src", workdir / "wheels", workdir / "venv"
    source.mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "operator", source / "operator", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)], check=True, timeout=600)
    (wheel,) = wheels.glob("kafkaops-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q", "install",
                    str(wheel)], check=True, timeout=900)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import kafkaops; print(kafkaops.__file__)"],
                           capture_output=True, text=True, check=True, cwd=workdir).stdout.strip()
    assert Path(where).is_relative_to(venv), f"kafkaops imported from {where}, not from the clean venv"
    return venv / "bin" / "kafkaops"


def _hard_limit(which: int, cap: int | None = None) -> int:
    """The hard limit, at most ``cap``; -1 (podman's unlimited) for none."""
    hard = resource.getrlimit(which)[1]
    if hard == resource.RLIM_INFINITY:
        return cap if cap is not None else -1
    return min(hard, cap) if cap is not None else hard


def podman_command(image: str, name: str, read_only_files: Sequence[Path]) -> list[str]:
    """What stands for ``kafkaops`` to run it from ``image`` as the chart's pod runs it: UID 65532, read-only
    root filesystem, a tmpfs at /tmp (the chart's emptyDir), no capabilities, no privilege escalation; on the
    host's network (the harness listens on loopback), with ``read_only_files`` (kubeconfig, CA) mounted at
    the same paths and the ``KAFKAOPS_*``, ``KUBECONFIG`` and ``POD_NAME`` variables passed through. runc,
    because crun refuses this VM's mixed cgroup layout; the rlimits are the host's hard limits, because
    podman's defaults exceed them and not even root may raise them. podman forwards SIGTERM to the
    container, so ``OperatorProcess.stop`` stops it as the kubelet would."""
    # This VM refuses an nproc limit above kernel.pid_max, whatever the hard limit says.
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    nofile, nproc = _hard_limit(resource.RLIMIT_NOFILE), _hard_limit(resource.RLIMIT_NPROC, pid_max)
    ulimits = ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]
    mounts = [arg for path in read_only_files for arg in ("--volume", f"{path}:{path}:ro")]
    return ["podman", "run", "--rm", "--name", name, "--runtime", "runc", "--network", "host", *ulimits,
            "--read-only", "--tmpfs", "/tmp:rw,mode=1777", "--cap-drop=ALL", "--security-opt", "no-new-privileges",
            "--user", "65532:65532", *mounts, "--env", "KAFKAOPS_*", "--env", "KUBECONFIG", "--env", "POD_NAME",
            "--env", "PYTHONFAULTHANDLER", image]


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def install_chart_identity(helm: Path, bootstrap_servers: str, kubectl: Kubectl = kubectl) -> str:
    """Apply the chart's ServiceAccount, ClusterRole and ClusterRoleBinding, and the Roles and
    RoleBindings for the leader Lease and the KafkaClusters' Secrets (as admin, with ``kubectl``);
    return the ServiceAccount's name."""
    kubectl("create", "namespace", RELEASE_NAMESPACE, check=False)
    text = render(helm, "--set", f"kafka.bootstrapServers={bootstrap_servers}",
                  "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml")
    kinds = sorted(doc["kind"] for doc in manifests(text))
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "Role", "RoleBinding", "RoleBinding",
                     "ServiceAccount"], kinds
    kubectl("apply", "-f", "-", input_text=text)
    (account,) = [doc["metadata"]["name"] for doc in manifests(text) if doc["kind"] == "ServiceAccount"]
    return str(account)


def service_account_kubeconfig(account: str, server: str, ca: Path, path: Path, kubectl: Kubectl = kubectl,
                               namespace: str = RELEASE_NAMESPACE) -> Path:
    """A kubeconfig holding a TokenRequest-API token of the ServiceAccount (no client certificate)."""
    token = kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": RELEASE,
        "clusters": [{"name": "harness", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": RELEASE, "context": {"cluster": "harness", "user": account}}],
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    who = kubectl("--kubeconfig", str(path), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert who.stdout == f"system:serviceaccount:{namespace}:{account}", who.stdout
    return path


@dataclass(eq=False)
class OperatorProcess:
    """``kafkaops run`` in a subprocess; its output goes to ``log``. ``started`` holds every one this
    test session started, so that the e2e conftest can find one a test left running."""

    process: subprocess.Popen[bytes]
    log: Path
    liveness: str
    started: ClassVar[list[OperatorProcess]] = []

    @classmethod
    def start(cls, command: Sequence[str], kubeconfig: Path, env: dict[str, str], log: Path) -> OperatorProcess:
        """``command`` stands for ``kafkaops``: the installed executable, or ``podman_command(...)``."""
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        child_env = {key: value for key, value in os.environ.items()
                     if key not in ("PYTHONPATH", "VIRTUAL_ENV") and not key.startswith("KAFKAOPS_")}
        child_env.update(env, KUBECONFIG=str(kubeconfig), PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
                         PYTHONFAULTHANDLER="1")
        with log.open("wb") as out:
            process = subprocess.Popen([*command, "run", "--liveness", liveness], stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env,
                                       cwd=log.parent)
        started = cls(process, log, liveness)
        cls.started.append(started)
        eventually(started.live, timeout=60, interval=0.5, what=f"the operator's liveness endpoint {liveness}")
        return started

    def alive(self) -> bool:
        return self.process.poll() is None

    def live(self) -> bool:
        if not self.alive():
            raise AssertionError(f"the operator exited with {self.process.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(self.liveness, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def probe(self, path: str) -> tuple[int, str]:
        """(status, body) of our health server's ``/healthz`` or ``/readyz``; (0, why) when it does not answer."""
        url = self.liveness.rsplit("/", 1)[0] + path
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode().strip()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode().strip()
        except OSError as error:
            return 0, str(error)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return tail(self.log, lines)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as the kubelet sends it; wait (bounded) for a graceful exit."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"the operator did not exit within {timeout:.0f}s of SIGTERM:\n{self.tail()}"
                                 ) from None

    def kill(self) -> None:
        """SIGKILL, as an OOM kill or a lost node does: no clean-up of any kind."""
        self.process.kill()
        self.process.wait(timeout=10)

    def denials(self) -> list[str]:
        """Log lines where the authorizer refused the operator something (RBAC too narrow): the API
        server says 'User "system:serviceaccount:NS:NAME" cannot VERB resource ...'. (Other 403s,
        such as writing into a terminating namespace, are not about RBAC.)"""
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if "system:serviceaccount:" in line and " cannot " in line]
