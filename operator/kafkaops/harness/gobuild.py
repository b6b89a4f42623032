"""Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok from the Go
module proxy, cached by version under ``<cache>/kube/<version>/bin``; and helm (for the chart's
tests) under ``<cache>/helm/<version>/bin``.

``go install k8s.io/kubernetes/cmd/...@v1.X.Y`` cannot work: the kubernetes go.mod points its
staging modules (``k8s.io/api`` ... all ``v0.0.0``) at local paths. A throwaway wrapper module
that requires ``k8s.io/kubernetes`` and replaces every staging module with its published
``v0.X.Y`` tag resolves them (kubernetes issue 79384). etcd gets the same treatment because
its server module also carries local replace directives.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from kafkaops.harness.procs import HarnessError, cache_root, progress, run_logged

KUBERNETES_VERSION = os.environ.get("KAFKAOPS_KUBE_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("KAFKAOPS_ETCD_VERSION", "v3.6.14")
KWOK_VERSION = os.environ.get("KAFKAOPS_KWOK_VERSION", "v0.7.0")
HELM_VERSION = os.environ.get("KAFKAOPS_HELM_VERSION", "v3.21.4")
CONTAINERD_VERSION = os.environ.get("KAFKAOPS_CONTAINERD_VERSION", "v2.4.2")
CONTAINERD_COMMANDS = ("containerd", "ctr", "containerd-shim-runc-v2")

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def bin_dir() -> Path:
    return cache_root() / "kube" / f"{KUBERNETES_VERSION}-etcd{ETCD_VERSION}-kwok{KWOK_VERSION}" / "bin"


def binaries() -> dict[str, Path]:
    names = (*KUBE_COMMANDS, "etcd", "kwok")
    return {name: bin_dir() / name for name in names}


def go_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    env.setdefault("GOPATH", str(Path.home() / "go"))
    env["GOWORK"] = "off"
    env["PWD"] = str(work)
    return env


def _module_file(version: str, module: str = "k8s.io/kubernetes") -> Path:
    """The go.mod of ``module@version``, fetched through the module proxy."""
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                         capture_output=True, text=True, check=False, env=go_env(Path.cwd()))
    if out.returncode != 0:
        raise HarnessError(f"go mod download {module}@{version} failed:\n{out.stdout}{out.stderr}")
    match = re.search(r'"GoMod":\s*"([^"]+)"', out.stdout)
    if not match:
        raise HarnessError(f"no GoMod path in: {out.stdout}")
    return Path(match.group(1))


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """Modules the kubernetes go.mod redirects to ./staging (all must be replaced)."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", kubernetes_gomod, re.M)))


def kube_wrapper_gomod(version: str, kubernetes_gomod: str) -> str:
    staging_version = "v0." + version.removeprefix("v1.")
    replaces = "\n".join(f"\t{m} => {m} {staging_version}" for m in staging_modules(kubernetes_gomod))
    go_line = re.search(r"^go (\S+)$", kubernetes_gomod, re.M)
    return (f"module kafkaops.local/kubebuild\n\ngo {go_line.group(1) if go_line else '1.26'}\n\n"
            f"require k8s.io/kubernetes {version}\n\nreplace (\n{replaces}\n)\n")


