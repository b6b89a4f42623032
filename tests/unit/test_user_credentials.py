"""Where a KafkaUser's password comes from, and when the broker must be told (table tests)."""

from __future__ import annotations

import base64

import pytest

from kafkaops.types.users import SecretView
from kafkaops.users.credentials import (
    SecretProblem,
    credential_due,
    named_password,
    own_password,
)

pytestmark = pytest.mark.unit
MINE = SecretView({"username": "ns.app", "password": "kept"}, "41", ("uid-1",))


def plan(secret: SecretView | None, rotate: bool = False):
    return own_password(name="app", namespace="ns", uid="uid-1", username="ns.app", secret=secret, rotate=rotate)


def test_an_existing_password_is_kept_and_nothing_is_written():
    kept = plan(MINE)
    assert (kept.password, kept.write) == ("kept", None)


@pytest.mark.parametrize(("secret", "rotate", "replaces"), [
    (None, False, None),  # no Secret (or deleted: that rotates): a new one is created
    (MINE, True, "41"),  # the rotate annotation changed: replaced, conditionally on the version read
    (SecretView({"username": "ns.app"}, "7", ("uid-1",)), False, "7"),  # no password in it
])
def test_a_new_password_goes_into_the_users_own_secret(secret, rotate, replaces):
    made = plan(secret, rotate)
    assert made.write is not None and made.replace_version == replaces
    assert len(made.password) >= 32 and made.password != "kept"
    data = {k: base64.b64decode(v).decode() for k, v in made.write["data"].items()}
    assert data == {"username": "ns.app", "password": made.password}
    (owner,) = made.write["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("KafkaUser", "uid-1", True)
    assert plan(None).password != made.password


def test_a_secret_of_the_same_name_that_is_not_ours_is_left_alone():
    with pytest.raises(SecretProblem) as refused:
        plan(SecretView({"password": "theirs"}, "3", ("someone-else",)))
    assert refused.value.reason == "SecretConflict" and "theirs" not in refused.value.message


@pytest.mark.parametrize(("secret", "reason"), [
    (None, "SecretNotFound"),
    (SecretView({"other": "x"}, "1", ()), "SecretNotFound"),
])
def test_a_named_secret_must_hold_the_password(secret, reason):
    with pytest.raises(SecretProblem) as missing:
        named_password("byo", "password", secret)
    assert missing.value.reason == reason and "byo" in missing.value.message
    assert named_password("byo", "pw", SecretView({"pw": "s3cret"}, "1", ())) == "s3cret"


@pytest.mark.parametrize(("secret_version", "applied", "on_broker", "due"), [
    ("5", "5", True, False),  # the same password the broker has: never salted anew
    ("6", "5", True, True),  # a rotated or edited Secret
    ("5", None, True, True),  # first reconcile
    ("5", "5", False, True),  # removed from the broker behind our back
])
def test_the_credential_is_written_only_when_it_changed_or_went_missing(secret_version, applied, on_broker, due):
    assert credential_due(secret_version=secret_version, applied_version=applied,
                          broker_has_credential=on_broker) is due
