"""One Kubernetes API client for the operator's own calls (status patches, Events, Deployments).

A client made per call opens a new connection, with a TLS handshake, per call: at 500
ConsumerApps that was over a quarter of the operator's CPU. The shared client keeps a small pool
of connections; it is made on first use, after kopf has logged in (which loads the kubeconfig or
in-cluster credentials into the client's default configuration).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from kubernetes import client

from kafkaops import GROUP, VERSION

POOL_SIZE = 16  # above the default executor's thread count, which bounds concurrent calls


@functools.cache
def api_client() -> client.ApiClient:
    shared = client.ApiClient()
    shared.rest_client.pool_manager.connection_pool_kw["maxsize"] = POOL_SIZE
    return shared


def apps() -> client.AppsV1Api:
    return client.AppsV1Api(api_client())


def core() -> client.CoreV1Api:
    return client.CoreV1Api(api_client())


def custom_objects() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client())


async def patch_status(plural: str, namespace: str, name: str, changes: dict[str, Any]) -> None:
    """Patch the status of one of our custom objects from outside kopf's handlers (the drift and
    scaler loops)."""
    await asyncio.to_thread(custom_objects().patch_namespaced_custom_object_status, GROUP, VERSION, namespace,
                            plural, name, {"status": changes})
