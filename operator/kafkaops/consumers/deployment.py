"""The Deployment a ConsumerApp owns, built from its spec (pure).

The operator applies it with server-side apply as field manager ``kafkaops``: every field set
here (replicas, the injected KAFKA_* variables, labels, the pod template) is restored when
edited by hand; fields the operator never sets (an extra annotation, a sidecar added by a
webhook) are left alone.

Whether a Deployment needs applying is decided without a request: the manifest's hash is kept in
an annotation (a spec or settings change alters it), and the Deployment's managedFields tell
whether anyone else changed its spec after our last apply (a hand edit). The scaler's own
replica changes are ours too, so they never look like an edit to restore.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafkaops import GROUP, VERSION

APP_LABEL = f"{GROUP}/consumerapp"
SPEC_HASH_ANNOTATION = f"{GROUP}/spec-hash"
APPLY_MANAGER = "kafkaops"
SCALE_MANAGER = "kafkaops-scaler"
OUR_MANAGERS = frozenset({APPLY_MANAGER, SCALE_MANAGER})


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
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {APP_LABEL: name, "app.kubernetes.io/managed-by": "kafkaops"},
            "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "name": name,
                                 "uid": uid, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"selector": {"matchLabels": {APP_LABEL: name}}, "template": pod},
    }
    manifest["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: spec_hash(manifest)}
    manifest["spec"]["replicas"] = replicas
    return manifest


def spec_hash(manifest: Mapping[str, Any]) -> str:
    """A short hash of everything the operator applies except replicas (the scaler's)."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DeploymentView:
    """What the operator keeps of a Deployment it owns (a few numbers, not the object)."""

    replicas: int
    status_replicas: int
    ready_replicas: int
    spec_hash: str | None
    edited: bool  # someone else changed the spec after our last apply


def foreign_spec_edit(managed_fields: Iterable[Mapping[str, Any]]) -> bool:
    """Did a manager other than ours update the Deployment's spec at or after our last apply?
    Subresource writes (status by the deployment controller, ``kubectl scale``) do not count: the
    scaler corrects replicas on its next poll anyway."""
    entries = [e for e in managed_fields if not e.get("subresource")]
    ours = [str(e.get("time") or "") for e in entries if e.get("manager") == APPLY_MANAGER]
    last_apply = max(ours, default="")
    return any(e.get("manager") not in OUR_MANAGERS and "f:spec" in (e.get("fieldsV1") or {})
               and str(e.get("time") or "") >= last_apply for e in entries)


def deployment_view(body: Mapping[str, Any]) -> DeploymentView:
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    return DeploymentView(int(spec.get("replicas") or 0), int(status.get("replicas") or 0),
                          int(status.get("readyReplicas") or 0),
                          (meta.get("annotations") or {}).get(SPEC_HASH_ANNOTATION),
                          foreign_spec_edit(meta.get("managedFields") or []))


def needs_apply(view: DeploymentView | None, manifest: Mapping[str, Any]) -> bool:
    """Apply when the Deployment is missing, out of date with the spec, or edited by hand."""
    return (view is None or view.edited
            or view.spec_hash != manifest["metadata"]["annotations"][SPEC_HASH_ANNOTATION])
