"""Benchmark: N KafkaTopics applied at once vs. one raw batched create_topics on the same broker.

    .venv/bin/python bench/topics.py -n 1000 --runs 3

Both sides run in the same harness (one KRaft broker, one API server), alternating per run:
- raw: one ``AdminClient.create_topics`` call with N new topics, timed until every future is done;
- operator: N KafkaTopic objects created through the API server (concurrently, like
  ``kubectl apply`` of a large directory), timed from the first create until every one is
  Ready at its generation and every topic is listed by the broker.
The operator runs as its own process (``python -m kafkaops run``) so that its peak RSS (VmHWM)
is its own. Prints per-run times, medians, the ratio and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from kubernetes import client, config, watch

from kafkaops.harness.demo import kubectl_path
from kafkaops.harness.kafka import start_kafka
from kafkaops.harness.kube import start_kube
from kafkaops.harness.procs import Service
from procstats import cpu_seconds, peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "kafkatopics"
RAW_CHUNK = 2000  # topics per raw request: 3 partitions each stays under KRaft's 10,000 records


def wait_listed(admin: AdminClient, names: list[str], timeout: float = 300) -> None:
    """Until the broker lists every topic in its metadata (create_topics returns when the controller
    has committed them; a broker needs a few more seconds to create thousands of partition logs)."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while not wanted <= set(admin.list_topics(timeout=30).topics):
        if time.monotonic() > deadline:
            raise SystemExit(f"topics not listed by the broker after {timeout}s")
        time.sleep(0.1)


