"""The ``kafkaops`` command line: ``run`` (the operator), ``diff`` (review manifests), ``version``,
``completion`` (a shell completion script).

``run``'s flags set the same environment variables as the Helm chart; Settings reads them in
one place, so a flag and a chart value can never mean different things. A flag wins over env.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

from kafkaops import __version__
from kafkaops.completion import SCRIPTS
from kafkaops.leadership import LeaderElector
from kafkaops.settings import Settings
from kafkaops.types.specs import DEFAULT_CLUSTER

logger = logging.getLogger("kafkaops")

_M_ARENA_MAX = -8
_DIFF_EPILOG = """\
exit status: 0 nothing would change, 2 applying would change the broker, 1 error (a manifest that
the operator would refuse, a change the broker rejects, Kafka unreachable within --timeout).
Config keys set on a topic but absent from its manifest are listed as "unmanaged (kept)": the
operator leaves them alone, unless the KafkaTopic owned them before (then it resets them to the
broker default, which a manifest alone cannot show).
"""


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread (librdkafka's, asyncio's executor) its own malloc arena; capping
    them keeps RSS close to what Python actually uses. Must run before threads start."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)


def flags_to_env(args: argparse.Namespace, env: MutableMapping[str, str]) -> None:
    """Flags set the chart's environment variables (the flag wins)."""
    for variable, value in (("KAFKAOPS_BOOTSTRAP_SERVERS", args.bootstrap_servers),
                            ("KAFKAOPS_NAMESPACES", ",".join(args.namespace) if args.namespace else None),
                            ("KAFKAOPS_DRIFT_INTERVAL_SECONDS", args.drift_interval),
                            ("KAFKAOPS_METRICS_PORT", args.metrics_port),
                            ("KAFKAOPS_LAG_GRANULARITY", args.lag_granularity),
                            ("KAFKAOPS_LIVENESS_ENDPOINT", args.liveness),
                            ("KAFKAOPS_LOG_FORMAT", args.log_format),
                            ("KAFKAOPS_MAX_CONCURRENT_RECONCILES", args.max_concurrent_reconciles),
                            ("KAFKAOPS_TENANCY_MODE", args.tenancy_mode),
                            ("KAFKAOPS_TRUSTED_NAMESPACES",
                             ",".join(args.trusted_namespace) if args.trusted_namespace else None),
                            ("KAFKAOPS_PEERING", "true" if args.peering else None),
                            ("KAFKAOPS_LEADER_ELECTION", "true" if args.leader_elect else None)):
        if value is not None:
            env[variable] = str(value)


def kopf_run_options(settings: Settings) -> dict[str, Any]:
    """``kopf.run`` arguments from the settings, whether they came from flags or the environment. Our
    own health server replaces kopf's liveness endpoint; with leader election kopf runs standalone."""
    return {"clusterwide": not settings.namespaces, "namespaces": list(settings.namespaces),
            "standalone": not settings.peering}