def _version_ldflags(version: str) -> str:
    major, minor = version.removeprefix("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    return " ".join(flags)


def _build_kubernetes(target: Path, work: Path, log: Path) -> None:
    """All the kube commands in one ``go build``: the packages they share are compiled once and the
    compiler's work for two commands overlaps on both cores, instead of one command after the other."""
    work.mkdir(parents=True, exist_ok=True)
    gomod = _module_file(KUBERNETES_VERSION).read_text()
    (work / "go.mod").write_text(kube_wrapper_gomod(KUBERNETES_VERSION, gomod))
    (work / "go.sum").touch()
    progress(f"building {', '.join(KUBE_COMMANDS)} {KUBERNETES_VERSION} in one go build "
             "(cold: several minutes on 2 cores)")
    started = time.monotonic()
    run_logged(["go", "build", "-trimpath", "-ldflags", _version_ldflags(KUBERNETES_VERSION),
                "-o", f"{target}/", *(f"k8s.io/kubernetes/cmd/{command}" for command in KUBE_COMMANDS)],
               log, cwd=work, env=go_env(work), what=f"building {', '.join(KUBE_COMMANDS)}")
    progress(f"built {', '.join(KUBE_COMMANDS)} in {time.monotonic() - started:.0f}s")


def _build_etcd(target: Path, work: Path, log: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(f"module kafkaops.local/etcdbuild\n\ngo 1.24\n\n"
                                 f"require go.etcd.io/etcd/server/v3 {ETCD_VERSION}\n")
    (work / "go.sum").touch()
    progress(f"building etcd {ETCD_VERSION}")
    started = time.monotonic()
    run_logged(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(target / "etcd"),
                "go.etcd.io/etcd/server/v3"], log, cwd=work, env=go_env(work), what="building etcd")
    progress(f"built etcd in {time.monotonic() - started:.0f}s")


def _build_kwok(target: Path, log: Path) -> None:
    env = go_env(Path.cwd())
    env["GOBIN"] = str(target)
    progress(f"building kwok {KWOK_VERSION}")
    started = time.monotonic()
    run_logged(["go", "install", "-trimpath", "-ldflags", "-s -w",
                f"sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}"], log, env=env, what="building kwok")
    progress(f"built kwok in {time.monotonic() - started:.0f}s")


def ensure_kube_binaries() -> dict[str, Path]:
    """Build whatever is missing; return the paths. Idempotent and cheap when cached."""
    paths = binaries()
    if all(p.exists() for p in paths.values()):
        return paths
    if shutil.which("go") is None:
        raise HarnessError("Go is needed to build the Kubernetes control plane (go not on PATH)")
    target = bin_dir()
    target.mkdir(parents=True, exist_ok=True)
    build_root = target.parent / "build"
    log = target.parent / "build.log"
    progress(f"building the Kubernetes control plane into {target}; log {log}")
    if not paths["etcd"].exists():
        _build_etcd(target, build_root / "etcd", log)
    if not all(paths[c].exists() for c in KUBE_COMMANDS):
        _build_kubernetes(target, build_root / "kubernetes", log)
    if not paths["kwok"].exists():
        _build_kwok(target, log)
    return paths


def helm_path() -> Path:
    return cache_root() / "helm" / HELM_VERSION / "bin" / "helm"


def helm_ldflags(version: str, helm_gomod: str) -> str:
    """What helm's Makefile sets: its version, and the Kubernetes version ``helm template`` and
    ``helm lint`` assume (from the client-go it is built with; without it they assume v1.20)."""
    client_go = re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", helm_gomod, re.M)
    if not client_go:
        raise HarnessError("no k8s.io/client-go requirement in helm's go.mod")
    flags = ["-s", "-w", f"-X helm.sh/helm/v3/internal/version.version={version}"]
    for pkg in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={client_go.group(1)}"]
    return " ".join(flags)


def go_install(path: Path, package: str, ldflags: str, what: str) -> Path:
    """``go install package`` (a module without local replace directives) so that its binary lands
    at ``path``; nothing to do when it is already there."""
    if path.exists():
        return path
    if shutil.which("go") is None:
        raise HarnessError(f"Go is needed to build {what} (go not on PATH)")
    path.parent.mkdir(parents=True, exist_ok=True)
    env = go_env(Path.cwd())
    env["GOBIN"] = str(path.parent)
    log = path.parent.parent / "build.log"
    progress(f"building {what} into {path.parent} (cold: minutes on 2 cores); log {log}")
    started = time.monotonic()
    run_logged(["go", "install", "-trimpath", "-ldflags", ldflags, package], log, env=env, what=f"building {what}")
    progress(f"built {what} in {time.monotonic() - started:.0f}s")
    return path


def ensure_helm() -> Path:
    """Build helm, cached by version."""
    path = helm_path()
    if path.exists():
        return path
    ldflags = helm_ldflags(HELM_VERSION, _module_file(HELM_VERSION, "helm.sh/helm/v3").read_text())
    return go_install(path, f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}", ldflags, f"helm {HELM_VERSION}")


def node_bin_dir() -> Path:
    """The real node's binaries (``harness up --real-node``): only built when asked for, so the
    control plane's cache stays valid and runs without a real node pay nothing."""
    return cache_root() / "node" / f"{KUBERNETES_VERSION}-containerd{CONTAINERD_VERSION}" / "bin"


def ensure_node_binaries() -> dict[str, Path]:
    """Build the kubelet (same wrapper module as the control plane, so the Go cache the control
    plane's build left makes it quick) and containerd, ctr and the runc shim (a module without
    local replace directives: ``go install``, without the storage drivers that need cgo)."""
    target = node_bin_dir()
    paths = {name: target / name for name in ("kubelet", *CONTAINERD_COMMANDS)}
    if all(p.exists() for p in paths.values()):
        return paths
    if shutil.which("go") is None:
        raise HarnessError("Go is needed to build the kubelet and containerd (go not on PATH)")
    target.mkdir(parents=True, exist_ok=True)
    log = target.parent / "build.log"
    progress(f"building the real node's kubelet and containerd into {target}; log {log}")
    if not paths["kubelet"].exists():
        work = target.parent / "build" / "kubernetes"
        work.mkdir(parents=True, exist_ok=True)
        gomod = _module_file(KUBERNETES_VERSION).read_text()
        (work / "go.mod").write_text(kube_wrapper_gomod(KUBERNETES_VERSION, gomod))
        (work / "go.sum").touch()
        progress(f"building kubelet {KUBERNETES_VERSION}")
        started = time.monotonic()
        run_logged(["go", "build", "-trimpath", "-ldflags", _version_ldflags(KUBERNETES_VERSION),
                    "-o", str(paths["kubelet"]), "k8s.io/kubernetes/cmd/kubelet"],
                   log, cwd=work, env=go_env(work), what="building kubelet")
        progress(f"built kubelet in {time.monotonic() - started:.0f}s")
    if not all(paths[c].exists() for c in CONTAINERD_COMMANDS):
        env = go_env(Path.cwd())
        env["GOBIN"] = str(target)
        module = "github.com/containerd/containerd/v2/cmd"
        progress(f"building containerd, ctr and containerd-shim-runc-v2 {CONTAINERD_VERSION}")
        started = time.monotonic()
        run_logged(["go", "install", "-trimpath", "-ldflags", "-s -w", "-tags", "no_btrfs no_zfs no_devmapper",
                    *(f"{module}/{c}@{CONTAINERD_VERSION}" for c in CONTAINERD_COMMANDS)],
                   log, env=env, what="building containerd")
        progress(f"built containerd in {time.monotonic() - started:.0f}s")
    return paths
