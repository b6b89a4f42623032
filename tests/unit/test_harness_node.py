"""The real node's pure parts: which mounts its stop removes, the sandbox image archive, and that its
configs keep containerd and the kubelet on loopback and under the harness's directory."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from kafkaops.cli import build_parser
from kafkaops.harness.node import containerd_config, kubelet_config, mounts_under, pause_archive

pytestmark = pytest.mark.unit

MOUNTINFO = """\
22 1 0:21 / / rw - ext4 /dev/vda rw
90 22 0:50 / /tmp/h/node/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw - overlay overlay rw
91 22 0:51 / /tmp/h/node/kubelet/pods/uid/volumes/kubernetes.io~projected/token rw - tmpfs tmpfs rw
92 91 0:52 / /tmp/h/node/kubelet/pods/uid/volumes/kubernetes.io~projected/token/deeper rw - tmpfs tmpfs rw
93 22 0:53 / /tmp/h/nodeother/x rw - tmpfs tmpfs rw
94 22 0:54 / /tmp/h/node/with\\040space rw - tmpfs tmpfs rw
"""


@pytest.mark.parametrize(("base", "expected"), [
    ("/tmp/h/node", ["/tmp/h/node/kubelet/pods/uid/volumes/kubernetes.io~projected/token/deeper",
                     "/tmp/h/node/kubelet/pods/uid/volumes/kubernetes.io~projected/token",
                     "/tmp/h/node/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
                     "/tmp/h/node/with space"]),
    ("/elsewhere", []),
])
def test_mounts_under_the_node_directory_deepest_first_and_no_sibling(base, expected):
    assert mounts_under(Path(base), MOUNTINFO) == expected


def test_the_pause_archive_is_a_docker_archive_whose_layer_holds_the_binary():
    with tarfile.open(fileobj=io.BytesIO(pause_archive(b"\x7fELF...", "localhost/p:1"))) as archive:
        (manifest,) = json.loads(archive.extractfile("manifest.json").read())
        layer = archive.extractfile(manifest["Layers"][0]).read()
        config = json.loads(archive.extractfile(manifest["Config"]).read())
    assert manifest["RepoTags"] == ["localhost/p:1"]
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["config"]["Entrypoint"] == ["/pause"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = tar.getmember("pause")
    assert (member.mode, member.size) == (0o755, len(b"\x7fELF..."))


def test_containerd_keeps_its_paths_under_the_harness_and_caps_oom_score_adj():
    base = Path("/tmp/h/node")
    config = tomllib.loads(containerd_config(root=base / "root", state=base / "state", socket=base / "c.sock",
                                             shim_sockets=Path("/run/kafkaops-0123456789"), cni_conf=base / "cni",
                                             runc=Path("/usr/sbin/runc")))
    assert (config["root"], config["state"], config["grpc"]["address"]) == (
        "/tmp/h/node/root", "/tmp/h/node/state", "/tmp/h/node/c.sock")
    plugins = config["plugins"]
    runtime = plugins["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert plugins["io.containerd.nri.v1.nri"]["disable"] is True
    assert plugins["io.containerd.internal.v1.opt"]["path"].startswith("/tmp/h/node/")
    assert len(plugins["io.containerd.shim.v1.manager"]["socket_dir"]) <= 42  # containerd's limit
    assert plugins["io.containerd.grpc.v1.cri"]["stream_server_address"] == "127.0.0.1"


def test_the_kubelet_listens_on_loopback_only():
    config = kubelet_config(socket=Path("/s"), port=1, healthz_port=2, pod_logs=Path("/l"), plugins=Path("/p"))
    assert (config["address"], config["healthzBindAddress"], config["readOnlyPort"]) == ("127.0.0.1", "127.0.0.1", 0)
    assert config["containerRuntimeEndpoint"] == "unix:///s"


@pytest.mark.parametrize(("argv", "expected"), [
    (["example-consumer", "--topics", "a,b", "--processing-delay-ms", "5"],
     {"KAFKA_TOPICS": "a,b", "PROCESSING_DELAY_MS": "5", "KAFKA_GROUP_ID": None}),
    (["example-consumer", "--group-type", "share", "--group", "g"],
     {"KAFKA_GROUP_TYPE": "share", "KAFKA_GROUP_ID": "g"}),
    (["example-producer", "--topic", "t", "--rate", "100", "--for", "3"],
     {"topic": "t", "rate": 100.0, "seconds": 3.0, "KAFKA_BOOTSTRAP_SERVERS": None}),
])
def test_example_flags_set_the_variables_the_operator_injects(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected
