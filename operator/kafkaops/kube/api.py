"""The Kubernetes adapter: one API client for the operator's own calls (status patches, Events,
Deployments, ConfigMaps, the Secrets of the operator's namespace).

A client made per call opens a new connection, with a TLS handshake, per call: at 500
ConsumerApps that was over a quarter of the operator's CPU. The shared client keeps a small pool
of connections; it is made on first use, after kopf has logged in (which loads the kubeconfig or
in-cluster credentials into the client's default configuration).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from kubernetes import client

from kafkaops import GROUP, VERSION, leadership
from kafkaops.kube.client import new_api_client
from kafkaops.types.users import SecretView

# Writes at 10,000 objects are bound by round trips, not CPU: as many threads (and pooled
# connections) as a GitOps client would use. asyncio's default executor has only cores + 4.
THREADS = 32
PAGE_SIZE = 500
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
T = TypeVar("T")
ApiException = client.ApiException


@functools.cache
def api_client() -> client.ApiClient:
    shared = new_api_client()
    # One connection per API thread, and a few spare for calls made outside them.
    shared.rest_client.pool_manager.connection_pool_kw["maxsize"] = THREADS + 8
    return shared


@functools.cache
def _executor() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(THREADS, thread_name_prefix="kubeapi")


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking client call on the API threads, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), functools.partial(function, *args, **kwargs))


async def write(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A call that changes something: only while this process leads. A leader frozen past its
    renew deadline (a paused VM, a stopped process) may run again before its renewal thread has
    noticed the lost lease; the fence, checked on the API thread right before the request is sent
    (not when it is queued), makes sure it then writes nothing."""
    return await call(_fenced, function, *args, **kwargs)


def _fenced(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    leadership.fence(getattr(function, "__name__", "write"))
    return function(*args, **kwargs)


def drained(response: Any) -> None:
    """Read and release a response whose body we do not need (no JSON parsing: at 10,000 status
    patches, deserializing what the API server echoes back was most of the operator's CPU)."""
    response.read()
    release = getattr(getattr(response, "response", response), "release_conn", None)
    if release is not None:
        release()


def apps() -> client.AppsV1Api:
    return client.AppsV1Api(api_client())


def core() -> client.CoreV1Api:
    return client.CoreV1Api(api_client())


def custom_objects() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client())


async def patch_status(plural: str, namespace: str, name: str, changes: dict[str, Any]) -> None:
    """Patch the status of one of our custom objects from outside kopf's handlers (the drift and
    scaler loops)."""
    drained(await write(custom_objects().patch_namespaced_custom_object_status, GROUP, VERSION, namespace,
                        plural, name, {"status": changes}, _preload_content=False))


async def patch_cluster_status(plural: str, name: str, changes: dict[str, Any]) -> None:
    """The status of one of our cluster-scoped objects (KafkaCluster)."""
    drained(await write(custom_objects().patch_cluster_custom_object_status, GROUP, VERSION, plural, name,
                        {"status": changes}, _preload_content=False))


