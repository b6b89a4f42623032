"""Benchmark: lag collection for many ConsumerApps, and one app through a scale-up and scale-down.

    .venv/bin/python bench/lag.py --apps 500 --partitions 12
    .venv/bin/python bench/lag.py --apps 50 --cycles 5 --plot docs/lag-scaling.png   # quick look

One harness run (one KRaft broker, one API server with kwok pods):
1. ``--apps`` topics of ``--partitions`` partitions, a few messages in each, and one consumer
   group per topic with offsets committed part of the way (so every app has lag to compute). With
   ``--protocol consumer`` each group is a KIP-848 group (its offsets committed by a
   ``group.protocol=consumer`` member that then leaves), with ``mixed`` every other one.
2. Raw: the admin calls one collection needs, made directly on the same broker (describe the
   topics, list_offsets earliest and latest for every partition, the states and the committed
   offsets of every group, the last two with kafka-python as the operator reads them), timed per cycle.
3. Operator: ``python -m kafkaops run`` as its own process, ``--apps`` ConsumerApps applied;
   each collection cycle is read from the operator's own /metrics (the lag-collection histogram
   and the admin-request counts move once per cycle), with the operator's CPU and peak RSS.
4. With ``--plot``: one more app, a backlog produced, consumed in steps (offsets committed),
   its lag and replicas sampled from status and drawn to a PNG.
Prints medians and the operator/raw ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as PyTopicPartition
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from apicounts import writes
from kafkaops.harness.demo import kubectl_path
from kafkaops.harness.kafka import start_kafka
from kafkaops.harness.kube import start_kube
from kafkaops.harness.procs import Service, free_port
from procstats import cpu_seconds, peak_rss_mb
from pyspy import Profiler, report

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' Kafka clients, to join as they do
from kafka_clients import commit_as_member

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "kafkaops.io", "v1alpha1", "consumerapps"
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}
MESSAGES_PER_PARTITION = 20
COMMITTED_PER_PARTITION = 5
PREPARE_BATCH_PARTITIONS = 6_000  # partitions created (and filled, and committed) per preparation batch
MAX_MAP_COUNT = 1_048_576
DEFAULT_POLL_SECONDS = 15  # pollIntervalSeconds when a ConsumerApp does not say
App = tuple[str, str, str]  # (ConsumerApp name, topic, group)


def raise_limits() -> list[str]:
    """What a broker with tens of thousands of partitions needs of this machine (as root): every
    partition's log is an open file and its two indexes are mmapped. The broker inherits our limits."""
    changes = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        changes.append(f"nofile soft {soft} -> {hard} (the hard limit)")
    maps = Path("/proc/sys/vm/max_map_count")
    if int(maps.read_text()) < MAX_MAP_COUNT and os.geteuid() == 0:
        before = maps.read_text().strip()
        subprocess.run(["sysctl", "-q", "-w", f"vm.max_map_count={MAX_MAP_COUNT}"], check=True)
        changes.append(f"vm.max_map_count {before} -> {MAX_MAP_COUNT}")
    return changes


def prepare(bootstrap: str, topics: list[str], partitions: int, groups: dict[str, list[str]],
            consumer_groups: frozenset[str] = frozenset()) -> None:
    """Topics with messages, and each group committed part of the way on its topic, in batches
    (one create_topics of 60,000 partitions would outlast any request timeout); ``consumer_groups``
    committed by a KIP-848 member (many joining at once), the others as a classic group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 1_000_000})
    offsets = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120_000)
    step = max(1, PREPARE_BATCH_PARTITIONS // partitions)
    for first in range(0, len(topics), step):
        started = time.perf_counter()
        batch = topics[first:first + step]
        for future in admin.create_topics([NewTopic(t, partitions, 1) for t in batch],
                                          operation_timeout=300).values():
            future.result()
        for topic in batch:
            for partition in range(partitions):
                for i in range(MESSAGES_PER_PARTITION):
                    producer.produce(topic, value=b"%d" % i, partition=partition)
            producer.poll(0)
        assert producer.flush(300) == 0
        members = [(topic, group) for topic in batch for group in groups[topic] if group in consumer_groups]
        for topic in batch:
            for group in groups[topic]:
                if group not in consumer_groups:
                    commit(offsets, group, {(topic, p): COMMITTED_PER_PARTITION for p in range(partitions)})
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(lambda member: commit_as_member(bootstrap, "consumer", member[1], member[0], dict.fromkeys(
                range(partitions), COMMITTED_PER_PARTITION), timeout=120), members))
        print(f"  prepared topics {first}..{first + len(batch) - 1} in {time.perf_counter() - started:.1f}s",
              flush=True)
    offsets.close()


def commit(offsets: KafkaAdminClient, group: str, positions: dict[tuple[str, int], int]) -> None:
    """What the group's consumers would commit; retried while a fresh broker loads the group
    coordinator (retriable errors)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            offsets.alter_group_offsets(group, {PyTopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                                                for (t, p), o in positions.items()})
            return
        except KafkaError as error:
            if not error.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def raw_cycle(admin: AdminClient, offsets: KafkaAdminClient, topics: list[str], partitions: int,
              groups: list[str]) -> float:
    """The admin calls one collection needs, made directly: the floor the operator is held to."""
    started = time.perf_counter()
    for future in admin.describe_topics(TopicCollection(topics)).values():
        future.result()
    keys = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        for future in admin.list_offsets(dict.fromkeys(keys, spec)).values():
            future.result()
    # as the operator does: one ListGroups per broker for every group's type and state, then members of
    # the groups that can have any (kafka-python describes classic groups only)
    wanted = set(groups)
    listed = [g for g in offsets.list_groups() if g["group_id"] in wanted]
    active = [g["group_id"] for g in listed
              if g["group_state"] not in ("Empty", "Dead") and g["group_type"] == "classic"]
    if active:
        offsets.describe_groups(active)
    offsets.list_group_offsets(groups)
    return time.perf_counter() - started


