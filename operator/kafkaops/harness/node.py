"""A real node beside kwok's fake one: containerd and a kubelet as harness services, so that pods from
the project's image really run (``harness up --real-node``, the real-node e2e).

Everything lives under the cluster's work directory (containerd's root, state, socket and shim sockets,
the kubelet's root, pod logs and volume plugins); nothing listens on anything but loopback. Loopback-only
choices, because the network rule allows no other address:

* ``--node-ip 127.0.0.1`` is refused by the kubelet, and without it the kubelet would report the default
  route's address. With ``--cloud-provider=external`` and no node IP it reports only a ``Hostname``
  address; the node is called ``localhost`` and the API server dials ``Hostname`` addresses only
  (``--kubelet-preferred-address-types`` in ``kube.py``), so logs and exec reach the kubelet on 127.0.0.1.
* Pods use ``hostNetwork: true``; the CNI config holds only the ``loopback`` plugin, which is enough for
  the runtime to report its network ready.
* The sandbox (pause) image cannot be pulled: a tiny static Go program that waits for a signal is built
  once and imported as a one-layer image, pinned as containerd's sandbox image.

The node keeps a ``kafkaops.io/node=real:NoSchedule`` taint, so the kwok-backed tests never land a pod
there; pods meant for it select ``kafkaops.io/node: real`` and tolerate the taint (``REAL_NODE_POD``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kafkaops.harness.debian import apt_install
from kafkaops.harness.gobuild import ensure_node_binaries, go_env, node_bin_dir
from kafkaops.harness.image import IMAGE
from kafkaops.harness.procs import HarnessError, Service, free_port, progress, run_logged

if TYPE_CHECKING:
    from kafkaops.harness.kube import KubeCluster

NODE_NAME = "localhost"  # resolves to 127.0.0.1 everywhere: the API server reaches the kubelet on loopback
NODE_LABEL = ("kafkaops.io/node", "real")
PAUSE_IMAGE = "localhost/kafkaops-pause:harness"
HOST_PACKAGES = {"runc": Path("/usr/sbin/runc"), "containernetworking-plugins": Path("/usr/lib/cni/loopback")}
# What a pod spec adds to run on the real node (and only there).
REAL_NODE_POD: dict[str, Any] = {
    "nodeSelector": {NODE_LABEL[0]: NODE_LABEL[1]},
    "tolerations": [{"key": NODE_LABEL[0], "operator": "Equal", "value": NODE_LABEL[1], "effect": "NoSchedule"}],
    "hostNetwork": True,
}
PAUSE_GO = """package main

import (
\t"os"
\t"os/signal"
\t"syscall"
)

// The pod sandbox's process: it holds the pod's namespaces until it is told to stop.
func main() {
\tstop := make(chan os.Signal, 1)
\tsignal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
\t<-stop
}
"""


def ensure_host_packages() -> None:
    """runc and the CNI plugins from Debian, installed when missing (as the image toolchain is)."""
    missing = [name for name, path in HOST_PACKAGES.items() if not path.exists()]
    if not missing:
        return
    log = node_bin_dir().parent / "apt.log"
    progress(f"installing {' '.join(missing)} with apt-get; log {log}")
    apt_install(missing, log)


def ensure_pause_archive() -> Path:
    """A docker-archive of the sandbox image (one layer: ``/pause``), built once into the node cache."""
    archive = node_bin_dir() / "pause-image.tar"
    if archive.exists():
        return archive
    work = node_bin_dir().parent / "build" / "pause"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module kafkaops.local/pause\n\ngo 1.22\n")
    (work / "main.go").write_text(PAUSE_GO)
    binary = work / "pause"
    run_logged(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
               node_bin_dir().parent / "build.log", cwd=work, env=go_env(work), what="building pause")
    partial = archive.with_suffix(".partial")
    partial.write_bytes(pause_archive(binary.read_bytes(), PAUSE_IMAGE))
    partial.rename(archive)
    return archive


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def pause_archive(binary: bytes, tag: str) -> bytes:
    """A ``docker save``-format archive (what ``ctr images import`` reads) of a one-binary image."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        _tar_member(tar, "pause", binary, 0o755)
    layer_bytes = layer.getvalue()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_bytes).hexdigest()}"]},
    }).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        _tar_member(tar, "layer.tar", layer_bytes)
        _tar_member(tar, config_name, config)
        _tar_member(tar, "manifest.json", manifest)
    return out.getvalue()