async def read_secrets(namespace: str, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """The decoded data of each named Secret of ``namespace`` that exists (a missing one is left
    out; the caller says which was missing). Values are never logged."""
    found: dict[str, dict[str, str]] = {}
    for name in sorted(set(names)):
        try:
            secret = await call(core().read_namespaced_secret, name, namespace)
        except client.ApiException as error:
            if error.status == 404:
                continue
            raise
        found[name] = {key: _decoded(value) for key, value in (secret.data or {}).items()}
    return found


async def read_secret(namespace: str, name: str) -> SecretView | None:
    """One Secret, or None if it does not exist. Values are never logged."""
    try:
        secret = await call(core().read_namespaced_secret, name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return SecretView({key: _decoded(value) for key, value in (secret.data or {}).items()},
                      str(secret.metadata.resource_version),
                      tuple(ref.uid for ref in secret.metadata.owner_references or ()))


async def write_secret(manifest: dict[str, Any], *, replace_version: str | None = None) -> str:
    """Create a Secret, or replace it when ``replace_version`` (its resourceVersion: conditional, so a
    concurrent change is refused with 409) is given; returns the new resourceVersion."""
    meta = manifest["metadata"]
    if replace_version is None:
        written = await write(core().create_namespaced_secret, meta["namespace"], manifest)
    else:
        body = {**manifest, "metadata": {**meta, "resourceVersion": replace_version}}
        written = await write(core().replace_namespaced_secret, meta["name"], meta["namespace"], body)
    return str(written.metadata.resource_version)


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""  # not text: counted as an empty key by the caller


async def apply_configmap(manifest: dict[str, Any], field_manager: str) -> None:
    """Server-side apply of a ConfigMap (what we set wins, the rest is left alone)."""
    meta = manifest["metadata"]
    drained(await write(core().patch_namespaced_config_map, meta["name"], meta["namespace"], manifest,
                        field_manager=field_manager, force=True, _content_type="application/apply-patch+yaml",
                        _preload_content=False))


async def apply_custom_object(plural: str, manifest: dict[str, Any], field_manager: str) -> None:
    """Server-side apply of one of our namespaced objects (a ConsumerApp's own KafkaUser)."""
    meta = manifest["metadata"]
    drained(await write(custom_objects().patch_namespaced_custom_object, GROUP, VERSION, meta["namespace"], plural,
                        meta["name"], manifest, field_manager=field_manager, force=True,
                        _content_type="application/apply-patch+yaml", _preload_content=False))


async def patch_metadata(plural: str, namespace: str, name: str, metadata: dict[str, Any]) -> None:
    """A merge patch of metadata (finalizers). Include ``resourceVersion`` to make it conditional:
    a stale one is refused with 409 instead of overwriting someone else's change."""
    drained(await write(custom_objects().patch_namespaced_custom_object, GROUP, VERSION, namespace, plural, name,
                        {"metadata": metadata}, _preload_content=False))


async def _metadata_pages(list_all: Callable[..., Any], list_namespaced: Callable[..., Any],
                          namespaces: Iterable[str], **query: Any) -> list[dict[str, Any]]:
    """Every object's metadata, listed as metadata only and page by page, so that 10,000 objects
    cost neither their specs' memory nor one huge response."""
    items: list[dict[str, Any]] = []
    for namespace in list(namespaces) or [None]:
        token: str | None = None
        while True:
            options: dict[str, Any] = {**query, "limit": PAGE_SIZE, "_headers": {"Accept": METADATA_ONLY},
                                       "_preload_content": False}
            if token:
                options["_continue"] = token
            response = await (call(list_all, **options) if namespace is None
                              else call(list_namespaced, namespace=namespace, **options))
            page = json.loads(response.read())
            items += [item["metadata"] for item in page.get("items") or []]  # an empty list says "items": null
            token = page["metadata"].get("continue")
            if not token:
                break
    return items


async def list_keys(plural: str, namespaces: Iterable[str] = ()) -> set[tuple[str, str]]:
    """(namespace, name) of every object of ours."""
    api = custom_objects()
    metadata = await _metadata_pages(functools.partial(api.list_cluster_custom_object, GROUP, VERSION, plural),
                                     functools.partial(api.list_namespaced_custom_object, GROUP, VERSION,
                                                       plural=plural), namespaces)
    return {(m.get("namespace") or "", m["name"]) for m in metadata}  # cluster-scoped: no namespace


async def list_owned_deployments(label: str, namespaces: Iterable[str] = ()) -> set[tuple[str, str]]:
    """(namespace, value of ``label``) of every Deployment carrying the label."""
    api = apps()
    metadata = await _metadata_pages(api.list_deployment_for_all_namespaces, api.list_namespaced_deployment,
                                     namespaces, label_selector=label)
    return {(m["namespace"], m["labels"][label]) for m in metadata}


def is_namespace_terminating(error: BaseException) -> bool:
    """The API server refuses to create objects in a namespace that is being deleted (403 with
    cause NamespaceTerminating): expected while a tenant tears down, never worth a retry."""
    return (isinstance(error, client.ApiException) and error.status == 403
            and "NamespaceTerminating" in str(error.body or ""))
