"""The ``kafkaops`` command line."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import sys

from kafkaops import __version__

_M_ARENA_MAX = -8


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread (librdkafka's, asyncio's executor) its own malloc arena; capping
    them keeps RSS close to what Python actually uses. Must run before threads start."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)


def _run(args: argparse.Namespace) -> int:
    _limit_malloc_arenas()
    for variable, value in (("KAFKAOPS_BOOTSTRAP_SERVERS", args.bootstrap_servers),
                            ("KAFKAOPS_DRIFT_INTERVAL_SECONDS", args.drift_interval)):
        if value is not None:
            os.environ[variable] = str(value)
    import kopf

    import kafkaops.handlers  # noqa: F401  (registers the handlers)

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kopf.run(clusterwide=not args.namespace, namespaces=args.namespace or (),
             standalone=not args.peering, liveness_endpoint=args.liveness)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafkaops", description="Kafka topics and consumers on Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator")
    run.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (env KAFKAOPS_BOOTSTRAP_SERVERS)")
    run.add_argument("--namespace", action="append", help="watch only this namespace (repeatable); "
                     "default: all namespaces")
    run.add_argument("--drift-interval", type=float, help="seconds between drift checks (default 300)")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--peering", action="store_true", help="use kopf peering (several replicas)")
    run.add_argument("--verbose", action="store_true")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"kafkaops {__version__}")
        return 0
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
