"""Which API refusals are expected (pure reading of a real API server's answer)."""

from __future__ import annotations

import json

import pytest
from kubernetes.client import ApiException

from kafkaops.kube.api import is_namespace_terminating

pytestmark = pytest.mark.unit

# What kube-apiserver v1.36 answers to a create in a namespace being deleted.
TERMINATING = json.dumps({
    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
    "message": 'events "x.1" is forbidden: unable to create new content in namespace t-1 because it is being '
               "terminated",
    "details": {"name": "x.1", "kind": "events", "causes": [
        {"reason": "NamespaceTerminating", "message": "namespace t-1 is being terminated",
         "field": "metadata.namespace"}]}})


def refusal(status: int, body: str) -> ApiException:
    error = ApiException(status=status, reason="Forbidden")
    error.body = body
    return error


@pytest.mark.parametrize(("error", "expected"), [
    (refusal(403, TERMINATING), True),
    (refusal(403, json.dumps({"kind": "Status", "reason": "Forbidden", "code": 403,
                              "message": 'User "x" cannot patch resource "deployments"'})), False),  # RBAC
    (refusal(409, TERMINATING), False),
    (RuntimeError("NamespaceTerminating"), False),
])
def test_only_a_terminating_namespace_is_an_expected_refusal(error, expected):
    assert is_namespace_terminating(error) is expected
