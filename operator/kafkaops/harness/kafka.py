"""Apache Kafka (KRaft) from Maven Central: resolve the broker's jars once, then start a
cluster of one combined broker+controller node, or one controller plus N brokers.

The jars are cached under ``<cache>/kafka/<version>/libs``; each run formats fresh storage
in its own work directory.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafkaops.harness.procs import (
    HarnessError,
    Service,
    cache_root,
    free_port,
    make_workdir,
    port_open,
    progress,
    run_logged,
)

KAFKA_VERSION = os.environ.get("KAFKAOPS_KAFKA_VERSION", "4.4.0")
LOG4J_VERSION = "2.24.3"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.kafkaops.harness</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout: {pattern: "[%d] %p %m (%c)%n"}
  Loggers:
    Root: {level: INFO, AppenderRef: [{ref: STDOUT}]}
    Logger:
      - {name: kafka, level: INFO}
      - {name: org.apache.kafka, level: INFO}
      - {name: kafka.request.logger, level: WARN}
      - {name: state.change.logger, level: WARN}
"""


def kafka_home() -> Path:
    return cache_root() / "kafka" / KAFKA_VERSION


def ensure_kafka_jars() -> Path:
    """Resolve the broker classpath through Maven (once); return the ``libs`` directory."""
    home = kafka_home()
    libs = home / "libs"
    marker = home / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise HarnessError("Maven and a JDK (17+) are needed to fetch and run Kafka")
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
    progress(f"resolving Apache Kafka {KAFKA_VERSION} from Maven Central into {libs}")
    started = time.monotonic()
    if libs.exists():
        shutil.rmtree(libs)
    run_logged(["mvn", "-B", "-q", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
               home / "maven.log", what="resolving Kafka with Maven")
    (home / "log4j2.yaml").write_text(_LOG4J2)
    marker.write_text(KAFKA_VERSION)
    progress(f"Kafka jars resolved in {time.monotonic() - started:.0f}s "
             f"({sum(1 for _ in libs.glob('*.jar'))} jars)")
    return libs


def _java(libs: Path, main: str, *args: str, heap: str = "512m") -> list[str]:
    java = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if "JAVA_HOME" in os.environ else "java"
    return [java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={libs.parent / 'log4j2.yaml'}",
            "-cp", f"{libs}/*", main, *args]


@dataclass
class KafkaNode:
    node_id: int
    roles: str
    port: int | None
    controller_port: int | None
    directory: Path
    command: list[str] = field(default_factory=list)
    service: Service | None = None


@dataclass
class KafkaCluster:
    """A running KRaft cluster on loopback. Use as a context manager, or call ``stop()``."""

    workdir: Path
    nodes: list[KafkaNode] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes if n.port is not None)

    @property
    def brokers(self) -> int:
        return sum(1 for n in self.nodes if n.port is not None)

    def __enter__(self) -> KafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        # Brokers first, then the controller, so brokers shut down cleanly.
        for node in sorted(self.nodes, key=lambda n: n.port is None):
            if node.service is not None:
                node.service.stop()

    def node_log(self, node_id: int) -> Path:
        return self.workdir / f"node-{node_id}.log"

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def stop_node(self, node_id: int) -> None:
        """Stop one node (an outage); its data stays for ``start_node``."""
        node = self.node(node_id)
        if node.service is not None:
            node.service.stop()

    def start_node(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a node again on the same ports and data, and wait until it serves again."""
        node = self.node(node_id)
        node.service = Service(f"kafka node {node_id}", node.command, self.node_log(node_id))
        node.service.wait_until(lambda: _metadata_ready(self), timeout)


def _properties(node: KafkaNode, voters: str, replication: int) -> str:
    listeners, protocols = [], ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    if node.port is not None:
        listeners.append(f"PLAINTEXT://127.0.0.1:{node.port}")
    if node.controller_port is not None:
        listeners.append(f"CONTROLLER://127.0.0.1:{node.controller_port}")
    props = {
        "process.roles": node.roles,
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listeners": ",".join(listeners),
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": node.directory / "data",
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": replication,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 4,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.flush.interval.messages": 1_000_000_000,
        "log.segment.bytes": 16 * 1024 * 1024,
    }
    if node.port is not None:
        props["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{node.port}"
        props["inter.broker.listener.name"] = "PLAINTEXT"
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _metadata_ready(cluster: KafkaCluster) -> bool:
    """Every broker listens and the cluster answers a metadata request listing them all."""
    from confluent_kafka.admin import AdminClient

    if not all(port_open(n.port) for n in cluster.nodes if n.port is not None):
        return False
    bootstrap, brokers = cluster.bootstrap_servers, cluster.brokers
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000})
    metadata = admin.list_topics(timeout=2)
    return len(metadata.brokers) >= brokers


def start_kafka(brokers: int = 1, *, workdir: Path | None = None, timeout: float = 120.0) -> KafkaCluster:
    """Start a KRaft cluster: one combined node when ``brokers == 1``, else a dedicated
    controller plus ``brokers`` broker-only nodes (so every broker can be stopped alone)."""
    libs = ensure_kafka_jars()
    workdir = workdir or make_workdir("kafkaops-kafka-")
    cluster = KafkaCluster(workdir=workdir)
    if brokers == 1:
        cluster.nodes.append(KafkaNode(1, "broker,controller", free_port(), free_port(), workdir / "node-1"))
    else:
        cluster.nodes.append(KafkaNode(100, "controller", None, free_port(), workdir / "node-100"))
        for i in range(1, brokers + 1):
            cluster.nodes.append(KafkaNode(i, "broker", free_port(), None, workdir / f"node-{i}"))
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster.nodes
                      if n.controller_port is not None)
    cluster_id = _random_cluster_id()
    replication = min(brokers, 3)
    started = time.monotonic()
    try:
        for node in cluster.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            config = node.directory / "server.properties"
            config.write_text(_properties(node, voters, replication))
            run_logged(_java(libs, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
                             "--ignore-formatted", heap="128m"),
                       cluster.node_log(node.node_id), what=f"formatting Kafka storage of node {node.node_id}")
        for node in cluster.nodes:
            heap = "256m" if node.port is None else os.environ.get("KAFKAOPS_KAFKA_HEAP", "1g")
            node.command = _java(libs, "kafka.Kafka", str(node.directory / "server.properties"), heap=heap)
            node.service = Service(f"kafka node {node.node_id}", node.command, cluster.node_log(node.node_id))
        probe_node = next(n for n in cluster.nodes if n.port is not None)
        assert probe_node.service is not None
        probe_node.service.wait_until(lambda: _metadata_ready(cluster), timeout)
        for node in cluster.nodes:
            if node.service is not None and not node.service.alive():
                raise HarnessError(f"kafka node {node.node_id} died; log {node.service.log}")
    except BaseException:
        cluster.stop()
        raise
    progress(f"Kafka {KAFKA_VERSION} with {brokers} broker(s) ready at {cluster.bootstrap_servers} "
             f"in {time.monotonic() - started:.1f}s")
    return cluster


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (like random-uuid)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

