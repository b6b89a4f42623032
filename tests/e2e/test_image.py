"""The operator run from its container image, as the chart's pod runs it (podman: UID 65532, read-only root
filesystem, tmpfs /tmp, no capabilities), against the session broker and a control plane of this module's
own, authenticated as the chart's ServiceAccount: a slice of the e2e suite (KafkaTopic create, grow, delete;
ConsumerApp scale-up by lag) proves the image, not just the wheel, works."""

from __future__ import annotations

import os
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from installed import OperatorProcess, podman_command
from isolated import Isolated, isolated_world
from support import OPERATOR_ENV, REPO, Topics
from test_consumerapp import TEMPLATE, make_topic, produce

from helpers import eventually
from kafkaops.harness.image import LICENSE_LABEL, VERSION_LABEL, labels
from kafkaops.harness.kafka import KafkaCluster

pytestmark = pytest.mark.e2e

IMAGE_UID = 65532
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120, check=False)
    assert not check or result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
    return result


def test_version_and_labels_agree_with_pyproject(image):
    name = f"kafkaops-version-{uuid.uuid4().hex[:8]}"
    output = subprocess.run([*podman_command(image, name, []), "version"], capture_output=True, text=True,
                            timeout=120, check=True).stdout
    assert output.strip() == f"kafkaops {PYPROJECT['version']}"
    found = labels(image)
    assert (found[VERSION_LABEL], found[LICENSE_LABEL]) == (PYPROJECT["version"], PYPROJECT["license"])


@pytest.fixture(scope="module")
def from_image(kafka: KafkaCluster, helm: Path, image: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[Isolated, OperatorProcess]]:
    workdir = tmp_path_factory.mktemp("image")
    name = f"kafkaops-e2e-{uuid.uuid4().hex[:8]}"
    world = isolated_world(kafka.bootstrap_servers, helm, [], workdir, OPERATOR_ENV)
    try:
        world.command = podman_command(image, name, [world.kubeconfig, world.kube.pki.ca])
        # The container's user owns its token, as a pod's user reads its projected ServiceAccount token.
        os.chown(world.kubeconfig, IMAGE_UID, IMAGE_UID)
        operator = world.start_operator("image")
        yield world, operator
        assert operator.stop() == 0, operator.tail()
        assert not operator.denials(), "\n".join(operator.denials()[:20])
    finally:
        world.stop()
        podman("rm", "--force", "--ignore", name)


@pytest.fixture
def namespace(from_image) -> Iterator[str]:
    world, _ = from_image
    name = f"t-{uuid.uuid4().hex[:8]}"
    world.kubectl("create", "namespace", name)
    yield name
    world.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def image_topics(from_image, namespace, kafka) -> Topics:
    world, _ = from_image
    return Topics(world.api, namespace, kafka, world.core)


def test_the_container_runs_as_the_chart_says(from_image):
    _, operator = from_image
    assert operator.probe("/healthz")[0] == 200
    container = podman("ps", "--filter", f"name={operator_name(operator)}", "--format", "{{.Names}}").stdout.split()
    assert len(container) == 1
    inspect = podman("inspect", "--format", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", container[0])
    assert inspect.stdout.split() == [f"{IMAGE_UID}:{IMAGE_UID}", "true"]


def operator_name(operator: OperatorProcess) -> str:
    args = list(operator.process.args)  # type: ignore[arg-type]
    return str(args[args.index("--name") + 1])


def test_topic_create_grow_delete(image_topics, kafka):
    topic = f"image_{uuid.uuid4().hex[:8]}"
    image_topics.create("shipped", {"topicName": topic, "partitions": 2, "deletionPolicy": "Delete"})
    image_topics.wait("shipped", "Created")
    assert image_topics.broker(topic)[0] == 2
    image_topics.patch("shipped", {"spec": {"partitions": 4}})
    assert image_topics.wait("shipped", "Updated")["status"]["partitions"] == 4
    assert image_topics.broker(topic)[0] == 4
    image_topics.delete("shipped")
    eventually(lambda: image_topics.gone("shipped"), timeout=60, what="KafkaTopic gone (finalizer released)")
    eventually(lambda: image_topics.broker(topic) is None, timeout=30, what="topic deleted on the broker")


def test_consumerapp_scales_up_by_lag(from_image, image_topics, namespace, kafka):
    world, _ = from_image
    topic = make_topic(image_topics, 4)
    produce(kafka.bootstrap_servers, topic, 4, 500)
    body = {"apiVersion": "kafkaops.io/v1alpha1", "kind": "ConsumerApp", "metadata": {"name": "scaled"},
            "spec": {"topics": [topic], "template": TEMPLATE, "groupId": f"g-{uuid.uuid4().hex[:6]}",
                     "autoOffsetReset": "earliest",
                     "scaling": {"minReplicas": 1, "maxReplicas": 8, "lagThreshold": 500, "pollIntervalSeconds": 1}}}
    world.api.create_namespaced_custom_object("kafkaops.io", "v1alpha1", namespace, "consumerapps", body)

    def replicas() -> int | None:
        deployments = world.apps.list_namespaced_deployment(namespace, field_selector="metadata.name=scaled").items
        return deployments[0].spec.replicas if deployments else None
    eventually(lambda: replicas() == 4, timeout=90, what="scaled to 4 (2000 messages / 500, 4 partitions)")

    def figures() -> tuple[Any, Any]:
        status = world.api.get_namespaced_custom_object("kafkaops.io", "v1alpha1", namespace, "consumerapps",
                                                        "scaled").get("status") or {}
        return status.get("totalLag"), status.get("desiredReplicas")
    # The operator scales first and writes the status that says so after (an Event in between): on a busy
    # machine the status can still be the one before when the Deployment already shows 4.
    eventually(lambda: figures() == (2000, 4), timeout=30, what="status totalLag 2000, desiredReplicas 4")
