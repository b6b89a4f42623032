"""Benchmark: N KafkaTopics applied at once vs. one raw batched create_topics on the same broker,
and vs. the floor of API-server work any CR-driven operator must cause.

    .venv/bin/python bench/topics.py -n 1000 --runs 3

All three sides run in the same harness (one KRaft broker, one API server), rotating which goes first:
- raw: one ``AdminClient.create_topics`` call with N new topics, timed until every future is done;
- operator: N KafkaTopic objects created through the API server (32 threads, like ``kubectl apply``
  of a large directory), timed from the first create until every one is Ready at its generation and
  every topic is listed by the broker;
- floor: the same N objects created the same way, one batched ``create_topics`` of their topics
  (chunked as the raw side), one status patch per object (32 threads), timed until all are patched
  and listed: the least an operator can do (create, Kafka, status), with no operator acting.
The floor's objects live in namespaces the operator does not watch (it is started with ``--namespace``
for the operator side's namespaces only) rather than with the operator stopped: the operator process,
its connections and its peak RSS stay the same across runs, and it never has to re-list the earlier
sides' objects at a restart, which would be counted against the operator side.
The operator runs as its own process (``python -m kafkaops run``) so that its peak RSS (VmHWM)
is its own. Prints per-run times, the API server's requests by verb and resource during each side
(its own ``apiserver_request_total``, diffed), medians, the ratios, writes per object and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from kubernetes import client, config, watch

from apicounts import Key, describe, writes
from kafkaops.harness.demo import kubectl_path
from kafkaops.harness.kafka import start_kafka
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.procs import Service, free_port
from procstats import cpu_seconds, peak_rss_mb, wait_quiet

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "kafkatopics"
RAW_CHUNK = 2000  # topics per raw request: 3 partitions each stays under KRaft's 10,000 records
PER_OBJECT = ("kafkatopics", "kafkatopics/status", "events")  # the writes counted per KafkaTopic
SIDES = ("raw", "operator", "floor")


def wait_listed(admin: AdminClient, names: list[str], timeout: float = 300) -> None:
    """Until the broker lists every topic in its metadata (create_topics returns when the controller
    has committed them; a broker needs a few more seconds to create thousands of partition logs)."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while not wanted <= set(admin.list_topics(timeout=30).topics):
        if time.monotonic() > deadline:
            raise SystemExit(f"topics not listed by the broker after {timeout}s")
        time.sleep(0.1)


def send_create_topics(admin: AdminClient, names: list[str], partitions: int) -> list[Future[None]]:
    """One batched create_topics, in chunks of RAW_CHUNK topics all sent at once (a controller refuses
    a request of more than 10,000 metadata records)."""
    futures: list[Future[None]] = []
    for chunk in range(0, len(names), RAW_CHUNK):
        futures.extend(admin.create_topics([NewTopic(n, partitions, 1) for n in names[chunk:chunk + RAW_CHUNK]],
                                           operation_timeout=120, request_timeout=120).values())
    return futures


def raw_create(admin: AdminClient, names: list[str], partitions: int) -> tuple[float, float]:
    """Returns (seconds until create_topics' futures are done, seconds until all are listed)."""
    started = time.perf_counter()
    for future in send_create_topics(admin, names, partitions):
        future.result()
    committed = time.perf_counter() - started
    wait_listed(admin, names)
    return committed, time.perf_counter() - started


def kafkatopic_bodies(names: list[str], partitions: int) -> list[dict[str, object]]:
    return [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic",
             "metadata": {"name": name.replace("_", "-")}, "spec": {"topicName": name, "partitions": partitions}}
            for name in names]


def create_objects(api: client.CustomObjectsApi, namespace: str, bodies: list[dict[str, object]]) -> list[dict]:
    """Each body created through the API server, 32 at a time (the operator and floor sides alike)."""
    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(lambda b: api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, b),
                             bodies))


def floor_create(api: client.CustomObjectsApi, admin: AdminClient, namespace: str, names: list[str],
                 partitions: int) -> tuple[float, float]:
    """What any operator must make happen, done directly with no operator watching ``namespace``:
    the N objects, one batched create_topics, one status patch each. Returns (seconds until the API
    server accepted all N, seconds until all are patched Ready and listed by the broker)."""
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    started = time.perf_counter()
    created = create_objects(api, namespace, kafkatopic_bodies(names, partitions))
    accepted = time.perf_counter() - started
    for future in send_create_topics(admin, names, partitions):
        future.result()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def patch_status(obj: dict) -> None:
        generation = obj["metadata"]["generation"]
        api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, obj["metadata"]["name"], {
            "status": {"observedGeneration": generation, "topicName": obj["spec"]["topicName"],
                       "partitions": partitions, "replicationFactor": 1, "managedConfigKeys": [],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Created",
                                       "message": "topic created", "lastTransitionTime": now,
                                       "observedGeneration": generation}]}})

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(patch_status, created))
    wait_listed(admin, names)
    return accepted, time.perf_counter() - started


