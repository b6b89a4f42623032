"""The Kafka side of a KafkaUser: its SCRAM credential and its ACLs, through confluent-kafka's
AdminClient (the ``UserAdmin`` Protocol of ``types.users``).

Like ``KafkaAdmin``, every call is one admin request whose futures complete on librdkafka's
thread and are awaited on the event loop (``asyncio.wrap_future``), never blocking it; each is
bounded by ``request_timeout`` (librdkafka's own) plus a short grace, after which it is
KafkaUnavailable. A KafkaUser's calls are few and small, so there is no batching across callers.

A password is passed to librdkafka as bytes and nowhere else: not logged, not in an exception
(the broker's and the client's messages are scrubbed of it, and exceptions are raised ``from
None`` so that no chained client exception carries it into a traceback).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AdminClient,
    ResourcePatternType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from confluent_kafka.admin import AclOperation as KafkaAclOperation
from confluent_kafka.admin import AclPermissionType as KafkaAclPermission
from confluent_kafka.admin import ResourceType as KafkaResourceType

from kafkaops.kafka.connection import scrub
from kafkaops.kafka.errors import translate
from kafkaops.kafka.fencing import fence_writes
from kafkaops.metrics import admin_request
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.users import (
    Acl,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
    ScramCredential,
)

log = logging.getLogger("kafkaops.kafka.users")

# Kafka accepts 4096..16384 iterations for SCRAM-SHA-512 (UNACCEPTABLE_CREDENTIAL otherwise);
# librdkafka has no default and needs one. Each authentication costs the broker this many HMACs.
SCRAM_ITERATIONS = 8192
MECHANISM = ScramMechanism.SCRAM_SHA_512
# librdkafka's futures carry their own timeout; this is how long we wait beyond it for one.
_GRACE_SECONDS = 5.0

# What these operations' rejections mean (over kafka.errors' table, which speaks of topics).
_REASONS: dict[int, str] = {
    KafkaError.INVALID_REQUEST: "InvalidRequest",
    KafkaError.UNACCEPTABLE_CREDENTIAL: "UnacceptableCredential",
    KafkaError.SECURITY_DISABLED: "SecurityDisabled",
    KafkaError.UNSUPPORTED_VERSION: "UnsupportedVersion",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "NotAuthorized",
}

_RESOURCE_TYPES = {ResourceType.TOPIC: KafkaResourceType.TOPIC, ResourceType.GROUP: KafkaResourceType.GROUP,
                   ResourceType.CLUSTER: KafkaResourceType.BROKER,  # librdkafka's name for Kafka's CLUSTER (4)
                   ResourceType.TRANSACTIONAL_ID: KafkaResourceType.TRANSACTIONAL_ID}
_PATTERN_TYPES = {PatternType.LITERAL: ResourcePatternType.LITERAL, PatternType.PREFIXED: ResourcePatternType.PREFIXED}
_OPERATIONS = {operation: KafkaAclOperation[operation.name] for operation in AclOperation}
_PERMISSIONS = {permission: KafkaAclPermission[permission.name] for permission in AclPermission}
_MECHANISM_NAMES = {ScramMechanism.SCRAM_SHA_512: "SCRAM-SHA-512", ScramMechanism.SCRAM_SHA_256: "SCRAM-SHA-256"}


def _inverse(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    return {value: key for key, value in mapping.items()}


_FROM_RESOURCE_TYPES, _FROM_PATTERN_TYPES = _inverse(_RESOURCE_TYPES), _inverse(_PATTERN_TYPES)
_FROM_OPERATIONS, _FROM_PERMISSIONS = _inverse(_OPERATIONS), _inverse(_PERMISSIONS)


def _binding(acl: Acl, kind: type[AclBinding] = AclBinding) -> AclBinding:
    """The ACL as a binding (to create) or as the filter that matches exactly it (to delete)."""
    return kind(_RESOURCE_TYPES[acl.resource_type], acl.resource_name, _PATTERN_TYPES[acl.pattern_type],
                acl.principal, acl.host, _OPERATIONS[acl.operation], _PERMISSIONS[acl.permission])


def _acl(binding: AclBinding) -> Acl | None:
    """The binding as an ``Acl``; None for one this library cannot name (an operation or
    resource type librdkafka reports as UNKNOWN, e.g. a CreateTokens ACL made with Java tools)."""
    try:
        return Acl(resource_type=_FROM_RESOURCE_TYPES[binding.restype], resource_name=binding.name,
                   pattern_type=_FROM_PATTERN_TYPES[binding.resource_pattern_type], principal=binding.principal,
                   host=binding.host, operation=_FROM_OPERATIONS[binding.operation],
                   permission=_FROM_PERMISSIONS[binding.permission_type])
    except (KeyError, ValueError):
        return None


class KafkaUserAdmin:
    """SCRAM credentials and ACLs of one cluster; ``client_config`` must be a super user's (or one
    with Alter and Describe on the cluster resource)."""

    def __init__(self, client_config: Mapping[str, Any], *, request_timeout: float = 30.0,
                 iterations: int = SCRAM_ITERATIONS) -> None:
        config = dict(client_config)
        config.setdefault("logger", logging.getLogger("kafkaops.kafka.librdkafka"))
        self._client = AdminClient(config)
        self._timeout = request_timeout
        self._iterations = iterations

    # ---- SCRAM credentials ---------------------------------------------------------------

    async def upsert_scram_credential(self, username: str, password: str) -> None:
        """Create or replace the user's SCRAM-SHA-512 credential. The salt is left to librdkafka
        (random per call), so the same password upserted twice is two different credentials
        that both accept it: this is a write each time, call it only for a new or changed password."""
        upsertion = UserScramCredentialUpsertion(username, ScramCredentialInfo(MECHANISM, self._iterations),
                                                 password.encode())
        try:
            await self._alter([upsertion], username)
        except (KafkaRejected, KafkaUnavailable) as error:
            raise _scrubbed(error, password) from None

    async def describe_scram_credentials(self, username: str) -> tuple[ScramCredential, ...]:
        """The user's SCRAM credentials (mechanism and iterations), () when it has none."""
        with admin_request("describe_user_scram_credentials", 1):
            futures = self._call(self._client.describe_user_scram_credentials, [username],
                                 request_timeout=self._timeout)
            (outcome,) = await self._settle(futures, [username], "describe_user_scram_credentials")
        if _not_found(outcome):
            return ()
        if isinstance(outcome, BaseException):
            raise outcome
        return tuple(ScramCredential(username=username, mechanism=_MECHANISM_NAMES.get(info.mechanism, "UNKNOWN"),
                                     iterations=info.iterations) for info in outcome.scram_credential_infos)

    async def delete_scram_credential(self, username: str) -> None:
        """Delete every SCRAM credential of the user (SCRAM-SHA-256 too, if someone made one: the
        user must no longer authenticate). None left is fine. Kafka answers a deletion of a
        mechanism the user lacks with RESOURCE_NOT_FOUND for the whole user, so the present ones
        are described first and only they are deleted."""
        mechanisms = {c.mechanism for c in await self.describe_scram_credentials(username)}
        deletions = [UserScramCredentialDeletion(username, mechanism) for mechanism, name in _MECHANISM_NAMES.items()
                     if name in mechanisms]
        if not deletions:
            return
        try:
            await self._alter(deletions, username)
        except KafkaRejected as error:
            if error.code != KafkaError.RESOURCE_NOT_FOUND:  # deleted meanwhile: still gone
                raise

    async def _alter(self, alterations: list[Any], username: str) -> None:
        with admin_request("alter_user_scram_credentials", len(alterations)):
            futures = self._call(self._client.alter_user_scram_credentials, alterations,
                                 request_timeout=self._timeout)
            (outcome,) = await self._settle(futures, [username], "alter_user_scram_credentials")
        if isinstance(outcome, BaseException):
            raise outcome

    # ---- ACLs ----------------------------------------------------------------------------

    async def describe_acls(self, principal: str) -> frozenset[Acl]:
        """Every ACL of ``principal`` (exactly this string, e.g. ``User:team-a.app``), on any
        resource, pattern, host and operation. One the library cannot name is left out (logged)."""
        with admin_request("describe_acls", 1):
            future = self._call(self._client.describe_acls, _everything_of(principal), request_timeout=self._timeout)
            (outcome,) = await self._settle({principal: future}, [principal], "describe_acls")
        if isinstance(outcome, BaseException):
            raise outcome
        acls = set()
        for binding in outcome:
            acl = _acl(binding)
            if acl is None:
                log.warning("an ACL of %s on %r is left out: librdkafka does not know its resource type or "
                            "operation (%s, %s); only delete_all_acls removes it", principal, binding.name,
                            binding.restype, binding.operation)
            else:
                acls.add(acl)
        return frozenset(acls)

    async def create_acls(self, acls: Collection[Acl]) -> None:
        """Create the ACLs in one request (an existing one is not an error: Kafka keeps one copy).
        The first rejection is raised after all have been answered."""
        bindings = [_binding(acl) for acl in sorted(set(acls))]
        if not bindings:
            return
        with admin_request("create_acls", len(bindings)):
            futures = self._call(self._client.create_acls, bindings, request_timeout=self._timeout)
            outcomes = await self._settle(futures, bindings, "create_acls")
        _raise_first(outcomes)

    async def delete_acls(self, acls: Collection[Acl]) -> None:
        """Delete exactly these ACLs (one exact filter each, in one request); a missing one is fine."""
        filters = [_binding(acl, AclBindingFilter) for acl in sorted(set(acls))]
        if not filters:
            return
        with admin_request("delete_acls", len(filters)):
            futures = self._call(self._client.delete_acls, filters, request_timeout=self._timeout)
            outcomes = await self._settle(futures, filters, "delete_acls")
        _raise_first(outcomes)

    async def delete_all_acls(self, principal: str) -> int:
        """Delete every ACL of ``principal``, those ``describe_acls`` leaves out too (what deleting
        a KafkaUser needs); no other principal's. Returns how many were deleted (0 is fine)."""
        binding_filter = _everything_of(principal)
        with admin_request("delete_acls", 1):
            futures = self._call(self._client.delete_acls, [binding_filter], request_timeout=self._timeout)
            (outcome,) = await self._settle(futures, [binding_filter], "delete_acls")
        if isinstance(outcome, BaseException):
            raise outcome
        return len(outcome)

    # ---- waiting on librdkafka -----------------------------------------------------------

    async def _settle(self, futures: Mapping[Any, concurrent.futures.Future[Any]], keys: list[Any],
                      operation: str) -> list[Any]:
        """Per key, the result or the translated exception; KafkaUnavailable for all if the answer
        does not come within the request timeout and a grace."""
        pending = [futures[key] for key in keys]
        try:
            await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True),
                                   self._timeout + _GRACE_SECONDS)
        except TimeoutError:
            raise KafkaUnavailable(f"no answer to {operation} within {self._timeout + _GRACE_SECONDS:g}s") from None
        return [translate(error, _REASONS) if (error := f.exception()) is not None else f.result() for f in pending]

    @staticmethod
    def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Invoke an admin method; a local failure (bad argument, client closed) is translated."""
        fence_writes(method, kwargs)
        try:
            return method(*args, **kwargs)
        except KafkaException as error:
            raise translate(error, _REASONS) from None
        except (TypeError, ValueError) as error:
            raise KafkaRejected("InvalidRequest", str(error)) from None


def _everything_of(principal: str) -> AclBindingFilter:
    """A filter for every ACL of exactly ``principal`` (an exact string match on the broker)."""
    return AclBindingFilter(KafkaResourceType.ANY, None, ResourcePatternType.ANY, principal, None,
                            KafkaAclOperation.ANY, KafkaAclPermission.ANY)


def _not_found(outcome: object) -> bool:
    return isinstance(outcome, KafkaRejected) and outcome.code == KafkaError.RESOURCE_NOT_FOUND


def _raise_first(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _scrubbed(error: KafkaRejected | KafkaUnavailable, password: str) -> Exception:
    """The same error with the password (should a message ever echo it) replaced by ``***``."""
    if isinstance(error, KafkaRejected):
        return KafkaRejected(error.reason, scrub(error.message, [password]), error.code)
    return KafkaUnavailable(scrub(str(error), [password]))


__all__ = ["SCRAM_ITERATIONS", "KafkaUserAdmin"]
