"""KafkaClusters in e2e tests: Secrets in a namespace, a KafkaCluster for the secured broker, and
waits on the Ready reason of our objects."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from helpers import eventually, ready_condition
from kafkaops.harness.kafka import KafkaCluster

GROUP, VERSION = "kafkaops.io", "v1alpha1"


def secret(core: client.CoreV1Api, namespace: str, name: str, data: dict[str, str]) -> None:
    body = {"metadata": {"name": name}, "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
    try:
        core.create_namespaced_secret(namespace, body)
    except client.ApiException as error:
        if error.status != 409:
            raise
        core.replace_namespaced_secret(name, namespace, body)


def kafka_cluster(api: client.CustomObjectsApi, name: str, secured: KafkaCluster, ca_secret: str,
                  credentials_secret: str) -> None:
    api.create_cluster_custom_object(GROUP, VERSION, "kafkaclusters", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaCluster", "metadata": {"name": name},
        "spec": {"bootstrapServers": secured.bootstrap_servers,
                 "tls": {"caSecretRef": {"name": ca_secret, "key": "ca.crt"}},
                 "sasl": {"mechanism": "SCRAM-SHA-512", "credentialsSecretRef": {"name": credentials_secret}}}})


def cluster_ready(api: client.CustomObjectsApi, name: str, reason: str, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = api.get_cluster_custom_object(GROUP, VERSION, "kafkaclusters", name)
        condition = ready_condition(obj)
        return obj if condition and condition["reason"] == reason else None

    return eventually(probe, timeout=timeout, what=f"KafkaCluster {name} {reason}")


def object_reason(api: client.CustomObjectsApi, namespace: str, plural: str, name: str, reason: str,
                  timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        condition = ready_condition(obj)
        return obj if condition and condition["reason"] == reason else None

    return eventually(probe, timeout=timeout, what=f"{plural} {namespace}/{name} {reason}")