def containerd_config(*, root: Path, state: Path, socket: Path, shim_sockets: Path, cni_conf: Path,
                      runc: Path) -> str:
    """containerd 2.x (config version 3): every path under the harness's directory but the shims' sockets
    (whose directory may have at most 42 characters), the CRI plugin on runc with cgroupfs, the local pause
    image, and no NRI socket in /var/run. The oom_score_adj is capped at containerd's own: this VM refuses
    the sandbox's -998 ("failed to update /proc/self/oom_score_adj: Permission denied")."""
    runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return f"""version = 3
root = '{root}'
state = '{state}'

[grpc]
  address = '{socket}'

[ttrpc]
  address = '{socket}.ttrpc'

[plugins]
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{PAUSE_IMAGE}'
  [{runtime}]
    restrict_oom_score_adj = true
  [{runtime}.containerd]
    default_runtime_name = 'runc'
  [{runtime}.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
  [{runtime}.containerd.runtimes.runc.options]
    BinaryName = '{runc}'
    Root = '{state / "runc"}'
    SystemdCgroup = false
  [{runtime}.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '{cni_conf}'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
  [plugins.'io.containerd.internal.v1.opt']
    path = '{root / "opt"}'
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '{shim_sockets}'
"""


LOOPBACK_CNI = {"cniVersion": "1.0.0", "name": "kafkaops-loopback", "plugins": [{"type": "loopback"}]}


def kubelet_config(*, socket: Path, port: int, healthz_port: int, pod_logs: Path, plugins: Path) -> dict[str, Any]:
    """What this VM needs (cgroup v1, swap, no QoS cgroups, no allocatable enforcement), bound to loopback
    with anonymous access allowed (nothing but loopback can reach it) and no eviction by disk use."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": "127.0.0.1", "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "failSwapOn": False, "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [], "localStorageCapacityIsolation": False,
        "containerRuntimeEndpoint": f"unix://{socket}",
        "podLogsDir": str(pod_logs), "volumePluginDir": str(plugins),
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "resolvConf": "", "staticPodPath": "",
    }


class Containerd(Service):
    """containerd, whose stop also removes what it left: the pods' tasks (which the shims would keep
    running), the shims, and the mounts under its root."""

    def __init__(self, ctr: Path, socket: Path, base: Path, shim_sockets: Path, cmd: list[str], log: Path,
                 env: dict[str, str]) -> None:
        self.ctr, self.socket, self.base, self.shim_sockets = ctr, socket, base, shim_sockets
        super().__init__("containerd", cmd, log, env=env)

    def ctr_run(self, *args: str, stdin: Any = None, timeout: float = 60) -> str:
        result = subprocess.run([str(self.ctr), "--address", str(self.socket), "-n", "k8s.io", *args],
                                stdin=stdin, capture_output=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise HarnessError(f"ctr {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode()

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(HarnessError, subprocess.TimeoutExpired):
                for task in self.ctr_run("tasks", "ls", "-q", timeout=10).split():
                    with contextlib.suppress(HarnessError, subprocess.TimeoutExpired):
                        self.ctr_run("tasks", "delete", "--force", task, timeout=15)
        super().stop(grace)
        for pid in shim_pids(self.socket):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        unmount_under(self.base)
        shutil.rmtree(self.shim_sockets, ignore_errors=True)


def shim_pids(socket: Path) -> list[int]:
    """The runc shims this containerd started (their command line names its socket): they outlive it."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if os.path.basename(args[0]) == b"containerd-shim-runc-v2" and str(socket).encode() in args:
                pids.append(int(proc.name))
    return pids


def mounts_under(base: Path, mountinfo: str) -> list[str]:
    """Mount points below ``base`` in ``/proc/self/mountinfo`` format, deepest first (so they unmount)."""
    prefix = str(base).rstrip("/") + "/"
    points = [line.split()[4].replace("\\040", " ") for line in mountinfo.splitlines() if len(line.split()) > 4]
    return sorted({p for p in points if p.startswith(prefix)}, key=lambda p: (-p.count("/"), p))


def unmount_under(base: Path) -> None:
    """Lazily unmount everything containerd and the kubelet left below ``base`` (overlays, tmpfs volumes)."""
    for point in mounts_under(base, Path("/proc/self/mountinfo").read_text()):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False, timeout=30)


