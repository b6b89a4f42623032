"""What the real node costs: pod create -> Running (p50/p95) for one pod at a time and for 10 at once, and the
resident memory of containerd, its shims and the kubelet, idle and with 10 pods. Pods run the project's image
(a Python process that waits), hostNetwork, on the node of ``kafkaops.harness.node``.

    .venv/bin/python bench/real_node.py [--single 10] [--batch 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path

from kafkaops.harness.image import IMAGE
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.node import REAL_NODE_POD, shim_pids


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(cluster: KubeCluster) -> dict[str, float]:
    services = {s.name: s for s in cluster.services}
    containerd = services["containerd"]
    return {"containerd": rss_mb(containerd.proc.pid), "kubelet": rss_mb(services["kubelet"].proc.pid),
            "shims": sum(rss_mb(p) for p in shim_pids(containerd.socket))}  # type: ignore[attr-defined]


def pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "real-node"}},
            "spec": {**REAL_NODE_POD, "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "wait", "image": IMAGE, "imagePullPolicy": "Never",
                "command": ["python", "-c", "import signal; signal.pause()"]}]}}


def run_pods(cluster: KubeCluster, count: int, timeout: float = 120) -> list[float]:
    """Create ``count`` pods at once; seconds from each create to the API showing it Running."""
    names = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    created = {}
    for name in names:
        cluster.request("POST", "/api/v1/namespaces/default/pods", pod(name))
        created[name] = time.monotonic()
    running: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(running) < count and time.monotonic() < deadline:
        listed = cluster.request("GET", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dreal-node")
        now = time.monotonic()
        for item in listed["items"]:  # type: ignore[union-attr]
            name = item["metadata"]["name"]
            if name in created and name not in running and item["status"].get("phase") == "Running":
                running[name] = now - created[name]
        time.sleep(0.05)
    if len(running) < count:
        raise RuntimeError(f"only {len(running)} of {count} pods Running after {timeout}s")
    return list(running.values())


def delete_pods(cluster: KubeCluster) -> None:
    cluster.request("DELETE", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dreal-node")
    deadline = time.monotonic() + 120
    while cluster.request("GET", "/api/v1/namespaces/default/pods?labelSelector=bench%3Dreal-node")["items"]:
        if time.monotonic() > deadline:
            raise RuntimeError("bench pods not gone after 120s")
        time.sleep(0.2)


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.2f}s p95 {p95:.2f}s (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=10, help="one-pod runs")
    parser.add_argument("--batch", type=int, default=10, help="pods created at once")
    args = parser.parse_args()
    with start_kube(real_node=True) as cluster:
        time.sleep(5)  # let the kubelet's start-up work settle before reading its memory
        idle = memory(cluster)
        single = []
        for _ in range(args.single):
            single += run_pods(cluster, 1)
            delete_pods(cluster)
        batch = run_pods(cluster, args.batch)
        loaded = memory(cluster)
        delete_pods(cluster)
    print(f"one pod at a time: {percentiles(single)}")
    print(f"{args.batch} pods at once: {percentiles(batch)}")
    for label, values in (("idle", idle), (f"with {args.batch} pods", loaded)):
        print(f"RSS {label}: " + ", ".join(f"{k} {v:.0f} MB" for k, v in values.items()))


if __name__ == "__main__":
    main()
