"""A share-group ConsumerApp (spec.groupType: share) against a classic one: the spec, the scaling
policy it yields and the containers' environment."""

from __future__ import annotations

import pytest

from kafkaops.consumers.deployment import desired_deployment
from kafkaops.consumers.spec import parse_consumer_spec
from kafkaops.types.clusters import ClientSettings
from kafkaops.types.errors import InvalidSpec

pytestmark = pytest.mark.unit

BASE = {"topics": ["jobs"], "template": {"spec": {"containers": [{"name": "c", "image": "worker:1"}]}}}


def env_of(raw: dict) -> dict[str, str]:
    deployment = desired_deployment(name="jobs", namespace="ns", uid="u", spec=parse_consumer_spec(raw), replicas=1,
                                    clients=ClientSettings(bootstrap_servers="k:9092"))
    return {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize(("group_type", "share_group", "env_type"), [
    (None, False, None),  # default: a classic consumer group, env as before (no pods rolled by an upgrade)
    ("consumer", False, None),
    ("share", True, "share"),
])
def test_group_type(group_type, share_group, env_type):
    raw = {**BASE, **({"groupType": group_type} if group_type else {})}
    spec = parse_consumer_spec(raw)
    assert spec.group_type == (group_type or "consumer")
    assert spec.policy().share_group is share_group
    env = env_of(raw)
    assert env.get("KAFKA_GROUP_TYPE") == env_type
    assert (env["KAFKA_GROUP_ID"], env["KAFKA_TOPICS"], env["KAFKA_AUTO_OFFSET_RESET"]) == ("jobs", "jobs", "latest")


def test_an_unknown_group_type_is_refused():
    with pytest.raises(InvalidSpec) as error:
        parse_consumer_spec({**BASE, "groupType": "queue"})
    assert "groupType" in str(error.value)
