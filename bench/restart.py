"""Benchmark: the operator starting with many objects already there, fresh and after a restart.

    .venv/bin/python bench/restart.py -n 10000 --apps 500
    .venv/bin/python bench/restart.py -n 300 --apps 20 --timeout 180     # a quick look

One harness run (one KRaft broker; an API server without pods: the ConsumerApps' Deployments and pod
templates are only stored, no image is ever pulled). N KafkaTopics and M ConsumerApps (app i consumes
the topic of KafkaTopic i) are created with no operator running; then the operator
(``python -m kafkaops run``, its own process) is measured twice:
- fresh: it must create every topic and Deployment and write every status; timed until every object
  is Ready at its generation, and until its start-up re-check signal when it has one;
- restart: SIGTERM, the API server quiet, started again with nothing changed; timed until every object
  has been re-checked once. Nothing needs writing, so writes should be ~0.
The re-check signal, best first: the gauge ``kafkaops_startup_recheck_seconds{kind}`` for both kinds on
the operator's /metrics; its log line "start-up re-check done"; for operators without either,
``kafkaops_reconciliations_total{kind}`` reaching each kind's object count (weaker: an object reconciled
twice hides one never reached); else the bounded wait (--timeout) runs out, which is reported.
Requests are the API server's own counters (``apiserver_request_total``) diffed over each side, from the
operator's start to the end of the wait (for a fallback signal, SIGNAL_GRACE after it). Every client is in
them (this script's readiness watch, the controller-manager, the API server's leases), so writes are also
shown on the operator's resources alone. Peak RSS is the operator's VmHWM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client, config, watch
from prometheus_client.parser import text_string_to_metric_families

from apicounts import Key, describe, writes
from kafkaops.harness.demo import kubectl_path
from kafkaops.harness.kafka import start_kafka
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.procs import Service, free_port
from procstats import peak_rss_mb, wait_quiet

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, NAMESPACE = "kafkaops.io", "v1alpha1", "bench"
KINDS = {"KafkaTopic": "kafkatopics", "ConsumerApp": "consumerapps"}
TEMPLATE = {"spec": {"containers": [{"name": "consumer", "image": "example.com/consumer:1"}]}}
RECHECK_GAUGE, RECHECK_LOG = "kafkaops_startup_recheck_seconds", "start-up re-check done"
OPERATOR_RESOURCES = ("kafkatopics", "kafkatopics/status", "consumerapps", "consumerapps/status", "events",
                      "deployments")
TARGET_SECONDS, TARGET_WRITES_PERCENT, TARGET_RSS_MB = 60.0, 1.0, 250.0
SIGNAL_GRACE = 5.0  # seconds a better signal may still take once a weaker one is seen


def is_ready(obj: dict) -> bool:
    status = obj.get("status") or {}
    return status.get("observedGeneration") == obj["metadata"].get("generation") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


class Readiness:
    """Whether each object of one kind is Ready at its generation, followed by one list and then a
    watch resumed from the last version seen (re-listed only when the API server drops it as too old),
    so that following 10,000 objects costs the API server little."""

    def __init__(self, plural: str) -> None:
        self.plural = plural
        self.state: dict[str, bool] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True, name=f"readiness-{plural}").start()

    def ready(self) -> int:
        return sum(self.state.values())

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            self._follow()
        except Exception as error:  # a broken watch must show, not end as a silent timeout
            print(f"readiness watch of {self.plural} failed: {error!r}", flush=True)

    def _follow(self) -> None:
        api = client.CustomObjectsApi(client.ApiClient())
        version = None
        while not self._stop.is_set():
            if version is None:
                listing = api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, self.plural)
                self.state = {o["metadata"]["name"]: is_ready(o) for o in listing["items"]}
                version = listing["metadata"]["resourceVersion"]
            try:
                for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NAMESPACE,
                                                  self.plural, resource_version=version, timeout_seconds=30):
                    if event["type"] == "ERROR":
                        version = None
                        break
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] == "DELETED":
                        self.state.pop(obj["metadata"]["name"], None)
                    else:
                        self.state[obj["metadata"]["name"]] = is_ready(obj)
                    if self._stop.is_set():
                        return
            except client.ApiException as error:
                if error.status != 410:
                    raise
                version = None


class LogWatch:
    """Whether the operator has logged the re-check line since this start (the log is appended to)."""

    def __init__(self, log: Path) -> None:
        self.log, self.seen = log, False
        self.offset = log.stat().st_size if log.exists() else 0
        self.carry = b""

    def read(self) -> None:
        with self.log.open("rb") as stream:
            stream.seek(self.offset)
            chunk = self.carry + stream.read()
        self.offset += len(chunk) - len(self.carry)
        self.seen = self.seen or RECHECK_LOG.encode() in chunk
        self.carry = chunk[-len(RECHECK_LOG):]


@dataclass
class Side:
    """What one start of the operator cost, and how it ended."""

    name: str
    seconds: float = float("nan")
    signal: str = "none"
    converged: bool = False
    detail: str = ""
    requests: Counter[Key] = field(default_factory=Counter)
    rss_mb: float = float("nan")


def scrape(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """(re-check gauge by kind, reconciliations by kind) from the operator's /metrics; an endpoint
    not up yet reads as nothing."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    except OSError:
        return {}, {}
    recheck: dict[str, float] = {}
    reconciled: Counter[str] = Counter()
    wanted = [line for line in text.splitlines()
              if line.startswith((RECHECK_GAUGE, "kafkaops_reconciliations_total"))]
    for family in text_string_to_metric_families("\n".join(wanted) + "\n"):
        for sample in family.samples:
            kind = sample.labels.get("kind", "")
            if sample.name == RECHECK_GAUGE:
                recheck[kind] = sample.value
            elif sample.name == "kafkaops_reconciliations_total":
                reconciled[kind] += sample.value
    return recheck, dict(reconciled)


