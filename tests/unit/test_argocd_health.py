"""The Argo CD health script, executed by a real Lua 5.1 interpreter (Argo CD's gopher-lua speaks Lua 5.1)
on statuses that the operator's own condition code writes, and docs/status.md's copy of it kept identical."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from lupa.lua51 import LuaRuntime

from kafkaops.conditions import set_condition

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "kafkaops" / "files" / "argocd" / "health.lua"
KINDS = ("KafkaTopic", "ConsumerApp", "KafkaCluster", "KafkaUser", "KafkaAccessPolicy")
STATUS_KINDS = KINDS[:-1]  # KafkaAccessPolicy has none


def health(obj: dict[str, Any]) -> dict[str, str]:
    """What Argo CD computes: the script's body run as a function of the global ``obj``."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(SCRIPT.read_text())
    return {"status": result["status"], "message": result["message"]}


def to_lua(lua: LuaRuntime, value: Any) -> Any:
    """JSON-like data as Lua tables (lists 1-based), as Argo CD hands the object to the script."""
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value])
    return value


def resource(kind: str = "KafkaTopic", *, generation: int = 2, annotations: dict[str, str] | None = None,
             status: dict[str, Any] | None = None, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "orders", "namespace": "shop", "generation": generation}
    if annotations is not None:
        meta["annotations"] = annotations
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    obj: dict[str, Any] = {"apiVersion": "kafkaops.io/v1alpha1", "kind": kind, "metadata": meta, "spec": {}}
    if status is not None:
        obj["status"] = status
    return obj


def written(ready: bool, reason: str, generation: int = 2) -> dict[str, Any]:
    """A status as the operator writes it (Ready, Reconciling and Stalled from ``set_condition``)."""
    return {"observedGeneration": generation,
            "conditions": set_condition([], type_="Ready", status=ready, reason=reason, message="m",
                                        generation=generation, now="2026-12-02T10:00:00Z")}


@pytest.mark.parametrize("kind", STATUS_KINDS)
def test_no_status_yet_is_progressing(kind):
    assert health(resource(kind))["status"] == "Progressing"
    assert health(resource(kind, status={}))["status"] == "Progressing"


@pytest.mark.parametrize("kind", STATUS_KINDS)
def test_a_generation_the_operator_has_not_seen_is_progressing_even_if_it_was_ready(kind):
    result = health(resource(kind, generation=3, status=written(True, "Created", generation=2)))
    assert result == {"status": "Progressing", "message": "Waiting for the operator to observe generation 3"}


@pytest.mark.parametrize(("kind", "reason"), [("KafkaTopic", "Created"), ("KafkaTopic", "InSync"),
                                              ("ConsumerApp", "LagCollected"), ("KafkaCluster", "Connected")])
def test_ready_is_healthy(kind, reason):
    assert health(resource(kind, status=written(True, reason))) == {"status": "Healthy", "message": f"{reason}: m"}


@pytest.mark.parametrize(("kind", "reason"), [
    ("KafkaTopic", "InvalidConfig"), ("KafkaTopic", "PolicyViolation"), ("KafkaTopic", "Conflict"),
    ("KafkaTopic", "PartitionDecreaseRefused"), ("KafkaTopic", "NotAuthorized"),
    ("ConsumerApp", "DeploymentRejected"), ("ConsumerApp", "TopicNotFound"),
    ("KafkaCluster", "AuthenticationFailed"), ("KafkaCluster", "SecretNotFound")])
def test_a_settled_failure_is_degraded(kind, reason):
    assert health(resource(kind, status=written(False, reason))) == {"status": "Degraded", "message": f"{reason}: m"}


@pytest.mark.parametrize(("kind", "reason"), [("KafkaTopic", "BrokerUnavailable"), ("KafkaTopic", "Reassigning"),
                                              ("ConsumerApp", "ClusterNotReady"), ("KafkaCluster", "Unreachable")])
def test_a_failure_the_operator_retries_is_progressing(kind, reason):
    """Not Degraded: a broker restart would otherwise page whoever watches Argo CD for every KafkaTopic,
    and an Argo CD sync wave would stop instead of waiting for the broker."""
    assert health(resource(kind, status=written(False, reason))) == {"status": "Progressing",
                                                                     "message": f"{reason}: m"}


def test_a_status_without_the_kstatus_conditions_fails_loudly():
    """An operator older than Reconciling/Stalled: Ready False is Degraded (never a silent Progressing)."""
    status = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False", "reason": "InvalidConfig",
                                                       "message": "m", "observedGeneration": 2}]}
    assert health(resource(status=status))["status"] == "Degraded"


@pytest.mark.parametrize("value", ["true", "True"])
def test_paused_is_suspended_whatever_ready_says(value):
    for status in (None, written(True, "Paused"), written(False, "InvalidConfig")):
        result = health(resource(annotations={"kafkaops.io/paused": value}, status=status))
        assert result["status"] == "Suspended"


def test_other_annotations_do_not_suspend():
    result = health(resource(annotations={"kafkaops.io/paused": "false"}, status=written(True, "Created")))
    assert result["status"] == "Healthy"


def test_being_deleted_is_progressing():
    result = health(resource(status=written(True, "Created"), deleting=True))
    assert result == {"status": "Progressing", "message": "Being deleted"}


def test_an_access_policy_is_healthy_once_stored_and_progressing_while_deleted():
    assert health(resource("KafkaAccessPolicy"))["status"] == "Healthy"
    assert health(resource("KafkaAccessPolicy", deleting=True))["status"] == "Progressing"


def test_a_kafkauser_is_judged_like_the_others():
    assert health(resource("KafkaUser", status=written(True, "Applied")))["status"] == "Healthy"
    assert health(resource("KafkaUser", status=written(False, "SecretConflict")))["status"] == "Degraded"
    assert health(resource("KafkaUser", status=written(False, "BrokerUnavailable")))["status"] == "Progressing"


def test_the_docs_snippet_is_the_shipped_script_for_every_kind():
    doc = (REPO / "docs" / "status.md").read_text()
    block = re.search(r"resource\.customizations\.health\.kafkaops\.io_KafkaTopic: &kafkaops-health \|\n"
                      r"((?:    .*\n|\n)+)", doc)
    assert block, "no Argo CD health snippet in docs/status.md"
    assert textwrap.dedent(block.group(1)).strip() == SCRIPT.read_text().strip()
    for kind in KINDS[1:]:
        assert f"resource.customizations.health.kafkaops.io_{kind}: *kafkaops-health" in doc
