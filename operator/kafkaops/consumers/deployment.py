"""The Deployment a ConsumerApp owns, built from its spec (pure).

The operator applies it with server-side apply as field manager ``kafkaops``: every field set
here (replicas, the injected KAFKA_* variables, labels, the pod template) is restored when
edited by hand; fields the operator never sets (an extra annotation, a sidecar added by a
webhook) are left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kafkaops import GROUP, VERSION

APP_LABEL = f"{GROUP}/consumerapp"


def injected_env(bootstrap_servers: str, group_id: str, topics: Sequence[str],
                 extra: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    values = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_GROUP_ID": group_id,
              "KAFKA_TOPICS": ",".join(topics), **(extra or {})}
    return [{"name": name, "value": value} for name, value in values.items()]


def build_deployment(*, name: str, namespace: str, uid: str, template: Mapping[str, Any], replicas: int,
                     env: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """A complete Deployment manifest; ``env`` replaces same-named variables in every container."""
    pod = copy.deepcopy(dict(template))
    pod_meta = pod.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), APP_LABEL: name}
    spec = pod.setdefault("spec", {})
    names = {e["name"] for e in env}
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        kept = [e for e in container.get("env", []) if e.get("name") not in names]
        container["env"] = [*(dict(e) for e in env), *kept]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {APP_LABEL: name, "app.kubernetes.io/managed-by": "kafkaops"},
            "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "name": name,
                                 "uid": uid, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {APP_LABEL: name}}, "template": pod},
    }
