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
from kafkaops.consumers.spec import ConsumerAppSpec
from kafkaops.types.clusters import ClientSettings

APP_LABEL = f"{GROUP}/consumerapp"
SPEC_HASH_ANNOTATION = f"{GROUP}/spec-hash"
CREDENTIALS_ANNOTATION = f"{GROUP}/credentials-version"  # on the pod template: a new password rolls the pods
APPLY_MANAGER = "kafkaops"
SCALE_MANAGER = "kafkaops-scaler"
OUR_MANAGERS = frozenset({APPLY_MANAGER, SCALE_MANAGER})
# A secured cluster's CA certificate (public, not secret), from a ConfigMap the operator keeps in the
# app's namespace, owned by the ConsumerApp: pods cannot read the operator's namespace.
CA_VOLUME = "kafkaops-kafka-ca"
CA_DIRECTORY = "/etc/kafkaops/kafka-ca"
CA_KEY = "ca.crt"


def injected_env(bootstrap_servers: str, group_id: str, topics: Sequence[str],
                 extra: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    values = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers, "KAFKA_GROUP_ID": group_id,
              "KAFKA_TOPICS": ",".join(topics), **(extra or {})}
    return [{"name": name, "value": value} for name, value in values.items()]


def credentials_env(secret: str, username_key: str, password_key: str) -> list[dict[str, Any]]:
    """SASL credentials from a Secret of the app's namespace, by reference (never by value)."""
    return [{"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for variable, key in (("KAFKA_SASL_USERNAME", username_key), ("KAFKA_SASL_PASSWORD", password_key))]


def ca_configmap_name(app: str) -> str:
    return f"{app}-kafka-ca"


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "name": name, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def ca_configmap(*, name: str, namespace: str, uid: str, ca_pem: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ca_configmap_name(name), "namespace": namespace,
                         "labels": {APP_LABEL: name, "app.kubernetes.io/managed-by": "kafkaops"},
                         "ownerReferences": [owner_reference(name, uid)]},
            "data": {CA_KEY: ca_pem}}


def ca_volume(app: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod volume and the container mount of the CA ConfigMap."""
    return ({"name": CA_VOLUME, "configMap": {"name": ca_configmap_name(app)}},
            {"name": CA_VOLUME, "mountPath": CA_DIRECTORY, "readOnly": True})


def build_deployment(*, name: str, namespace: str, uid: str, template: Mapping[str, Any], replicas: int,
                     env: Sequence[Mapping[str, Any]], volumes: Sequence[Mapping[str, Any]] = (),
                     mounts: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A complete Deployment manifest; ``env`` (and ``mounts``) replace same-named variables (and
    mounts) in every container, ``volumes`` same-named pod volumes."""
    pod = copy.deepcopy(dict(template))
    pod_meta = pod.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), APP_LABEL: name}
    spec = pod.setdefault("spec", {})
    names = {e["name"] for e in env}
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        kept = [e for e in container.get("env", []) if e.get("name") not in names]
        container["env"] = [*(dict(e) for e in env), *kept]
        if mounts:
            container["volumeMounts"] = _replaced(container.get("volumeMounts", []), mounts)
    if volumes:
        spec["volumes"] = _replaced(spec.get("volumes", []), volumes)
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {APP_LABEL: name, "app.kubernetes.io/managed-by": "kafkaops"},
            "ownerReferences": [owner_reference(name, uid)],
        },
        "spec": {"selector": {"matchLabels": {APP_LABEL: name}}, "template": pod},
    }
    manifest["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: spec_hash(manifest)}
    manifest["spec"]["replicas"] = replicas
    return manifest


def _replaced(existing: Sequence[Mapping[str, Any]], ours: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    names = {item["name"] for item in ours}
    return [*(dict(item) for item in ours), *(dict(item) for item in existing if item.get("name") not in names)]


def app_user_name(app: str) -> str:
    """The KafkaUser (and its password Secret) the operator makes for ``credentials.user: auto``."""
    return f"{app}-consumer"


def app_kafka_user(*, name: str, namespace: str, uid: str, spec: ConsumerAppSpec) -> dict[str, Any]:
    """Least privilege for the app: Read and Describe on exactly its topics, Read on its group, on its
    cluster; owned by the ConsumerApp, so it (and with it the Kafka user) goes when the app goes."""
    acls = [{"resource": {"type": "topic", "name": topic, "patternType": "literal"},
             "operations": ["Read", "Describe"]} for topic in spec.topics]
    acls.append({"resource": {"type": "group", "name": spec.group(name), "patternType": "literal"},
                 "operations": ["Read"]})
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "KafkaUser",
            "metadata": {"name": app_user_name(name), "namespace": namespace,
                         "labels": {APP_LABEL: name, "app.kubernetes.io/managed-by": "kafkaops"},
                         "ownerReferences": [owner_reference(name, uid)]},
            "spec": {**({"clusterRef": {"name": spec.cluster_ref.name}} if spec.cluster_ref else {}),
                     "authentication": {"type": "scram-sha-512"}, "authorization": {"acls": acls}}}


def desired_deployment(*, name: str, namespace: str, uid: str, spec: ConsumerAppSpec, replicas: int,
                       clients: ClientSettings, credentials_version: str | None = None) -> dict[str, Any]:
    """The Deployment a ConsumerApp describes, connected to its cluster. With ``credentials.user: auto``
    the pods carry the version of the app user's password Secret: a new password rolls them."""
    extra = {"KAFKA_AUTO_OFFSET_RESET": spec.auto_offset_reset, **clients.env}
    if spec.group_type == "share":  # only then: a classic app's pods are not rolled by a new variable
        extra["KAFKA_GROUP_TYPE"] = "share"
    volumes, mounts = [], []
    if clients.ca_pem:
        extra["KAFKA_SSL_CA_LOCATION"] = f"{CA_DIRECTORY}/{CA_KEY}"
        volume, mount = ca_volume(name)
        volumes, mounts = [volume], [mount]
    env = injected_env(clients.bootstrap_servers, spec.group(name), spec.topics, extra)
    ref = spec.credentials_secret_ref
    template: Mapping[str, Any] = spec.template
    if ref is not None:
        env += credentials_env(ref.name, ref.username_key, ref.password_key)
    elif spec.auto_user:
        env += credentials_env(app_user_name(name), "username", "password")
        meta = dict(template.get("metadata") or {})
        meta["annotations"] = {**(meta.get("annotations") or {}), CREDENTIALS_ANNOTATION: credentials_version or ""}
        template = {**template, "metadata": meta}
    return build_deployment(name=name, namespace=namespace, uid=uid, template=template, replicas=replicas,
                            env=env, volumes=volumes, mounts=mounts)


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