def raw_cycle_one_group_per_call(admin: AdminClient, groups: list[str]) -> float:
    """confluent-kafka's committed offsets, one group per request, all in flight together (what
    the operator would do with librdkafka alone); shown for comparison."""
    started = time.perf_counter()
    futures = [admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)]) for g in groups]
    for batch in futures:
        for future in batch.values():
            future.result()
    return time.perf_counter() - started


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_cost(url: str, scrapes: int = 10) -> tuple[list[float], int]:
    """What Prometheus pays: seconds per scrape of /metrics, and the number of series it returns."""
    times, series = [], 0
    for _ in range(scrapes):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        times.append(time.perf_counter() - started)
        series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return times, series


def wait_for_endpoint(url: str, operator: Service, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            scrape(url)
            return
        except OSError:
            if not operator.alive():
                break
            time.sleep(0.2)
    raise SystemExit(f"the operator's metrics endpoint did not answer; its log:\n{log.read_text()[-3000:]}")


def requests_by_operation(sample: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
    return {dict(labels)["operation"]: value for (name, labels), value in sample.items()
            if name == "kafkaops_admin_request_duration_seconds_count"}


Cycle = tuple[float, dict[str, float], float, float]  # seconds, requests by operation, CPU seconds, status writes


def operator_cycles(url: str, cycles: int, pid: int, timeout: float,
                    status_writes: Callable[[], int] | None = None) -> list[Cycle]:
    """(cycle seconds, admin requests by operation, operator CPU seconds, ConsumerApp status writes)
    of the next ``cycles`` collections, each read as the step of the lag-collection histogram's count.
    The writes of a cycle are those counted between its step and the previous one (``status_writes``
    reads the API server's counter; without it they are 0)."""
    key_count = ("kafkaops_lag_collection_duration_seconds_count", ())
    key_sum = ("kafkaops_lag_collection_duration_seconds_sum", ())
    # Only the families read here: a whole scrape every 0.5 s (60,000 lag series at 5,000 apps) would
    # be most of the CPU measured.
    url += "?" + "&".join(f"name[]={name}" for name in (key_count[0], key_sum[0],
                                                        "kafkaops_admin_request_duration_seconds_count"))
    before = scrape(url)
    cpu = cpu_seconds(pid)
    written = status_writes() if status_writes else 0
    results: list[Cycle] = []
    deadline = time.monotonic() + timeout
    while len(results) < cycles and time.monotonic() < deadline:
        time.sleep(0.5)  # the histogram's sum is exact however seldom it is read; a scrape costs the operator
        now = scrape(url)
        if now.get(key_count, 0) == before.get(key_count, 0):
            continue
        steps = now[key_count] - before.get(key_count, 0)
        old, new = requests_by_operation(before), requests_by_operation(now)
        requests = {op: (new[op] - old.get(op, 0)) / steps for op in new if new[op] != old.get(op, 0)}
        cycle_cpu = cpu_seconds(pid)
        cycle_written = status_writes() if status_writes else 0
        results.append(((now[key_sum] - before.get(key_sum, 0)) / steps, requests, (cycle_cpu - cpu) / steps,
                        (cycle_written - written) / steps))
        before, cpu, written = now, cycle_cpu, cycle_written
    return results


def bench_apps(apps: int, groups_per_topic: int) -> list[App]:
    """``apps`` ConsumerApps, each its own group; ``groups_per_topic`` of them read one topic (so
    60,000 group-partitions fit a broker that cannot hold 60,000 partitions)."""
    if groups_per_topic == 1:
        return [(f"bench-{i:04d}", f"bench_{i:04d}", f"bench_{i:04d}-group") for i in range(apps)]
    return [(f"bench-{i:04d}", f"bench_{i // groups_per_topic:04d}", f"bench_{i:04d}-group") for i in range(apps)]


def apply_apps(namespace: str, apps: list[App], poll_seconds: int) -> None:
    api = client.CustomObjectsApi()
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    bodies = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": name},
               "spec": {"groupId": group, "topics": [topic], "template": TEMPLATE, "autoOffsetReset": "earliest",
                        "scaling": {"minReplicas": 1, "maxReplicas": 12, "lagThreshold": 1_000_000,
                                    "pollIntervalSeconds": poll_seconds}}} for name, topic, group in apps]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda b: api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, b), bodies))


