"""The leader lease as a ``coordination.k8s.io/v1`` Lease: the real ``LeaseStore`` for
``kafkaops.leadership``. Writes are conditional on the resource version last read, so of two
processes writing at once exactly one wins and the other gets 409 Conflict (and re-reads)."""

from __future__ import annotations

import json
from pathlib import Path

import urllib3
from kubernetes import client

from kafkaops.leadership import Conflict, LeaseRecord, LeaseUnavailable

NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def lease_namespace(configured: str | None, namespace_file: Path = NAMESPACE_FILE) -> str:
    """The operator's own namespace: configured, else the pod's (in-cluster), else ``default``."""
    if configured:
        return configured
    try:
        return namespace_file.read_text().strip() or "default"
    except OSError:
        return "default"


class KubeLeaseStore:
    """One Lease, read and written whole."""

    def __init__(self, api: client.CoordinationV1Api, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    def get(self, timeout: float) -> LeaseRecord | None:
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=timeout)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise LeaseUnavailable(_describe(error)) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise LeaseUnavailable(str(error)) from error
        return record_of(lease)

    def create(self, record: LeaseRecord, timeout: float) -> LeaseRecord:
        return self._write(record, timeout, create=True)

    def replace(self, record: LeaseRecord, timeout: float) -> LeaseRecord:
        return self._write(record, timeout, create=False)

    def _write(self, record: LeaseRecord, timeout: float, *, create: bool) -> LeaseRecord:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                         resource_version=record.resource_version),
            spec=client.V1LeaseSpec(holder_identity=record.holder,
                                    lease_duration_seconds=record.lease_duration_seconds,
                                    acquire_time=record.acquire_time, renew_time=record.renew_time,
                                    lease_transitions=record.transitions))
        try:
            if create:
                written = self.api.create_namespaced_lease(self.namespace, body, _request_timeout=timeout)
            else:
                written = self.api.replace_namespaced_lease(self.name, self.namespace, body,
                                                            _request_timeout=timeout)
        except client.ApiException as error:
            if error.status == 409:
                raise Conflict(_describe(error)) from error
            raise LeaseUnavailable(_describe(error)) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise LeaseUnavailable(str(error)) from error
        return record_of(written)


def record_of(lease: client.V1Lease) -> LeaseRecord:
    spec = lease.spec or client.V1LeaseSpec()
    return LeaseRecord(holder=spec.holder_identity or None, lease_duration_seconds=spec.lease_duration_seconds,
                       acquire_time=spec.acquire_time, renew_time=spec.renew_time,
                       transitions=spec.lease_transitions or 0, resource_version=lease.metadata.resource_version)


def _describe(error: client.ApiException) -> str:
    """Status and the API server's message (which names what RBAC refused)."""
    try:
        message = json.loads(error.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{error.status} {error.reason}" + (f": {message}" if message else "")
