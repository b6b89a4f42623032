"""``python -m kafkaops.harness``: build, start or demo the local Kafka + Kubernetes harness.

    build           fetch Kafka, build the control plane, helm, promtool and kstatus (cached; prints where);
                    --real-node: also the kubelet, containerd and the pause image
    up              start a broker and an API server, print their env, wait for Ctrl-C; --real-node: plus
                    containerd and a kubelet running the project's image (docs/real-node.md)
    image           build the operator image with buildah (installs the toolchain; cached)
    demo            up + install CRDs + run the operator + apply examples/ + show the result
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from kafkaops.harness.demo import run_demo
from kafkaops.harness.gobuild import ensure_helm, ensure_kube_binaries, ensure_node_binaries
from kafkaops.harness.image import IMAGE, build_image
from kafkaops.harness.kafka import KafkaCluster, ensure_kafka_jars, start_kafka
from kafkaops.harness.kstatus import ensure_kstatus
from kafkaops.harness.kube import KubeCluster, start_kube
from kafkaops.harness.node import ensure_pause_archive
from kafkaops.harness.procs import HarnessError, progress
from kafkaops.harness.promtool import ensure_promtool


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def running_harness(brokers: int, with_kube: bool,
                    real_node: bool = False) -> Iterator[tuple[KafkaCluster, KubeCluster | None]]:
    """Start both sides (Kafka and the control plane) and stop them whatever happens."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.ExitStack() as stack:
        kafka = stack.enter_context(start_kafka(brokers))
        kube = stack.enter_context(start_kube(real_node=real_node)) if with_kube else None
        yield kafka, kube


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kafkaops.harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="fetch and build everything into the cache")
    build.add_argument("--real-node", action="store_true", help="also the kubelet, containerd and the pause image")
    up = sub.add_parser("up", help="start the harness and wait for Ctrl-C")
    up.add_argument("--brokers", type=int, default=1)
    up.add_argument("--no-kube", action="store_true", help="Kafka only")
    up.add_argument("--env-file", type=Path, help="also write the env lines to this file")
    up.add_argument("--real-node", action="store_true",
                    help="also containerd and a kubelet running the project's image (built first, from --repo)")
    up.add_argument("--repo", type=Path, default=Path())
    image = sub.add_parser("image", help="build the operator image from the Dockerfile")
    image.add_argument("--tag", default=IMAGE)
    image.add_argument("--source", default="", help="org.opencontainers.image.source (the repository's URL)")
    image.add_argument("--repo", type=Path, default=Path())
    demo = sub.add_parser("demo", help="the README's local demo")
    demo.add_argument("--once", action="store_true", help="show the result and exit (no Ctrl-C wait)")
    demo.add_argument("--examples", type=Path, default=Path("examples"))
    demo.add_argument("--crds", type=Path, default=Path("crds"))
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            started = time.monotonic()
            libs = ensure_kafka_jars()
            bins = {**ensure_kube_binaries(), "helm": ensure_helm()}
            bins["promtool"] = ensure_promtool()
            bins["kstatus"] = ensure_kstatus()
            if args.real_node:
                bins.update(ensure_node_binaries(), pause=ensure_pause_archive())
            print(f"kafka libs: {libs}")
            for name, path in bins.items():
                print(f"{name}: {path}")
            progress(f"everything in place after {time.monotonic() - started:.0f}s")
        elif args.command == "image":
            print(build_image(args.repo.resolve(), args.tag, args.source))
        elif args.command == "up":
            if args.real_node:
                build_image(args.repo.resolve())
            with running_harness(args.brokers, not args.no_kube, args.real_node) as (kafka, kube):
                lines = [f"export KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap_servers}"]
                if kube is not None:
                    lines.append(f"export KUBECONFIG={kube.kubeconfig}")
                print("\n".join(lines), flush=True)
                if args.env_file:
                    args.env_file.write_text("\n".join(lines) + "\n")
                progress("running; Ctrl-C stops everything")
                while True:
                    time.sleep(3600)
        elif args.command == "demo":
            with running_harness(1, True) as (kafka, kube):
                assert kube is not None
                run_demo(kafka, kube, crds=args.crds, examples=args.examples, wait=not args.once)
    except KeyboardInterrupt:
        progress("stopping")
    except HarnessError as error:
        print(f"harness: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
