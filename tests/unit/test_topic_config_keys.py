"""Unknown topic config keys: one list (generated from Kafka's TopicConfig), the CRD rule that
holds the same list, and the spec model that repeats the rule for the operator and `kafkaops diff`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kafkaops.topics.config_keys import KAFKA_VERSION, TOPIC_CONFIG_KEYS
from kafkaops.topics.spec import parse_topic_spec
from kafkaops.types.errors import InvalidSpec

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def config_key_rule() -> dict[str, str]:
    spec = yaml.safe_load((REPO / "crds" / "kafkatopics.yaml").read_text())[
        "spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    [rule] = [r for r in spec["x-kubernetes-validations"] if "extraConfigKeys" in r["rule"]]
    return rule


def test_the_crd_rule_and_its_message_list_exactly_the_generated_keys():
    rule = config_key_rule()
    for expression in (rule["rule"], rule["messageExpression"]):
        [listed] = re.findall(r"k in \[([^\]]*)\]", expression)
        assert {key.strip().strip("'") for key in listed.split(",")} == TOPIC_CONFIG_KEYS
    assert KAFKA_VERSION in rule["messageExpression"]


@pytest.mark.parametrize(("config", "extra", "refused"), [
    ({"retention.ms": "1", "cleanup.policy": "compact"}, [], None),
    ({"retention.msx": "1"}, [], "retention.msx"),
    ({"retention.ms": "1", "zzz.unknown": "1", "aaa.unknown": "2"}, [], "aaa.unknown"),  # first in order, as CEL
    ({"confluent.placement.constraints": "{}"}, ["confluent.placement.constraints"], None),
    ({"confluent.placement.constraints": "{}", "retention.msx": "1"}, ["confluent.placement.constraints"],
     "retention.msx"),
    ({"leader.replication.throttled.replicas": "*"}, [], None),
])
def test_the_spec_model_refuses_unknown_keys_unless_named_as_extra(config, extra, refused):
    spec = {"partitions": 1, "config": config, **({"extraConfigKeys": extra} if extra else {})}
    if refused is None:
        assert parse_topic_spec(spec).config.keys() == config.keys()
        return
    with pytest.raises(InvalidSpec) as error:
        parse_topic_spec(spec)
    assert f'config key "{refused}" is not a Kafka {KAFKA_VERSION} topic config' in str(error.value)
    assert "spec.extraConfigKeys" in str(error.value)
