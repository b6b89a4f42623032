"""The KafkaUser adapter without a broker: every ACL value survives the trip through
confluent-kafka's types, broker errors read as the right reasons, and the adapter has the
Protocol's exact methods."""

from __future__ import annotations

import inspect
import itertools

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AclBindingFilter, ResourceType

from kafkaops.kafka.errors import translate
from kafkaops.kafka.users import _REASONS, KafkaUserAdmin, _acl, _binding
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.users import Acl, AclOperation, AclPermission, PatternType, UserAdmin
from kafkaops.types.users import ResourceType as AclResourceType

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("resource_type", "pattern", "operation", "permission"),
                         list(itertools.product(AclResourceType, PatternType, AclOperation, AclPermission)))
def test_every_acl_round_trips_through_a_binding(resource_type, pattern, operation, permission):
    acl = Acl(resource_type=resource_type, resource_name="name", pattern_type=pattern, principal="User:u",
              operation=operation, permission=permission, host="10.0.0.1")
    assert _acl(_binding(acl)) == acl
    exact = _binding(acl, AclBindingFilter)
    assert isinstance(exact, AclBindingFilter) and exact._to_tuple() == _binding(acl)._to_tuple()


def test_the_cluster_resource_is_librdkafkas_broker_type():
    acl = Acl(resource_type=AclResourceType.CLUSTER, resource_name="kafka-cluster", pattern_type=PatternType.LITERAL,
              principal="User:u", operation=AclOperation.IDEMPOTENT_WRITE, permission=AclPermission.ALLOW)
    assert _binding(acl).restype is ResourceType.BROKER


@pytest.mark.parametrize(("code", "reason"), [
    (KafkaError.INVALID_REQUEST, "InvalidRequest"),
    (KafkaError.UNACCEPTABLE_CREDENTIAL, "UnacceptableCredential"),
    (KafkaError.SECURITY_DISABLED, "SecurityDisabled"),
    (KafkaError.UNSUPPORTED_VERSION, "UnsupportedVersion"),
    (KafkaError.CLUSTER_AUTHORIZATION_FAILED, "NotAuthorized"),
    (KafkaError.RESOURCE_NOT_FOUND, "KafkaError"),  # the adapter decides per call what "not found" means
])
def test_rejections_read_as_reasons(code, reason):
    error = translate(KafkaException(KafkaError(code, "broker says no")), _REASONS)
    assert isinstance(error, KafkaRejected) and (error.reason, error.code) == (reason, code)
    assert "broker says no" in error.message


def test_the_topic_reading_of_invalid_request_is_unchanged_without_reasons():
    error = translate(KafkaException(KafkaError(KafkaError.INVALID_REQUEST, "x")))
    assert isinstance(error, KafkaRejected) and error.reason == "InvalidConfig"


@pytest.mark.parametrize("code", [KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN])
def test_transport_failures_are_unavailable(code):
    assert isinstance(translate(KafkaException(KafkaError(code, "gone")), _REASONS), KafkaUnavailable)


def test_the_adapter_has_the_protocols_methods_with_the_same_signatures():
    methods = {name for name, value in vars(UserAdmin).items() if inspect.iscoroutinefunction(value)}
    assert methods
    for name in methods:
        assert inspect.signature(getattr(KafkaUserAdmin, name)) == inspect.signature(getattr(UserAdmin, name)), name