def create_objects(n: int, apps: int, partitions: int) -> None:
    """The N KafkaTopics and M ConsumerApps, 32 creates at a time, with no operator running."""
    api = client.CustomObjectsApi(client.ApiClient(pool_threads=1))
    api.api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 32
    client.CoreV1Api().create_namespace({"metadata": {"name": NAMESPACE}})
    topics = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic", "metadata": {"name": f"kt-{i:05d}"},
               "spec": {"topicName": f"restart_{i:05d}", "partitions": partitions}} for i in range(n)]
    consumers = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": f"app-{i:04d}"},
                  "spec": {"groupId": f"restart-group-{i:04d}", "topics": [f"restart_{i % n:05d}"],
                           "template": TEMPLATE,
                           "scaling": {"minReplicas": 1, "maxReplicas": 4, "lagThreshold": 1000}}}
                 for i in range(apps)]
    started = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        for kind, bodies in (("KafkaTopic", topics), ("ConsumerApp", consumers)):
            plural = KINDS[kind]
            list(pool.map(lambda b, p=plural: api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, p, b),
                          bodies))
    print(f"created {n} KafkaTopics and {apps} ConsumerApps (no operator running) in "
          f"{time.perf_counter() - started:.1f}s", flush=True)


def run_side(name: str, kube: KubeCluster, command: list[str], env: dict[str, str], log: Path, url: str,
             expected: dict[str, int], timeout: float, operators: list[Service]) -> Side:
    """Start the operator and wait (bounded) until it is done: all Ready (fresh) or all re-checked
    (restart). The operator is left running in ``operators`` for the caller to stop."""
    side = Side(name)
    trackers = {kind: Readiness(plural) for kind, plural in KINDS.items()} if name == "fresh" else {}
    if trackers:
        time.sleep(1)  # the trackers' first list is done before the operator starts
    logged = LogWatch(log)
    before = kube.request_counts()
    started = time.perf_counter()
    operator = Service("operator", command, log, env=env)
    operators.append(operator)
    deadline, next_progress = started + timeout, started + 10
    weaker_seen: tuple[float, str] | None = None  # (when, which) a fallback signal was first met
    try:
        while True:
            time.sleep(1)
            now = time.perf_counter() - started
            if not operator.alive():
                side.detail = f"the operator exited with {operator.proc.returncode}; log {log}"
                break
            recheck, reconciled = scrape(url)
            logged.read()
            ready = {kind: t.ready() for kind, t in trackers.items()}
            all_ready = bool(trackers) and all(ready[k] >= expected[k] for k in KINDS)
            if time.perf_counter() >= next_progress:
                next_progress += 10
                print(f"  {name} {now:5.0f}s: " + ", ".join(
                    f"{kind} Ready {ready[kind]}/{expected[kind]}" for kind in ready)
                    + ("; " if ready else "") + "reconciliations " + ", ".join(
                    f"{kind} {reconciled.get(kind, 0):g}" for kind in KINDS)
                    + (f"; re-check gauge {recheck}" if recheck else ""), flush=True)
            if all(kind in recheck for kind in KINDS) and (not trackers or all_ready):
                side.signal = f"gauge {RECHECK_GAUGE} (" + ", ".join(
                    f"{kind} {recheck[kind]:.1f}s" for kind in KINDS) + " after the operator's start)"
                side.seconds, side.converged = now, True
                break
            if logged.seen and (not trackers or all_ready):
                side.signal, side.seconds, side.converged = f'log line "{RECHECK_LOG}"', now, True
                break
            fallback = (all_ready and "all Ready at their generation (no re-check signal)") or (
                not trackers and all(reconciled.get(k, 0) >= expected[k] for k in KINDS)
                and "kafkaops_reconciliations_total reached each kind's object count (no re-check signal)")
            if fallback:
                weaker_seen = weaker_seen or (now, fallback)
                if now - weaker_seen[0] >= SIGNAL_GRACE:
                    side.seconds, side.signal, side.converged = weaker_seen[0], weaker_seen[1], True
                    break
            if time.perf_counter() > deadline:
                side.seconds = now
                side.detail = (f"NOT converged within --timeout {timeout:g}s: " + ", ".join(
                    f"{kind} Ready {ready[kind]}/{expected[kind]}" for kind in ready)
                    + ("; " if ready else "") + "reconciliations " + ", ".join(
                    f"{kind} {reconciled.get(kind, 0):g}/{expected[kind]}" for kind in KINDS))
                break
        side.requests = kube.request_counts() - before
        side.rss_mb = peak_rss_mb(operator.proc.pid) if operator.alive() else float("nan")
    finally:
        for tracker in trackers.values():
            tracker.stop()
    return side


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(sides: list[Side], objects: int, n: int) -> None:
    print()
    width = 16
    print(f"{'':28}" + "".join(f"{s.name:>{width}}" for s in sides))
    print(f"{'time':28}" + "".join(f"{s.seconds:>{width - 1}.1f}s" for s in sides))
    print(f"{'converged':28}" + "".join(f"{'yes' if s.converged else 'NO':>{width}}" for s in sides))
    own = [writes(s.requests, OPERATOR_RESOURCES) for s in sides]
    print(f"{'writes, operator resources':28}" + "".join(f"{w:>{width}}" for w in own))
    print(f"{'  as % of objects':28}" + "".join(f"{100 * w / objects:>{width - 1}.2f}%" for w in own))
    print(f"{'writes, all':28}" + "".join(f"{writes(s.requests):>{width}}" for s in sides))
    print(f"{'operator peak RSS':28}" + "".join(f"{s.rss_mb:>{width - 3}.1f} MB" for s in sides))
    for s in sides:
        print(f"\n{s.name}: signal: {s.signal}" + (f"; {s.detail}" if s.detail else ""))
        print(f"{s.name}: API server requests meanwhile, by resource and verb:\n" + describe(s.requests))
    restart = sides[1]
    print(f"\ntargets (stated for 10,000 KafkaTopics; N={n} here):")
    print(f"  restart re-check <= {TARGET_SECONDS:g}s: {restart.seconds:.1f}s "
          f"{verdict(restart.converged and restart.seconds <= TARGET_SECONDS)}"
          + ("" if restart.converged else " (did not converge)"))
    restart_writes = 100 * own[1] / objects
    print(f"  restart writes <= {TARGET_WRITES_PERCENT:g}% of objects: {restart_writes:.2f}% "
          f"{verdict(restart.converged and restart_writes <= TARGET_WRITES_PERCENT)}")
    for s in sides:
        print(f"  {s.name} peak RSS <= {TARGET_RSS_MB:g} MB: {s.rss_mb:.1f} MB {verdict(s.rss_mb <= TARGET_RSS_MB)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10000, help="KafkaTopics (default 10000)")
    parser.add_argument("--apps", type=int, default=500, help="ConsumerApps (default 500)")
    parser.add_argument("--partitions", type=int, default=1, help="partitions per topic (default 1)")
    parser.add_argument("--timeout", type=float, default=900, help="bound on each side's wait, seconds")
    parser.add_argument("--verbose", action="store_true", help="operator debug log")
    args = parser.parse_args()
    expected = {"KafkaTopic": args.n, "ConsumerApp": args.apps}
    print(f"N={args.n} KafkaTopics x {args.partitions} partition(s), {args.apps} ConsumerApps; "
          f"KAFKAOPS_MAX_CONCURRENT_RECONCILES={os.environ.get('KAFKAOPS_MAX_CONCURRENT_RECONCILES', '(default)')}",
          flush=True)

    with start_kafka(1) as kafka, start_kube(with_pods=False) as kube:
        kubectl = [kubectl_path(), "--kubeconfig", str(kube.kubeconfig)]
        subprocess.run([*kubectl, "apply", "-f", str(REPO / "crds")], check=True, capture_output=True)
        subprocess.run([*kubectl, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"],
                       check=True, capture_output=True)
        config.load_kube_config(config_file=str(kube.kubeconfig))
        port = free_port()
        env = dict(os.environ, KUBECONFIG=str(kube.kubeconfig), KAFKAOPS_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
                   KAFKAOPS_METRICS_PORT=str(port))
        command = [sys.executable, "-m", "kafkaops", "run", *(["--verbose"] if args.verbose else [])]
        log, url = kube.workdir / "operator.log", f"http://127.0.0.1:{port}/metrics"
        quiet = [s.proc.pid for s in kube.services] + [n.service.proc.pid for n in kafka.nodes if n.service]
        operators: list[Service] = []
        try:
            create_objects(args.n, args.apps, args.partitions)
            wait_quiet(quiet)
            sides = []
            for name in ("fresh", "restart"):
                print(f"{name}: starting the operator", flush=True)
                sides.append(run_side(name, kube, command, env, log, url, expected, args.timeout, operators))
                stopping = time.perf_counter()
                operators[-1].stop(grace=30)
                print(f"{name}: {sides[-1].seconds:.1f}s, {sides[-1].signal}"
                      + (f"; {sides[-1].detail}" if sides[-1].detail else "")
                      + f"; SIGTERM: exit {operators[-1].proc.returncode} after "
                      f"{time.perf_counter() - stopping:.1f}s", flush=True)
                wait_quiet(quiet)
        finally:
            for operator in operators:
                with contextlib.suppress(Exception):
                    operator.stop()
    report(sides, args.n + args.apps, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