def wait_quiet(pids: list[int], limit: float = 0.2, timeout: float = 180) -> None:
    """Until these processes together use less than ``limit`` cores for 2 s. A broker keeps working
    for seconds after thousands of partitions were created; without this, whichever side runs
    second pays for the first one's leftovers."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 4:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.5)
        quiet = quiet + 1 if (sum(cpu_seconds(p) for p in pids) - before) / 0.5 < limit else 0


def raw_create(admin: AdminClient, names: list[str], partitions: int) -> tuple[float, float]:
    """Returns (seconds until create_topics' futures are done, seconds until all are listed).
    Above RAW_CHUNK topics, the chunks are all sent at once (a controller refuses a request of
    more than 10,000 metadata records)."""
    started = time.perf_counter()
    futures = {}
    for chunk in range(0, len(names), RAW_CHUNK):
        futures.update(admin.create_topics([NewTopic(n, partitions, 1) for n in names[chunk:chunk + RAW_CHUNK]],
                                           operation_timeout=120, request_timeout=120))
    for future in futures.values():
        future.result()
    committed = time.perf_counter() - started
    wait_listed(admin, names)
    return committed, time.perf_counter() - started


def is_ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"] and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def operator_create(api: client.CustomObjectsApi, admin: AdminClient, namespace: str, names: list[str],
                    partitions: int, timeout: float) -> tuple[float, float]:
    """Returns (seconds until the API server accepted all N, seconds until all Ready and on the broker)."""
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    bodies = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic",
               "metadata": {"name": name.replace("_", "-")}, "spec": {"topicName": name, "partitions": partitions}}
              for name in names]
    ready: set[str] = set()
    done = threading.Event()

    def watch_readiness() -> None:
        try:
            follow()
        except Exception as error:  # make a broken watch visible instead of a silent timeout
            print(f"readiness watch failed: {error!r}", flush=True)

    def follow() -> None:
        """List, then watch from that version; the API server drops watchers that fall behind under
        load (``Forcing ... watcher close due to unresponsiveness``), so re-list and go on."""
        own_api = client.CustomObjectsApi(client.ApiClient())  # not sharing the creators' connection pool
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = own_api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
            ready.update(o["metadata"]["name"] for o in listing["items"] if is_ready(o))
            if len(ready) == len(names):
                done.set()
                return
            stream = watch.Watch()
            for event in stream.stream(own_api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                       resource_version=listing["metadata"]["resourceVersion"],
                                       timeout_seconds=max(1, int(deadline - time.monotonic()))):
                if event["type"] != "ERROR" and is_ready(event["object"]):
                    ready.add(event["object"]["metadata"]["name"])
                    if len(ready) == len(names):
                        stream.stop()
                        done.set()
                        return

    watcher = threading.Thread(target=watch_readiness, daemon=True)
    watcher.start()
    time.sleep(0.5)  # the watch is established
    started = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda b: api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, b), bodies))
    accepted = time.perf_counter() - started
    if not done.wait(timeout):
        raise SystemExit(f"timed out: {len(ready)}/{len(names)} Ready after {timeout}s")
    wait_listed(admin, names)
    return accepted, time.perf_counter() - started


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="KafkaTopics per run (default 1000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--verbose", action="store_true", help="operator debug log (admin batches)")
    args = parser.parse_args()

    with start_kafka(1) as kafka, start_kube(with_pods=False) as kube:
        env = dict(os.environ, KUBECONFIG=str(kube.kubeconfig), KAFKAOPS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers)
        subprocess.run([kubectl_path(), "--kubeconfig", str(kube.kubeconfig), "apply", "-f", str(REPO / "crds")],
                       check=True, capture_output=True)
        # An operator that starts while a new CRD's storage initializes can be refused (429) and,
        # in kopf 1.45, never pick its watch up again: start it once the CRDs are established.
        subprocess.run([kubectl_path(), "--kubeconfig", str(kube.kubeconfig), "wait", "--for=condition=Established",
                        "--timeout=60s", "crd", "--all"], check=True, capture_output=True)
        config.load_kube_config(config_file=str(kube.kubeconfig))
        api = client.CustomObjectsApi(client.ApiClient(pool_threads=1))
        api.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 32
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        command = [sys.executable, "-m", "kafkaops", "run", *(["--verbose"] if args.verbose else [])]
        operator = Service("operator", command, kube.workdir / "operator.log",
                           env=env)
        try:
            time.sleep(3)  # let the operator start watching before the first run
            raw_times, operator_times, accept_times = [], [], []
            services = {s.name: s.proc.pid for s in kube.services}
            services.update({n.service.name: n.service.proc.pid for n in kafka.nodes if n.service})
            busy = [*services.values(), operator.proc.pid]
            for run in range(args.runs):
                for side in (("raw", "operator") if run % 2 == 0 else ("operator", "raw")):
                    wait_quiet(busy)
                    if side == "raw":
                        names = [f"raw_{run}_{i}" for i in range(args.n)]
                        committed, listed = raw_create(admin, names, args.partitions)
                        raw_times.append(listed)
                        print(f"run {run}: raw create_topics of {args.n}: futures done {committed:.2f}s, all listed "
                              f"by the broker {listed:.2f}s", flush=True)
                        continue
                    cpu_before = {name: cpu_seconds(pid) for name, pid in services.items()}
                    operator_cpu = cpu_seconds(operator.proc.pid)
                    accepted, all_ready = operator_create(api, admin, f"bench-{run}",
                                                          [f"op_{run}_{i}" for i in range(args.n)], args.partitions,
                                                          args.timeout)
                    accept_times.append(accepted)
                    operator_times.append(all_ready)
                    print(f"run {run}: operator, {args.n} KafkaTopics Ready and listed: {all_ready:.2f}s, the API "
                          f"server had accepted them all at {accepted:.2f}s (operator CPU "
                          f"{cpu_seconds(operator.proc.pid) - operator_cpu:.1f}s)", flush=True)
                    print("    CPU seconds meanwhile: " + ", ".join(
                        f"{name} {cpu_seconds(pid) - cpu_before[name]:.1f}" for name, pid in services.items()),
                        flush=True)
            rss = peak_rss_mb(operator.proc.pid)
        finally:
            operator.stop()
    raw, op = statistics.median(raw_times), statistics.median(operator_times)
    after = statistics.median(o - a for o, a in zip(operator_times, accept_times, strict=True))
    print(f"\nN={args.n} runs={args.runs} partitions/topic={args.partitions}")
    print(f"raw create_topics, to all listed, median     {raw:8.2f}s  (runs: {fmt(raw_times)})")
    print(f"operator, to all Ready and listed, median    {op:8.2f}s  (runs: {fmt(operator_times)})")
    print(f"API server accepting all   {statistics.median(accept_times):8.2f}s   (the client's create rate)")
    print(f"operator after last accept {after:8.2f}s")
    print(f"ratio operator/raw         {op / raw:8.2f}   (end to end)")
    print(f"ratio after-accept/raw     {after / raw:8.2f}")
    print(f"operator peak RSS          {rss:8.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
