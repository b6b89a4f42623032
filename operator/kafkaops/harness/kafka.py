"""Apache Kafka (KRaft) from Maven Central: resolve the broker's jars once, then start a
cluster of one combined broker+controller node, or one controller plus N brokers.

The jars are cached under ``<cache>/kafka/<version>/libs``; each run formats fresh storage
in its own work directory. A secured cluster (``secured=True``) adds a SASL_SSL listener per
broker: SCRAM-SHA-512 with an admin user bootstrapped at format time, a server certificate
signed by a CA made here, and optionally Kafka's ``StandardAuthorizer`` so that ACLs are
enforced. Brokers and the controller still talk PLAINTEXT to each other on loopback.
"""

from __future__ import annotations

import base64
import os
import secrets
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
from kafkaops.harness.tls import CertificateAuthority, IssuedCertificate

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


SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class BrokerSecurity:
    """What a client needs to reach a secured cluster: the CA that signed the brokers' certificate
    (also written to ``ca_pem_path``, for clients that want a file) and the admin user's SCRAM
    credentials. With ``acls`` the admin is the only super user on the SASL_SSL listeners."""

    ca: CertificateAuthority
    ca_pem_path: Path
    admin_password: str
    acls: bool
    admin_user: str = "admin"

    @property
    def ca_pem(self) -> str:
        return self.ca.certificate_pem


@dataclass
class KafkaNode:
    node_id: int
    roles: str
    port: int | None
    controller_port: int | None
    directory: Path
    secure_port: int | None = None
    command: list[str] = field(default_factory=list)
    service: Service | None = None


@dataclass
class KafkaCluster:
    """A running KRaft cluster on loopback. Use as a context manager, or call ``stop()``."""

    workdir: Path
    nodes: list[KafkaNode] = field(default_factory=list)
    security: BrokerSecurity | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The client listeners: SASL_SSL on a secured cluster, else PLAINTEXT."""
        ports = [n.secure_port if self.security is not None else n.port for n in self.nodes if n.port is not None]
        return ",".join(f"127.0.0.1:{port}" for port in ports)

    def client_config(self) -> dict[str, str]:
        """confluent-kafka configuration for the client listeners, as the admin user on a secured cluster."""
        if self.security is None:
            return {"bootstrap.servers": self.bootstrap_servers}
        return {"bootstrap.servers": self.bootstrap_servers, "security.protocol": "SASL_SSL",
                "ssl.ca.location": str(self.security.ca_pem_path), "sasl.mechanism": SCRAM_MECHANISM,
                "sasl.username": self.security.admin_user, "sasl.password": self.security.admin_password}

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


def _properties(node: KafkaNode, voters: str, replication: int, security: BrokerSecurity | None,
                server: IssuedCertificate | None) -> str:
    listeners, protocols = [], ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    if node.port is not None:
        listeners.append(f"PLAINTEXT://127.0.0.1:{node.port}")
    if node.secure_port is not None:
        listeners.append(f"SASL_SSL://127.0.0.1:{node.secure_port}")
        protocols.append("SASL_SSL:SASL_SSL")
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
        props["advertised.listeners"] = ",".join(item for item in listeners if not item.startswith("CONTROLLER:"))
        props["inter.broker.listener.name"] = "PLAINTEXT"
    if security is not None:
        props.update(_security_properties(node, security, server))
    return "".join(f"{k}={_escape(v)}\n" for k, v in props.items())


def _security_properties(node: KafkaNode, security: BrokerSecurity,
                         server: IssuedCertificate | None) -> dict[str, object]:
    """SCRAM on the SASL_SSL listener with an in-line PEM key store; the authorizer runs on every
    node (the controller authorizes metadata changes too). ANONYMOUS is what the PLAINTEXT
    inter-broker and controller listeners authenticate as, so it must stay a super user."""
    props: dict[str, object] = {}
    if node.secure_port is not None and server is not None:
        props.update({
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": server.certificate_pem,
            "ssl.keystore.key": server.key_pem,
        })
    if security.acls:
        props.update({
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{security.admin_user};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        })
    return props


def _escape(value: object) -> str:
    """A Java properties value on one line (PEM blocks have newlines)."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n")


def _metadata_ready(cluster: KafkaCluster) -> bool:
    """Every broker listens and the cluster answers a metadata request listing them all."""
    from confluent_kafka.admin import AdminClient

    if not all(port_open(n.port) for n in cluster.nodes if n.port is not None):
        return False
    brokers = cluster.brokers
    if not all(port_open(n.secure_port) for n in cluster.nodes if n.secure_port is not None):
        return False
    admin = AdminClient({**cluster.client_config(), "socket.timeout.ms": 2000})
    metadata = admin.list_topics(timeout=5 if cluster.security else 2)
    return len(metadata.brokers) >= brokers


def start_kafka(brokers: int = 1, *, secured: bool = False, acls: bool = False, workdir: Path | None = None,
                timeout: float = 120.0) -> KafkaCluster:
    """Start a KRaft cluster: one combined node when ``brokers == 1``, else a dedicated
    controller plus ``brokers`` broker-only nodes (so every broker can be stopped alone).
    ``secured`` adds the SASL_SSL listeners; ``acls`` enforces ACLs (needs ``secured``)."""
    if acls and not secured:
        raise ValueError("ACLs are enforced on the secured listener only: pass secured=True")
    libs = ensure_kafka_jars()
    workdir = workdir or make_workdir("kafkaops-kafka-")
    cluster = KafkaCluster(workdir=workdir)
    server = None
    if secured:
        ca = CertificateAuthority.create("kafkaops-harness-kafka-ca")
        server = ca.issue("kafka", server=True)
        ca_path = workdir / "ca.crt"
        ca_path.write_text(ca.certificate_pem)
        cluster.security = BrokerSecurity(ca=ca, ca_pem_path=ca_path, admin_password=secrets.token_urlsafe(18),
                                          acls=acls)

    def secure_port() -> int | None:
        return free_port() if secured else None

    if brokers == 1:
        cluster.nodes.append(KafkaNode(1, "broker,controller", free_port(), free_port(), workdir / "node-1",
                                       secure_port()))
    else:
        cluster.nodes.append(KafkaNode(100, "controller", None, free_port(), workdir / "node-100"))
        for i in range(1, brokers + 1):
            cluster.nodes.append(KafkaNode(i, "broker", free_port(), None, workdir / f"node-{i}", secure_port()))
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster.nodes
                      if n.controller_port is not None)
    cluster_id = _random_cluster_id()
    replication = min(brokers, 3)
    started = time.monotonic()
    try:
        for node in cluster.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            config = node.directory / "server.properties"
            config.write_text(_properties(node, voters, replication, cluster.security, server))
            run_logged(_java(libs, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
                             "--ignore-formatted", *_scram_users(cluster.security), heap="128m"),
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
    kind = "" if cluster.security is None else f" (SASL_SSL{', ACLs enforced' if acls else ''})"
    progress(f"Kafka {KAFKA_VERSION} with {brokers} broker(s){kind} ready at {cluster.bootstrap_servers} "
             f"in {time.monotonic() - started:.1f}s")
    return cluster


def _scram_users(security: BrokerSecurity | None) -> list[str]:
    """The admin's SCRAM credential written into the metadata log at format time, so it exists
    before the broker serves its first request (KIP-900)."""
    if security is None:
        return []
    return ["--add-scram", f"{SCRAM_MECHANISM}=[name={security.admin_user},password={security.admin_password}]"]


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (like random-uuid)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