def _exit_now() -> None:
    """Leadership lost: stop at once, as controller-runtime does; a clean shutdown could still write."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(1)


def _lead(settings: Settings) -> LeaderElector | None:
    """Block until this process holds the lease (None: stopped by SIGTERM or SIGINT while standing by),
    then keep renewing it in a thread."""
    from kubernetes import client

    from kafkaops.kube.client import new_api_client, process_identity
    from kafkaops.kube.lease import KubeLeaseStore, lease_namespace

    namespace = lease_namespace(settings.lease_namespace)
    lease, me = f"{namespace}/{settings.lease_name}", process_identity()
    store = KubeLeaseStore(client.CoordinationV1Api(new_api_client()), namespace, settings.lease_name)
    elector = LeaderElector(store, me, settings.lease_timings(), lease, on_lost=_exit_now)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        took = elector.acquire(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if took is None:
        logger.info("stopped while standing by for lease %s", lease)
        return None
    logger.info("leading as %s (lease %s, acquired after %.1fs)", me, lease, took)
    elector.start_renewing()
    return elector


def _run(args: argparse.Namespace) -> int:
    _limit_malloc_arenas()
    flags_to_env(args, os.environ)
    from kafkaops.logs import configure_logging

    settings = Settings.from_env()  # fails fast on a bad value, before kopf starts
    configure_logging(settings.log_format, args.verbose, settings.secret_values())
    from kafkaops import health, leadership, metrics

    health.HEALTH.stall_seconds = settings.stall_seconds
    if settings.liveness_endpoint:
        host, port = health.address(settings.liveness_endpoint)
        health.serve(host, port)
        logger.info("health on %s:%d (/healthz, /readyz)", host, port)
    metrics.LEADER.set_function(leadership.is_leading)
    if settings.metrics_port:  # before the election: a standby is scraped too
        metrics.serve(settings.metrics_port)
        logger.info("metrics on :%d/metrics", settings.metrics_port)
    # Imported before the election, so that a standby that takes over does not wait for the imports.
    import kopf

    import kafkaops.handlers  # noqa: F401  (registers the handlers)

    elector = None
    if settings.leader_election:
        elector = _lead(settings)
        if elector is None:
            return 0
    else:
        leadership.disable()
    try:
        kopf.run(**kopf_run_options(settings))
    finally:
        if elector is not None:
            elector.release()  # the standby takes over at its next poll, not after the lease expires
    return 0


async def _diff(args: argparse.Namespace) -> int:
    from kafkaops.topics.diff import compute_diffs, exit_code, load_paths, render_json, render_text
    from kafkaops.types.errors import KafkaUnavailable

    loaded = load_paths(args.file, sys.stdin.read() if "-" in args.file else None)
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.bootstrap_servers:
        os.environ["KAFKAOPS_BOOTSTRAP_SERVERS"] = args.bootstrap_servers
    settings = Settings.from_env()
    diffs = []
    if loaded.manifests:
        try:
            # An explicit --bootstrap-servers wins over the manifests' clusterRef.
            cluster = args.cluster or (None if args.bootstrap_servers
                                       else diff_cluster(None, {m.spec.cluster for m in loaded.manifests}))
            admin, where = await (_cluster_admin(cluster, args.cluster_namespace, args.timeout) if cluster
                                  else _configured_admin(settings, args.timeout))
        except (ValueError, LookupError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        try:
            diffs = await asyncio.wait_for(compute_diffs(admin, loaded.manifests), timeout=args.timeout * 3)
        except (KafkaUnavailable, TimeoutError) as error:
            message = f"cannot reach Kafka at {where} within {args.timeout:g}s: " \
                      f"{error or 'timed out'}"
            print(f"error: {message}", file=sys.stderr)
            if args.output == "json":
                print(json.dumps({"error": message, "exitCode": 1}))
            return 1
    render = render_json if args.output == "json" else render_text
    sys.stdout.write(render(diffs, loaded.problems))
    return exit_code(diffs, loaded.problems)


def diff_cluster(flag: str | None, named: set[str]) -> str | None:
    """Which KafkaCluster a diff runs against: ``--cluster``, else the manifests' one clusterRef;
    None: the configured cluster (``--bootstrap-servers`` / KAFKAOPS_*)."""
    if flag:
        return flag
    named = named - {DEFAULT_CLUSTER}
    if len(named) > 1:
        raise ValueError(f"the manifests name several KafkaClusters ({', '.join(sorted(named))}): "
                         "diff them one cluster at a time with --cluster")
    return next(iter(named), None)


async def _configured_admin(settings: Settings, timeout: float) -> tuple[Any, str]:
    from kafkaops.kafka.admin import KafkaAdmin

    return (KafkaAdmin(settings.kafka_client_config(), linger=0.01, mutation_linger=0.01, request_timeout=timeout),
            settings.bootstrap_servers)


async def _cluster_admin(name: str, namespace: str, timeout: float) -> tuple[Any, str]:
    """A KafkaCluster's clients, read from the current kube context (the KafkaCluster and its
    Secrets in the operator's namespace: the caller needs the rights to read them)."""
    from kafkaops import GROUP, VERSION
    from kafkaops.clusters.credentials import resolve_credentials
    from kafkaops.clusters.spec import parse_cluster_connection
    from kafkaops.kafka.admin import KafkaAdmin
    from kafkaops.kafka.connection import confluent_config, python_config
    from kafkaops.kube import api
    from kafkaops.types.clusters import ClusterProbeFailed

    try:
        body = await api.call(api.custom_objects().get_cluster_custom_object, GROUP, VERSION, "kafkaclusters", name)
        connection = parse_cluster_connection(name, body.get("spec") or {})
        credentials = resolve_credentials(connection, await api.read_secrets(namespace, connection.secret_names()),
                                          namespace=namespace)
    except api.ApiException as error:
        raise LookupError(f"KafkaCluster {name}: {error.reason} ({error.status})") from None
    except ClusterProbeFailed as error:
        raise LookupError(f"KafkaCluster {name}: {error.reason}: {error.message}") from None
    admin = KafkaAdmin(confluent_config(connection, credentials), linger=0.01, mutation_linger=0.01,
                       request_timeout=timeout,
                       python_config=python_config(connection, credentials, request_timeout=timeout))
    return admin, f"KafkaCluster {name} ({','.join(connection.bootstrap_servers)})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafkaops", description="Kafka topics and consumers on Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the operator",
                         description="Run the operator with the current kubeconfig or in-cluster credentials. "
                                     "Every flag sets the environment variable named in its help (the Helm "
                                     "chart sets the same variables); a flag wins over the environment.")
    run.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                     help="Kafka bootstrap servers (env KAFKAOPS_BOOTSTRAP_SERVERS; default localhost:9092)")
    run.add_argument("--namespace", action="append", metavar="NS",
                     help="watch only this namespace, repeatable (env KAFKAOPS_NAMESPACES, comma-separated; "
                          "default: all namespaces)")
    run.add_argument("--drift-interval", type=float, metavar="SECONDS",
                     help="seconds between drift checks (env KAFKAOPS_DRIFT_INTERVAL_SECONDS; default 300)")
    run.add_argument("--metrics-port", type=int, metavar="PORT",
                     help="Prometheus metrics port, 0 disables (env KAFKAOPS_METRICS_PORT; default 9090)")
    run.add_argument("--lag-granularity", choices=("partition", "topic"),
                     help="consumer-group lag series: partition (kafka_consumergroup_lag per partition and its "
                          "_sum per topic, kafka_exporter's) or topic (the _sum only: one series per group and "
                          "topic) (env KAFKAOPS_LAG_GRANULARITY; default partition)")
    run.add_argument("--liveness", metavar="URL",
                     help="serve /healthz and /readyz at this URL's host:port, e.g. http://0.0.0.0:8080/healthz "
                          "(env KAFKAOPS_LIVENESS_ENDPOINT; default off)")
    run.add_argument("--log-format", choices=("text", "json"),
                     help="log format (env KAFKAOPS_LOG_FORMAT; default text)")
    run.add_argument("--max-concurrent-reconciles", type=int, metavar="N",
                     help="resources processed at once (env KAFKAOPS_MAX_CONCURRENT_RECONCILES; default 200)")
    run.add_argument("--tenancy-mode", choices=("off", "audit", "enforce"),
                     help="a namespace without a KafkaAccessPolicy: off (anything), audit (a Warning Event per "
                          "object), enforce (refused unless trusted) (env KAFKAOPS_TENANCY_MODE; default off)")
    run.add_argument("--trusted-namespace", action="append", metavar="NS",
                     help="needs no KafkaAccessPolicy under enforce, repeatable (env KAFKAOPS_TRUSTED_NAMESPACES, "
                          "comma-separated)")
    run.add_argument("--peering", action="store_true", default=None,
                     help="kopf peering: several replicas, one active (env KAFKAOPS_PEERING=true; "
                          "default standalone)")
    run.add_argument("--leader-elect", action="store_true", default=None,
                     help="several replicas, one active: lead only while holding a coordination.k8s.io Lease "
                          "(env KAFKAOPS_LEADER_ELECTION=true; default off)")
    run.add_argument("--verbose", action="store_true", help="debug logging")

    diff = sub.add_parser("diff", help="show what applying KafkaTopic manifests would change on the broker",
                          description="Show what applying KafkaTopic manifests would change on the Kafka\n"
                                      "cluster, checked by the broker (validate_only) without changing anything.",
                          epilog=_DIFF_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    diff.add_argument("-f", "--filename", dest="file", action="append", required=True, metavar="FILE|DIR",
                      help="manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable")
    diff.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                      help="Kafka bootstrap servers (default: env KAFKAOPS_BOOTSTRAP_SERVERS, else "
                           "localhost:9092); KAFKAOPS_KAFKA_<PROPERTY> variables apply as for run")
    diff.add_argument("--cluster", metavar="NAME",
                      help="diff against this KafkaCluster, read with its Secrets from the current kube context "
                           "(default: the manifests' clusterRef, else --bootstrap-servers)")
    diff.add_argument("--cluster-namespace", default=os.environ.get("KAFKAOPS_NAMESPACE", "kafkaops-system"),
                      metavar="NS", help="the operator's namespace, where KafkaClusters' Secrets live "
                                         "(default: env KAFKAOPS_NAMESPACE, else kafkaops-system)")
    diff.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    diff.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                      help="give up on an unreachable Kafka after this long (default 10)")
    diff.add_argument("--verbose", action="store_true", help="show the Kafka client's own log")

    consumer = sub.add_parser("example-consumer", help="the example consumer examples/ run (KAFKA_* variables)",
                              description="The example consumer of examples/: configured by the KAFKA_* variables "
                                          "a ConsumerApp's pods get; each flag sets the variable named in its help.")
    for flag, variable in EXAMPLE_CONSUMER_FLAGS.items():
        consumer.add_argument(flag, dest=variable, metavar="VALUE", help=f"env {variable}")
    producer = sub.add_parser("example-producer", help="produce load for the example consumers")
    producer.add_argument("--topic", required=True)
    producer.add_argument("--rate", type=float, required=True, metavar="N", help="records a second")
    producer.add_argument("--for", dest="seconds", type=float, required=True, metavar="S", help="seconds")
    producer.add_argument("--bootstrap-servers", dest="KAFKA_BOOTSTRAP_SERVERS", metavar="HOST:PORT[,...]",
                          help="env KAFKA_BOOTSTRAP_SERVERS (SASL and TLS as for example-consumer)")

    sub.add_parser("version", help="print the version")
    completion = sub.add_parser("completion", help="print a shell completion script",
                                description="Print a completion script for kafkaops, e.g. "
                                            "source <(kafkaops completion bash)")
    completion.add_argument("shell", choices=tuple(SCRIPTS))
    return parser