def plot_scaling(bootstrap: str, namespace: str, metrics_url: str, path: Path) -> None:
    """One app through a scale-up and a scale-down, sampled from its status, drawn to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    topic, partitions, backlog = "plotted_orders", 12, 600
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a dropped client cancels its futures
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()
    api = client.CustomObjectsApi()
    api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "plotted"},
        "spec": {"groupId": "plotted", "topics": [topic], "template": TEMPLATE, "autoOffsetReset": "earliest",
                 "scaling": {"minReplicas": 0, "maxReplicas": 12, "lagThreshold": 500, "pollIntervalSeconds": 1,
                             "scaleDown": {"stabilizationWindowSeconds": 10}}}})
    offsets = KafkaAdminClient(bootstrap_servers=bootstrap)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    samples: list[tuple[float, int, int, int]] = []
    started = time.monotonic()

    apps = client.AppsV1Api()

    def sample() -> None:
        """Lag and the decision as the operator exports them (status writes of lag are throttled),
        replicas as set on the Deployment."""
        metrics = scrape(metrics_url)
        lag = sum(v for (name, labels), v in metrics.items()
                  if name == "kafka_consumergroup_lag_sum" and ("consumergroup", "plotted") in labels)
        desired = sum(v for (name, labels), v in metrics.items()
                      if name == "kafkaops_consumerapp_desired_replicas" and ("consumerapp", "plotted") in labels)
        try:
            replicas = apps.read_namespaced_deployment("plotted", namespace).spec.replicas or 0
        except client.ApiException:
            replicas = 0
        samples.append((time.monotonic() - started, int(lag), int(desired), replicas))

    def run_for(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            sample()
            time.sleep(0.5)

    run_for(4)
    for partition in range(partitions):  # a burst: 7,200 messages
        for i in range(backlog):
            producer.produce(topic, value=b"%d" % i, partition=partition)
    producer.flush(30)
    run_for(6)
    for step in range(1, 7):  # consumers work the backlog off in six steps
        commit(offsets, "plotted", {(topic, p): backlog * step // 6 for p in range(partitions)})
        run_for(2.5)
    run_for(16)
    offsets.close()
    times = [s[0] for s in samples]
    figure, lag_axis = plt.subplots(figsize=(9, 4.5), dpi=100)
    lag_axis.plot(times, [s[1] for s in samples], color="tab:orange", label="total lag (messages)")
    lag_axis.set_xlabel("seconds")
    lag_axis.set_ylabel("lag (messages)")
    replica_axis = lag_axis.twinx()
    replica_axis.step(times, [s[2] for s in samples], where="post", color="tab:blue", label="desired replicas")
    replica_axis.step(times, [s[3] for s in samples], where="post", color="tab:green", linestyle="--",
                      label="Deployment spec.replicas")
    replica_axis.set_ylabel("replicas")
    replica_axis.set_ylim(0, 13)
    lines = lag_axis.get_legend_handles_labels()[0] + replica_axis.get_legend_handles_labels()[0]
    labels = lag_axis.get_legend_handles_labels()[1] + replica_axis.get_legend_handles_labels()[1]
    lag_axis.legend(lines, labels, loc="upper right")
    lag_axis.set_title("ConsumerApp 'plotted': 12 partitions, lagThreshold 500, minReplicas 0, scale-down window 10 s")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    peak = max(s[2] for s in samples)
    print(f"plot: {path} ({len(samples)} samples; peak desired replicas {peak}, final {samples[-1][2]})", flush=True)


def wait_for_all_apps(url: str, apps: int, operator: Service, timeout: float) -> float:
    """Until every app has been through a scaling decision (its desired-replicas series exists):
    kopf hands thousands of apps over, and the worker creates their Deployments, over minutes."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not operator.alive():
            raise SystemExit(f"the operator exited ({operator.proc.returncode}); its log ends:\n"
                             f"{operator.log.read_text()[-2000:]}")
        seen = sum(1 for name, _ in scrape(url + "?name[]=kafkaops_consumerapp_desired_replicas")
                   if name == "kafkaops_consumerapp_desired_replicas")
        if seen >= apps:
            return time.monotonic() - started
        time.sleep(5)
    raise SystemExit(f"only {seen} of {apps} ConsumerApps were scaled within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--groups-per-topic", type=int, default=1,
                        help="apps (groups) sharing one topic: --apps 5000 --groups-per-topic 4 is 5,000 groups "
                             "of 12 partitions each on 1,250 topics")
    parser.add_argument("--cycles", type=int, default=10, help="collection cycles measured on each side")
    parser.add_argument("--poll", type=int, default=5, help="the apps' pollIntervalSeconds")
    parser.add_argument("--lag-granularity", choices=["partition", "topic"], default="partition")
    parser.add_argument("--settled", type=int, default=0,
                        help="then measure this many more cycles with nothing produced or committed, and print "
                             "their status writes (per cycle) and CPU")
    parser.add_argument("--profile", type=Path, help="py-spy the operator over the measured cycles (raw stacks here)")
    parser.add_argument("--plot", type=Path, help="also draw one app's scale-up and scale-down to this PNG")
    parser.add_argument("--protocol", choices=["classic", "consumer", "mixed"], default="classic",
                        help="the groups' protocol: classic, consumer (KIP-848) or every other one each")
    args = parser.parse_args()
    apps = bench_apps(args.apps, args.groups_per_topic)
    topics = sorted({topic for _, topic, _ in apps})
    groups = [group for _, _, group in apps]
    consumer_groups = frozenset(group for i, group in enumerate(groups)
                                if args.protocol == "consumer" or (args.protocol == "mixed" and i % 2))
    groups_of: dict[str, list[str]] = {}
    for _, topic, group in apps:
        groups_of.setdefault(topic, []).append(group)
    for change in raise_limits():
        print(f"raised for the broker: {change}", flush=True)

    with start_kafka(1) as kafka, start_kube() as kube:
        bootstrap = kafka.bootstrap_servers
        started = time.perf_counter()
        prepare(bootstrap, topics, args.partitions, groups_of, consumer_groups)
        preparation = time.perf_counter() - started
        print(f"prepared {len(topics)} topics x {args.partitions} partitions, {len(groups)} groups "
              f"in {preparation:.1f}s", flush=True)

        admin = AdminClient({"bootstrap.servers": bootstrap})
        offsets = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=120_000)
        raw_times = [raw_cycle(admin, offsets, topics, args.partitions, groups) for _ in range(args.cycles)]
        offsets.close()
        # librdkafka aborts the process when one of thousands of per-group requests times out
        # (librdkafka issue 4605): it did so here at 5,000 groups.
        one_by_one = [raw_cycle_one_group_per_call(admin, groups) for _ in range(3)] if len(groups) <= 1000 else []
        print(f"raw admin calls per collection, median {statistics.median(raw_times):.3f}s (min {min(raw_times):.3f}, "
              f"max {max(raw_times):.3f})", flush=True)

        subprocess.run([kubectl_path(), "--kubeconfig", str(kube.kubeconfig), "apply", "-f", str(REPO / "crds")],
                       check=True, capture_output=True)
        # An operator that starts while a new CRD's storage initializes can be refused (429) and,
        # in kopf 1.45, never pick its watch up again: start it once the CRDs are established.
        subprocess.run([kubectl_path(), "--kubeconfig", str(kube.kubeconfig), "wait", "--for=condition=Established",
                        "--timeout=60s", "crd", "--all"], check=True, capture_output=True)
        config.load_kube_config(config_file=str(kube.kubeconfig))
        port = free_port()
        env = dict(os.environ, KUBECONFIG=str(kube.kubeconfig), KAFKAOPS_BOOTSTRAP_SERVERS=bootstrap,
                   KAFKAOPS_METRICS_PORT=str(port), KAFKAOPS_LAG_GRANULARITY=args.lag_granularity)
        operator = Service("operator", [sys.executable, "-m", "kafkaops", "run"], kube.workdir / "operator.log",
                           env=env)
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            wait_for_endpoint(url, operator, kube.workdir / "operator.log")
            apply_apps("bench", apps, args.poll)
            handover = wait_for_all_apps(url, len(apps), operator, timeout=max(300, len(apps) * 0.5))
            print(f"all {len(apps)} ConsumerApps scaled once {handover:.0f}s after they were applied", flush=True)
            # Warm-up: the apps' polls spread out from when each was first seen.
            operator_cycles(url, 2, operator.proc.pid, timeout=300)
            profiler = Profiler(operator.proc.pid, args.profile) if args.profile else None
            requests_before, window_cpu, window_started = kube.request_counts(), cpu_seconds(operator.proc.pid), \
                time.monotonic()
            cycles = operator_cycles(url, args.cycles, operator.proc.pid, timeout=60 + args.cycles * args.poll * 3)
            window = time.monotonic() - window_started
            window_cpu = cpu_seconds(operator.proc.pid) - window_cpu
            status_writes = writes(kube.request_counts() - requests_before, ["consumerapps/status"])
            if profiler:
                profiler.stop()

            def status_counter() -> int:
                return writes(kube.request_counts(), ["consumerapps/status"])

            settled = operator_cycles(url, args.settled, operator.proc.pid,
                                      timeout=60 + args.settled * args.poll * 3,
                                      status_writes=status_counter) if args.settled else []
            scrape_times, series = scrape_cost(url)
            rss = peak_rss_mb(operator.proc.pid)
            if args.plot:
                plot_scaling(bootstrap, "bench", url, args.plot)
        finally:
            operator.stop()

    times = [c[0] for c in cycles]
    operations = sorted({op for c in cycles for op in c[1]})
    cpu = statistics.median(c[2] for c in cycles)
    print(f"\n{len(apps)} ConsumerApps x {args.partitions} partitions ({len(apps) * args.partitions} group-partitions "
          f"on {len(topics)} topics, {len(topics) * args.partitions} partitions), one KRaft broker, "
          f"poll {args.poll}s, lag granularity {args.lag_granularity}, protocol {args.protocol} "
          f"({len(consumer_groups)} KIP-848 groups), {len(cycles)} operator cycles, "
          f"{len(raw_times)} raw")
    print(f"preparation (batches of {PREPARE_BATCH_PARTITIONS} partitions)   {preparation:7.1f}s")
    print(f"raw admin calls per collection, median        {statistics.median(raw_times):7.3f}s  "
          f"(min {min(raw_times):.3f}, max {max(raw_times):.3f})")
    if one_by_one:
        print(f"  committed offsets one group per call (librdkafka), median {statistics.median(one_by_one):7.3f}s")
    print(f"operator collection cycle, median             {statistics.median(times):7.3f}s  "
          f"(min {min(times):.3f}, max {max(times):.3f})")
    ratio = statistics.median(times) / statistics.median(raw_times)
    print(f"ratio operator/raw                            {ratio:7.2f}")
    print("admin requests per operator cycle (median):   " + ", ".join(
        f"{op} {statistics.median(c[1].get(op, 0) for c in cycles):g}" for op in operations))
    print(f"status writes per cycle                       {status_writes / max(1, len(cycles)):7.1f}  "
          f"({status_writes} in {len(cycles)} cycles)")
    print(f"operator CPU per cycle, median                {cpu:7.3f}s "
          f"(everything the process did meanwhile: scaling, status, watch events)")
    print(f"operator CPU averaged over the cycles         {window_cpu / window:7.3f} cores at poll {args.poll}s; "
          f"{cpu / DEFAULT_POLL_SECONDS:.3f} cores at the default {DEFAULT_POLL_SECONDS}s")
    print(f"operator peak RSS                             {rss:7.1f} MB")
    print(f"/metrics scrape, median                       {statistics.median(scrape_times):7.3f}s  "
          f"({series} series, {len(scrape_times)} scrapes)")
    if settled:
        print(f"settled cycles (nothing produced or committed since preparation), {len(settled)}:")
        print("  status writes per cycle                     " + ", ".join(f"{c[3]:g}" for c in settled))
        print(f"  cycle, median                               {statistics.median(c[0] for c in settled):7.3f}s")
        print(f"  operator CPU per cycle, median              {statistics.median(c[2] for c in settled):7.3f}s")
    if args.profile:
        print(report(args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