def is_ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"]["generation"] and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def operator_create(api: client.CustomObjectsApi, admin: AdminClient, namespace: str, names: list[str],
                    partitions: int, timeout: float) -> tuple[float, float]:
    """Returns (seconds until the API server accepted all N, seconds until all Ready and on the broker)."""
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    bodies = kafkatopic_bodies(names, partitions)
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
    create_objects(api, namespace, bodies)
    accepted = time.perf_counter() - started
    if not done.wait(timeout):
        raise SystemExit(f"timed out: {len(ready)}/{len(names)} Ready after {timeout}s")
    wait_listed(admin, names)
    return accepted, time.perf_counter() - started


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def measured(kube: KubeCluster, busy: list[int], side: Callable[[], None]) -> Counter[Key]:
    """Run one side between two quiet points and return the API server's requests meanwhile (what it
    still does after the side's end, until quiet, is its cost too)."""
    wait_quiet(busy)
    before = kube.request_counts()
    side()
    wait_quiet(busy)
    return kube.request_counts() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="KafkaTopics per run (default 1000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic (default 3)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--verbose", action="store_true", help="operator debug log (admin batches)")
    args = parser.parse_args()

    with start_kafka(1) as kafka, start_kube(with_pods=False) as kube:
        env = dict(os.environ, KUBECONFIG=str(kube.kubeconfig), KAFKAOPS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
                   KAFKAOPS_METRICS_PORT=str(free_port()))
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
        watched = [arg for run in range(args.runs) for arg in ("--namespace", f"bench-{run}")]  # not floor-*
        command = [sys.executable, "-m", "kafkaops", "run", *watched, *(["--verbose"] if args.verbose else [])]
        operator = Service("operator", command, kube.workdir / "operator.log",
                           env=env)
        try:
            time.sleep(3)  # let the operator start watching before the first run
            times: dict[str, list[float]] = {side: [] for side in SIDES}
            accept_times, floor_accept_times = [], []
            requests: dict[str, list[Counter[Key]]] = {side: [] for side in SIDES}
            services = {s.name: s.proc.pid for s in kube.services}
            services.update({n.service.name: n.service.proc.pid for n in kafka.nodes if n.service})
            busy = [*services.values(), operator.proc.pid]
            for run in range(args.runs):
                for side in SIDES[run % 3:] + SIDES[:run % 3]:
                    if side == "raw":
                        def raw_side(run: int = run) -> None:
                            committed, listed = raw_create(admin, [f"raw_{run}_{i}" for i in range(args.n)],
                                                           args.partitions)
                            times["raw"].append(listed)
                            print(f"run {run}: raw create_topics of {args.n}: futures done {committed:.2f}s, all "
                                  f"listed by the broker {listed:.2f}s", flush=True)
                        requests["raw"].append(measured(kube, busy, raw_side))
                    elif side == "floor":
                        def floor_side(run: int = run) -> None:
                            accepted, done = floor_create(api, admin, f"floor-{run}",
                                                          [f"floor_{run}_{i}" for i in range(args.n)], args.partitions)
                            floor_accept_times.append(accepted)
                            times["floor"].append(done)
                            print(f"run {run}: floor, {args.n} KafkaTopics created, topics created, status patched "
                                  f"and listed: {done:.2f}s, the API server had accepted them all at "
                                  f"{accepted:.2f}s", flush=True)
                        requests["floor"].append(measured(kube, busy, floor_side))
                    else:
                        def operator_side(run: int = run) -> None:
                            cpu_before = {name: cpu_seconds(pid) for name, pid in services.items()}
                            operator_cpu = cpu_seconds(operator.proc.pid)
                            accepted, all_ready = operator_create(api, admin, f"bench-{run}",
                                                                  [f"op_{run}_{i}" for i in range(args.n)],
                                                                  args.partitions, args.timeout)
                            accept_times.append(accepted)
                            times["operator"].append(all_ready)
                            print(f"run {run}: operator, {args.n} KafkaTopics Ready and listed: {all_ready:.2f}s, "
                                  f"the API server had accepted them all at {accepted:.2f}s (operator CPU "
                                  f"{cpu_seconds(operator.proc.pid) - operator_cpu:.1f}s)", flush=True)
                            print("    CPU seconds meanwhile: " + ", ".join(
                                f"{name} {cpu_seconds(pid) - cpu_before[name]:.1f}" for name, pid in services.items()),
                                flush=True)
                        requests["operator"].append(measured(kube, busy, operator_side))
                    print(f"run {run}: API server requests during {side} (until quiet), by resource and verb:\n"
                          + describe(requests[side][-1]), flush=True)
            rss = peak_rss_mb(operator.proc.pid)
        finally:
            operator.stop()
    raw, op, floor = (statistics.median(times[side]) for side in SIDES)
    after = statistics.median(o - a for o, a in zip(times["operator"], accept_times, strict=True))
    print(f"\nN={args.n} runs={args.runs} partitions/topic={args.partitions}")
    print(f"raw create_topics, to all listed, median     {raw:8.2f}s  (runs: {fmt(times['raw'])})")
    print(f"operator, to all Ready and listed, median    {op:8.2f}s  (runs: {fmt(times['operator'])})")
    print(f"floor, to all patched and listed, median     {floor:8.2f}s  (runs: {fmt(times['floor'])})")
    print(f"API server accepting all   {statistics.median(accept_times):8.2f}s   (the client's create rate; floor "
          f"side {statistics.median(floor_accept_times):.2f}s)")
    print(f"operator after last accept {after:8.2f}s")
    print(f"ratio operator/raw         {op / raw:8.2f}   (end to end)")
    print(f"ratio after-accept/raw     {after / raw:8.2f}")
    print(f"ratio operator/floor       {op / floor:8.2f}")
    for side in ("operator", "floor"):
        per_object = [writes(counts, PER_OBJECT) / args.n for counts in requests[side]]
        print(f"{side} writes per KafkaTopic ({', '.join(PER_OBJECT)}), median {statistics.median(per_object):.2f}"
              f"  (runs: {fmt(per_object)}; all writes, median "
              f"{statistics.median(writes(c) / args.n for c in requests[side]):.2f})")
    print(f"operator peak RSS          {rss:8.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