# example-consumer's flags and the variables they set (the operator injects the first three).
EXAMPLE_CONSUMER_FLAGS = {
    "--bootstrap-servers": "KAFKA_BOOTSTRAP_SERVERS", "--group": "KAFKA_GROUP_ID", "--topics": "KAFKA_TOPICS",
    "--group-type": "KAFKA_GROUP_TYPE", "--group-protocol": "KAFKA_GROUP_PROTOCOL",
    "--auto-offset-reset": "KAFKA_AUTO_OFFSET_RESET", "--processing-delay-ms": "PROCESSING_DELAY_MS",
    "--max-messages": "MAX_MESSAGES", "--output-topic": "OUTPUT_TOPIC",
}


def _example(args: argparse.Namespace) -> int:
    """The example workloads, imported only when asked for (the operator does not need them)."""
    from kafkaops.examples import consumer, producer

    env = dict(os.environ)
    env.update({k: v for k, v in vars(args).items() if k.isupper() and v is not None})
    if args.command == "example-consumer":
        if not env.get("KAFKA_TOPICS"):
            print("example-consumer: --topics or KAFKA_TOPICS is required", file=sys.stderr)
            return 2
        consumer.main(env)
        return 0
    if not env.get("KAFKA_BOOTSTRAP_SERVERS") or args.rate <= 0 or args.seconds <= 0:
        print("example-producer: needs --bootstrap-servers (or KAFKA_BOOTSTRAP_SERVERS) and a positive "
              "--rate and --for", file=sys.stderr)
        return 2
    count = producer.produce(env, args.topic, args.rate, args.seconds)
    print(f"produced {count} messages", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"kafkaops {__version__}")
        return 0
    if args.command == "completion":
        print(SCRIPTS[args.shell](build_parser()), end="")
        return 0
    if args.command.startswith("example-"):
        return _example(args)
    if args.command == "diff":
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                            format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(_diff(args))
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
