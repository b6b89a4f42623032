"""Where a KafkaUser's password comes from, and when the broker must be told (pure).

A generated password lives in the Secret named like the KafkaUser, owned by it (keys
``username`` and ``password``). A new password is generated when that Secret is missing (deleting
it rotates the password), lacks one, or when the ``kafkaops.io/rotate-password`` annotation takes a
value not yet handled. A Secret of that name the KafkaUser does not own is never overwritten. The
broker's credential is rewritten only when the Secret's resourceVersion differs from the one last
applied (status ``credentialSecretVersion``) or the broker has none: each upsert salts anew, so an
unchanged password is never written again.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from kafkaops import GROUP
from kafkaops.types.users import SecretView

ROTATE_ANNOTATION = f"{GROUP}/rotate-password"
PASSWORD_BYTES = 24  # 32 URL-safe characters


@dataclass(frozen=True)
class PasswordPlan:
    """``write``: the Secret to create or replace (None: use ``password`` as it is)."""

    password: str
    write: dict[str, Any] | None = None
    replace_version: str | None = None  # with ``write``: replace this version (conditional), else create


class SecretProblem(Exception):
    """Ready=False with this reason and message (names the Secret, never a value)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def generated_secret(*, name: str, namespace: str, owner_uid: str, username: str, password: str) -> dict[str, Any]:
    """The KafkaUser's own Secret: deleted with it (ownerReference), readable by its namespace's pods."""
    def encoded(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kafkaops"},
                         "ownerReferences": [{"apiVersion": f"{GROUP}/v1alpha1", "kind": "KafkaUser", "name": name,
                                              "uid": owner_uid, "controller": True, "blockOwnerDeletion": True}]},
            "data": {"username": encoded(username), "password": encoded(password)}}


def own_password(*, name: str, namespace: str, uid: str, username: str, secret: SecretView | None,
                 rotate: bool) -> PasswordPlan:
    """The password of a KafkaUser without ``passwordSecretRef``: kept, or generated into its Secret."""
    if secret is not None and uid not in secret.owners:
        raise SecretProblem("SecretConflict", f"Secret {name!r} exists and does not belong to this KafkaUser; it is "
                            "left alone: delete it or name it in spec.authentication.passwordSecretRef")
    if secret is not None and secret.data.get("password") and not rotate:
        return PasswordPlan(secret.data["password"])
    password = new_password()
    manifest = generated_secret(name=name, namespace=namespace, owner_uid=uid, username=username, password=password)
    return PasswordPlan(password, manifest, secret.version if secret is not None else None)


def named_password(name: str, key: str, secret: SecretView | None) -> str:
    """A password the user keeps in its own Secret (``passwordSecretRef``)."""
    if secret is None:
        raise SecretProblem("SecretNotFound", f"Secret {name!r} named in spec.authentication.passwordSecretRef "
                            "does not exist")
    password = secret.data.get(key, "")
    if not password:
        raise SecretProblem("SecretNotFound", f"Secret {name!r} has no key {key!r} with a password")
    return password


def credential_due(*, secret_version: str, applied_version: str | None, broker_has_credential: bool) -> bool:
    return not broker_has_credential or secret_version != applied_version