def start_real_node(cluster: KubeCluster, *, image: str = IMAGE, timeout: float = 120.0) -> list[Service]:
    """Start containerd and the kubelet for ``cluster`` (appended to its services, so they stop with it,
    kubelet first), import the sandbox image and ``image``, and return once the node is Ready, labelled
    and schedulable for pods that tolerate its taint."""
    if os.geteuid() != 0:
        raise HarnessError("the real node runs containerd and a kubelet, which need root")
    started = time.monotonic()
    ensure_host_packages()
    binaries = ensure_node_binaries()
    pause = ensure_pause_archive()
    base = cluster.workdir / "node"
    socket = base / "containerd.sock"
    for sub in ("cni", "kubelet", "pod-logs", "volume-plugins"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "cni" / "10-loopback.conflist").write_text(json.dumps(LOOPBACK_CNI))
    shim_sockets = Path("/run") / f"kafkaops-{hashlib.sha256(str(base).encode()).hexdigest()[:10]}"
    config = base / "containerd.toml"
    config.write_text(containerd_config(root=base / "containerd", state=base / "containerd-state", socket=socket,
                                        shim_sockets=shim_sockets, cni_conf=base / "cni", runc=HOST_PACKAGES["runc"]))
    env = {**os.environ, "PATH": f"{binaries['containerd'].parent}:{os.environ.get('PATH', '')}"}  # the shim
    services: list[Service] = []
    try:
        containerd = Containerd(binaries["ctr"], socket, base, shim_sockets,
                                [str(binaries["containerd"]), "--config", str(config)],
                                cluster.workdir / "containerd.log", env)
        services.append(containerd)
        containerd.wait_until(lambda: bool(containerd.ctr_run("version", timeout=5)), timeout)
        progress(f"containerd ready in {time.monotonic() - started:.1f}s")
        _import(containerd, pause.open("rb"), "the pause image")
        _import_image(containerd, image)
        port, healthz = free_port(), free_port()
        kubelet_yaml = base / "kubelet.yaml"
        kubelet_yaml.write_text(json.dumps(kubelet_config(
            socket=socket, port=port, healthz_port=healthz, pod_logs=base / "pod-logs",
            plugins=base / "volume-plugins")))
        kubelet = Service("kubelet", [
            str(binaries["kubelet"]), "--config", str(kubelet_yaml), "--kubeconfig", str(cluster.kubeconfig),
            "--hostname-override", NODE_NAME, "--root-dir", str(base / "kubelet"), "--cloud-provider", "external",
            "--node-labels", "=".join(NODE_LABEL), "--register-with-taints", f"{'='.join(NODE_LABEL)}:NoSchedule",
            "--v", "1",
        ], cluster.workdir / "kubelet.log")
        services.append(kubelet)
        kubelet.wait_until(lambda: _node_ready(cluster), timeout)
        # The node-lifecycle and cloud-node controllers do not run here: lift the taints they would lift.
        cluster.request("PATCH", f"/api/v1/nodes/{NODE_NAME}", {"spec": {"taints": [
            {"key": NODE_LABEL[0], "value": NODE_LABEL[1], "effect": "NoSchedule"}]}},
            content_type="application/merge-patch+json")
    except BaseException:
        for service in reversed(services):
            service.stop()
        raise
    cluster.services.extend(services)
    progress(f"real node {NODE_NAME} Ready ({_runtime_version(cluster)}) in {time.monotonic() - started:.1f}s")
    return services


def _import(containerd: Containerd, archive: Any, what: str) -> None:
    started = time.monotonic()
    with archive:
        containerd.ctr_run("images", "import", "-", stdin=archive, timeout=300)
    progress(f"imported {what} into containerd in {time.monotonic() - started:.1f}s")


def _import_image(containerd: Containerd, image: str) -> None:
    """``podman save IMAGE | ctr images import -``: the image the harness built, under the same name."""
    if subprocess.run(["podman", "image", "exists", image], check=False, timeout=60).returncode != 0:
        raise HarnessError(f"{image} is not in podman's storage: build it first (make image)")
    save = subprocess.Popen(["podman", "save", image], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _import(containerd, save.stdout, image)
    finally:
        if save.wait(60) != 0:
            raise HarnessError(f"podman save {image} failed (exit {save.returncode})")


def _node_ready(cluster: KubeCluster) -> bool:
    node = cluster.request("GET", f"/api/v1/nodes/{NODE_NAME}")
    conditions = node.get("status", {}).get("conditions", [])  # type: ignore[union-attr]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _runtime_version(cluster: KubeCluster) -> str:
    node = cluster.request("GET", f"/api/v1/nodes/{NODE_NAME}")
    return str(node.get("status", {}).get("nodeInfo", {}).get("containerRuntimeVersion", "?"))  # type: ignore[union-attr]


@contextlib.contextmanager
def real_node(cluster: KubeCluster, image: str = IMAGE) -> Iterator[list[Service]]:
    """A real node on an already running cluster for the length of a block (an e2e module's fixture):
    stopped, kubelet first, and its services removed from the cluster's list afterwards."""
    services = start_real_node(cluster, image=image)
    try:
        yield services
    finally:
        for service in reversed(services):
            service.stop()
            cluster.services.remove(service)
        with contextlib.suppress(Exception):
            cluster.request("DELETE", f"/api/v1/nodes/{NODE_NAME}")
