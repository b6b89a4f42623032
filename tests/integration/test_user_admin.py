"""The KafkaUser adapter against the secured broker (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer,
no ACL means no access): a credential it writes lets that user in and nothing more than its ACLs
allow, the ACL diff converges and then writes nothing, drift shows, deleting is idempotent and
leaves other principals alone. Every wait is a poll with a deadline."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import ACL, ACLOperation, ACLPermissionType, KafkaAdminClient, ResourcePattern
from kafka.admin import ResourceType as KafkaPythonResourceType

from kafkaops.harness.kafka import SCRAM_MECHANISM, KafkaCluster
from kafkaops.kafka.users import SCRAM_ITERATIONS, KafkaUserAdmin
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.users import Acl, AclOperation, AclPermission, PatternType, ResourceType, principal_for
from kafkaops.users.acls import acl_changes, consumer_acls, sync_acls, username_for

pytestmark = pytest.mark.integration
WAIT = 30.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_user() -> tuple[str, str]:
    return username_for("it", unique("user")), secrets.token_urlsafe(24)


def user_config(cluster: KafkaCluster, username: str, password: str) -> dict[str, Any]:
    """What an application with this user's Secret configures."""
    assert cluster.security is not None
    return {"bootstrap.servers": cluster.bootstrap_servers, "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(cluster.security.ca_pem_path), "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.username": username, "sasl.password": password}


def make_topics(cluster: KafkaCluster, *names: str) -> None:
    admin = AdminClient(cluster.client_config())
    for future in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        future.result(WAIT)
    producer = Producer(cluster.client_config())
    for name in names:
        producer.produce(name, value=f"hello {name}".encode())
    assert producer.flush(WAIT) == 0


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        time.sleep(0.2)


async def described_once(admin: KafkaUserAdmin, principal: str, settled: Callable[[frozenset[Acl]], bool],
                         timeout: float = WAIT) -> frozenset[Acl]:
    """The principal's ACLs once ``settled`` holds, or as last seen after ``timeout`` seconds.

    An ACL write is acknowledged before every broker's metadata image has applied it, so a describe
    right after a write may still show the old set (CI saw a deleted ACL described once more)."""
    deadline = time.monotonic() + timeout
    while not settled(described := await admin.describe_acls(principal)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return described


def authenticates(cluster: KafkaCluster, username: str, password: str, timeout: float = 15.0) -> bool:
    """True if a fresh client gets a metadata answer as this user; False on an authentication error."""
    errors: list[KafkaError] = []
    admin = AdminClient({**user_config(cluster, username, password), "error_cb": errors.append})
    future = admin.describe_cluster(request_timeout=timeout)
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        admin.poll(0.1)
        if any(e.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED) for e in errors):
            return False
    assert future.done(), f"neither an answer nor an authentication error within {timeout:g}s: {errors}"
    try:
        future.result()
    except KafkaException:
        return False
    return True


def consume_first(config: dict[str, Any], topic: str, group: str) -> tuple[bytes | None, int | None]:
    """(value, None) of the first message of ``topic`` read in ``group`` and committed, or
    (None, error code) of the first error the consumer gets instead, within the deadline."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                return None, message.error().code()
            consumer.commit(message, asynchronous=False)
            return message.value(), None
        raise AssertionError(f"no message and no error from {topic} within {WAIT:g}s")
    finally:
        consumer.close()


def create_tokens_acl(cluster: KafkaCluster, principal: str) -> None:
    """A CreateTokens ACL on a USER resource (KIP-373), which librdkafka knows neither half of:
    made with kafka-python, as a Java tool would."""
    assert cluster.security is not None
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, security_protocol="SASL_SSL",
                             ssl_cafile=str(cluster.security.ca_pem_path), sasl_mechanism=SCRAM_MECHANISM,
                             sasl_plain_username=cluster.security.admin_user,
                             sasl_plain_password=cluster.security.admin_password)
    try:
        result = admin.create_acls([ACL(principal, "*", ACLOperation.CREATE_TOKENS, ACLPermissionType.ALLOW,
                                        ResourcePattern(KafkaPythonResourceType.USER, principal.split(":", 1)[1]))])
    finally:
        admin.close()
    assert not result["failed"], result


class CountingAdmin(KafkaUserAdmin):
    """The real adapter, counting the write requests it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0

    async def create_acls(self, acls: Collection[Acl]) -> None:
        self.writes += 1
        await super().create_acls(acls)

    async def delete_acls(self, acls: Collection[Acl]) -> None:
        self.writes += 1
        await super().delete_acls(acls)


def test_a_scram_user_gets_in_and_reads_only_what_its_acls_grant(secured_kafka: KafkaCluster):
    username, password = new_user()
    principal = principal_for(username)
    allowed, forbidden, group = unique("users-allowed"), unique("users-forbidden"), unique("users-group")
    make_topics(secured_kafka, allowed, forbidden)
    desired = consumer_acls(principal, [allowed], group)

    async def grant() -> tuple[object, ...]:
        admin = KafkaUserAdmin(secured_kafka.client_config())
        await admin.upsert_scram_credential(username, password)
        credentials = await admin.describe_scram_credentials(username)
        changes = await sync_acls(admin, principal, desired)
        return credentials, changes, await described_once(admin, principal, lambda acls: acls == desired)

    credentials, (created, deleted), described = asyncio.run(grant())
    assert [(c.username, c.mechanism, c.iterations) for c in credentials] == [
        (username, "SCRAM-SHA-512", SCRAM_ITERATIONS)]
    assert (created, deleted) == (desired, frozenset())
    assert described == desired  # exactly: 2 topic ACLs + 1 group ACL, as written

    config = user_config(secured_kafka, username, password)
    listed = eventually(lambda: AdminClient(config).list_topics(timeout=10).topics, "the user lists topics")
    assert allowed in listed and forbidden not in listed  # Describe on its topic only
    assert consume_first(config, allowed, group) == (f"hello {allowed}".encode(), None)
    assert consume_first(config, forbidden, group) == (None, KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert consume_first(config, allowed, unique("users-other-group")) == (None, KafkaError.GROUP_AUTHORIZATION_FAILED)
    assert not authenticates(secured_kafka, username, password + "x")


def test_acl_diff_converges_writes_nothing_twice_sees_drift_and_spares_other_principals(secured_kafka: KafkaCluster):
    me, other = principal_for(new_user()[0]), principal_for(new_user()[0])
    topic, prefix, group = unique("users-acl"), unique("users-prefix") + ".", unique("users-acl-group")

    def acl(name: str, operation: AclOperation, *, principal: str = me, resource: ResourceType = ResourceType.TOPIC,
            pattern: PatternType = PatternType.LITERAL, permission: AclPermission = AclPermission.ALLOW) -> Acl:
        return Acl(resource_type=resource, resource_name=name, pattern_type=pattern, principal=principal,
                   operation=operation, permission=permission)

    desired = frozenset({
        acl(topic, AclOperation.READ), acl(topic, AclOperation.DESCRIBE_CONFIGS),
        acl(prefix, AclOperation.WRITE, pattern=PatternType.PREFIXED),
        acl(group, AclOperation.READ, resource=ResourceType.GROUP),
        acl("kafka-cluster", AclOperation.IDEMPOTENT_WRITE, resource=ResourceType.CLUSTER),
        acl(unique("tx"), AclOperation.WRITE, resource=ResourceType.TRANSACTIONAL_ID),
        acl(topic, AclOperation.WRITE, permission=AclPermission.DENY),
    })
    theirs = frozenset({acl(topic, AclOperation.READ, principal=other), acl(topic, AclOperation.ALL, principal=other)})
    stray = acl(topic, AclOperation.ALTER)  # ours on the broker, not in the spec: to be removed
    removed_by_hand = acl(group, AclOperation.READ, resource=ResourceType.GROUP)

    async def scenario() -> dict[str, object]:
        admin = CountingAdmin(secured_kafka.client_config())
        seen: dict[str, object] = {}
        create_tokens_acl(secured_kafka, me)  # one librdkafka cannot name: describe leaves it out
        await admin.create_acls(theirs | {stray})
        await admin.create_acls(theirs)  # again: Kafka keeps one copy, no error
        await described_once(admin, me, lambda acls: stray in acls)
        admin.writes = 0
        seen["first"] = await sync_acls(admin, me, desired)
        seen["first_writes"] = admin.writes
        seen["after_first"] = await described_once(admin, me, lambda acls: acls == desired)
        seen["second"] = await sync_acls(admin, me, desired)
        seen["second_writes"] = admin.writes - seen["first_writes"]
        await admin.delete_acls({removed_by_hand})  # a hand-removed ACL...
        seen["drift"] = acl_changes(  # ...is seen missing
            desired, await described_once(admin, me, lambda acls: removed_by_hand not in acls), principal=me)
        seen["repair"] = await sync_acls(admin, me, desired)
        await described_once(admin, me, lambda acls: removed_by_hand in acls)
        await admin.delete_acls({removed_by_hand, acl(unique("never-there"), AclOperation.READ)})  # one missing
        seen["deleted"] = await admin.delete_all_acls(me)  # the KafkaUser's deletion
        seen["deleted_again"] = await admin.delete_all_acls(me)
        await admin.delete_acls(desired)  # nothing there: no error
        seen["mine_left"] = await described_once(admin, me, lambda acls: not acls)
        seen["theirs_left"] = await admin.describe_acls(other)
        with pytest.raises(KafkaRejected) as rejected:
            await admin.create_acls({acl("my-cluster", AclOperation.DESCRIBE, resource=ResourceType.CLUSTER)})
        seen["rejected"] = rejected.value
        await admin.delete_acls(theirs)
        return seen

    seen = asyncio.run(scenario())
    assert seen["first"] == (desired, frozenset({stray}))
    assert seen["first_writes"] == 2
    assert seen["after_first"] == desired
    assert seen["second"] == (frozenset(), frozenset()) and seen["second_writes"] == 0
    assert seen["drift"] == (frozenset({removed_by_hand}), frozenset())
    assert seen["repair"] == (frozenset({removed_by_hand}), frozenset())
    # desired less the group ACL deleted again on purpose, plus the CreateTokens ACL describe cannot show
    assert (seen["deleted"], seen["deleted_again"]) == (len(desired) - 1 + 1, 0)
    assert seen["mine_left"] == frozenset()
    assert seen["theirs_left"] == theirs
    assert seen["rejected"].reason == "InvalidRequest"
    assert "kafka-cluster" in seen["rejected"].message


def test_deleting_the_credential_locks_the_user_out_and_is_idempotent(secured_kafka: KafkaCluster):
    username, password = new_user()

    async def create() -> None:
        await KafkaUserAdmin(secured_kafka.client_config()).upsert_scram_credential(username, password)

    async def delete() -> tuple[object, ...]:
        admin = KafkaUserAdmin(secured_kafka.client_config())
        await admin.delete_scram_credential(username)
        await admin.delete_scram_credential(username)  # nothing left: not an error
        await admin.delete_scram_credential(new_user()[0])  # never existed: not an error
        return await admin.describe_scram_credentials(username)

    asyncio.run(create())
    eventually(lambda: authenticates(secured_kafka, username, password), "the new user authenticates")
    assert asyncio.run(delete()) == ()
    eventually(lambda: not authenticates(secured_kafka, username, password), "the deleted user is refused")


def test_a_rejected_credential_names_the_reason_and_never_the_password(secured_kafka: KafkaCluster):
    username, password = new_user()

    async def upsert(iterations: int) -> None:
        await KafkaUserAdmin(secured_kafka.client_config(), iterations=iterations).upsert_scram_credential(
            username, password)

    with pytest.raises(KafkaRejected) as rejected:
        asyncio.run(upsert(1000))  # Kafka wants 4096..16384
    assert rejected.value.reason == "UnacceptableCredential"
    assert "iterations" in rejected.value.message
    assert rejected.value.__cause__ is None and rejected.value.__suppress_context__  # no chained client error
    assert password not in repr(rejected.value.args) and password not in rejected.value.message


def test_an_unreachable_cluster_is_unavailable_within_the_timeout():
    async def scenario() -> None:
        admin = KafkaUserAdmin({"bootstrap.servers": "127.0.0.1:1"}, request_timeout=2)
        await admin.describe_acls("User:nobody")

    started = time.monotonic()
    with pytest.raises(KafkaUnavailable):
        asyncio.run(scenario())
    assert time.monotonic() - started < 10
