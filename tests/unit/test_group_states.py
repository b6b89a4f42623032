"""Group protocol, state and members (kafkaops.kafka.group_states): ListGroups answers of every version
read into statuses, which groups are then described where, the describe answers of each protocol
decoded from their bytes, and ConsumerGroupDescribe's request on the wire. The real broker's answers
are tested in tests/integration/test_group_offsets.py."""

from __future__ import annotations

import pytest
from kafka.protocol.admin import DescribeGroupsResponse, ListGroupsResponse

from kafkaops.kafka import group_states
from kafkaops.kafka.group_states import ConsumerGroupDescribeResponse
from kafkaops.kafka.share_groups import ShareGroupDescribeResponse
from kafkaops.types.errors import KafkaRejected, KafkaUnavailable
from kafkaops.types.groups import NOT_FOUND, GroupStatus

pytestmark = pytest.mark.unit

Listed = ListGroupsResponse.ListedGroup


def listing(groups: list[tuple[str, str, str]], version: int = 5, error: int = 0) -> ListGroupsResponse:
    """A ListGroups answer of (group, type, state) as ``version`` carries it (from its bytes)."""
    response = ListGroupsResponse(throttle_time_ms=0, error_code=error, version=version, groups=[
        Listed(group_id=g, protocol_type="consumer", group_state=state, group_type=type_)
        for g, type_, state in groups])
    return ListGroupsResponse.decode(response.encode(version=version), version=version)


@pytest.mark.parametrize(("groups", "version", "expected"), [
    # v5: type and state; a group with no members by its state needs no describe (members 0)
    ([("c", "consumer", "Stable"), ("k", "classic", "Empty"), ("s", "share", "Empty")], 5,
     {"c": GroupStatus("consumer", "Stable", None), "k": GroupStatus("classic", "Empty", 0),
      "s": GroupStatus("share", "Empty", 0)}),
    # mid-rebalance, in each protocol's words (classic ones under the names status always had)
    ([("k", "classic", "PreparingRebalance"), ("l", "classic", "CompletingRebalance"),
      ("a", "consumer", "Assigning"), ("r", "consumer", "Reconciling")], 5,
     {"k": GroupStatus("classic", "PreparingRebalancing", None), "l": GroupStatus("classic", "CompletingRebalancing",
                                                                                  None),
      "a": GroupStatus("consumer", "Assigning", None), "r": GroupStatus("consumer", "Reconciling", None)}),
    ([("x", "streams", "NotReady")], 5, {"x": GroupStatus("streams", "NotReady", None)}),
    ([("d", "consumer", "Dead")], 5, {"d": GroupStatus("consumer", "Dead", 0)}),
    # v4 (Kafka < 3.8): no type, every group classic; v3: no state either, so described
    ([("k", "", "Stable")], 4, {"k": GroupStatus("classic", "Stable", None)}),
    ([("k", "", "")], 3, {"k": GroupStatus("classic", "Unknown", None)}),
    # groups the collection does not ask for are left out
    ([("other", "consumer", "Stable")], 5, {}),
])
def test_list_answers(groups, version, expected):
    listed: dict[str, tuple[int, GroupStatus]] = {}
    group_states.read_list(listing(groups, version), 7, {"c", "k", "l", "s", "a", "r", "x", "d"}, listed)
    assert listed == {group: (7, status) for group, status in expected.items()}


@pytest.mark.parametrize(("code", "error"), [(14, KafkaUnavailable), (15, KafkaUnavailable), (31, KafkaRejected)])
def test_a_list_the_broker_cannot_give_fails_the_call(code, error):
    with pytest.raises(error):
        group_states.read_list(listing([], error=code), 1, {"g"}, {})


def test_only_groups_that_can_have_members_are_described_each_where_it_was_listed():
    listed = {"c2": (2, GroupStatus("consumer", "Stable", None)),
              "c1": (2, GroupStatus("consumer", "Reconciling", None)),
              "k": (1, GroupStatus("classic", "PreparingRebalancing", None)),
              "s": (1, GroupStatus("share", "Stable", None)),
              "e": (1, GroupStatus("classic", "Empty", 0)), "x": (2, GroupStatus("streams", "Stable", None))}
    assert group_states.to_describe(listed) == {(1, "classic"): ["k"], (1, "share"): ["s"],
                                                (2, "consumer"): ["c1", "c2"]}


def test_describe_requests_per_protocol():
    assert [type(group_states.describe_request(p, ["g"])).__name__ for p in group_states.DESCRIBED] == [
        "DescribeGroupsRequest", "ConsumerGroupDescribeRequest", "ShareGroupDescribeRequest"]
    request = group_states.describe_request("consumer", ["a", "bc"])
    assert request.API_KEY == 69
    # ConsumerGroupDescribe v0/v1 (flexible): GroupIds as a compact array of compact strings, the bool, no tags
    assert request.encode(version=1) == b"\x03\x02a\x03bc\x00\x00"


ClassicGroup = DescribeGroupsResponse.DescribedGroup
ConsumerGroup = ConsumerGroupDescribeResponse.DescribedGroup
ShareGroup = ShareGroupDescribeResponse.DescribedGroup


def classic(group: str, state: str = "", members: int = 0, error: int = 0) -> ClassicGroup:
    return ClassicGroup(error_code=error, error_message=None, group_id=group, group_state=state,
                        protocol_type="consumer", protocol_data="range", authorized_operations=set(),
                        members=[ClassicGroup.DescribedGroupMember(
                            member_id=f"m{i}", group_instance_id=None, client_id="c", client_host="h",
                            member_metadata=b"", member_assignment=b"") for i in range(members)])


def consumer(group: str, state: str = "", members: int = 0, error: int = 0) -> ConsumerGroup:
    member = ConsumerGroup.Member
    assignment = member.Assignment
    return ConsumerGroup(error_code=error, error_message=None, group_id=group, group_state=state, group_epoch=3,
                         assignment_epoch=3, assignor_name="uniform", authorized_operations=-2147483648, members=[
                             member(member_id=f"m{i}", instance_id=None, rack_id=None, member_epoch=3, client_id="c",
                                    client_host="h", subscribed_topic_names=["t"], subscribed_topic_regex=None,
                                    assignment=assignment(topic_partitions=[]),
                                    target_assignment=assignment(topic_partitions=[]), member_type=1)
                             for i in range(members)])


def share(group: str, state: str = "", members: int = 0, error: int = 0) -> ShareGroup:
    member = ShareGroup.Member
    return ShareGroup(error_code=error, error_message=None, group_id=group, group_state=state, group_epoch=1,
                      assignment_epoch=1, assignor_name="simple", authorized_operations=-2147483648, members=[
                          member(member_id=f"m{i}", rack_id=None, member_epoch=1, client_id="c", client_host="h",
                                 subscribed_topic_names=["t"], assignment=member.Assignment(topic_partitions=[]))
                          for i in range(members)])


RESPONSES = {"classic": (DescribeGroupsResponse, classic, 5), "consumer": (ConsumerGroupDescribeResponse, consumer, 1),
             "share": (ShareGroupDescribeResponse, share, 1)}


def described(protocol: str, groups: list[tuple[str, str, int, int]]):
    """A describe answer of (group, state, members, error code), through its bytes."""
    response_type, make, version = RESPONSES[protocol]
    response = response_type(throttle_time_ms=0, version=version,
                             groups=[make(g, state, members, error) for g, state, members, error in groups])
    return response_type.decode(response.encode(version=version), version=version)


@pytest.mark.parametrize(("protocol", "groups", "expected"), [
    ("classic", [("g", "Stable", 2, 0)], {"g": GroupStatus("classic", "Stable", 2)}),
    ("classic", [("g", "PreparingRebalance", 3, 0)], {"g": GroupStatus("classic", "PreparingRebalancing", 3)}),
    ("classic", [("g", "CompletingRebalance", 1, 0)], {"g": GroupStatus("classic", "CompletingRebalancing", 1)}),
    ("consumer", [("g", "Stable", 1, 0)], {"g": GroupStatus("consumer", "Stable", 1)}),
    ("consumer", [("g", "Assigning", 3, 0), ("h", "Reconciling", 2, 0)],
     {"g": GroupStatus("consumer", "Assigning", 3), "h": GroupStatus("consumer", "Reconciling", 2)}),
    ("share", [("g", "Stable", 8, 0)], {"g": GroupStatus("share", "Stable", 8)}),
    # deleted between the list and the describe: not found (GROUP_ID_NOT_FOUND), never Dead
    ("consumer", [("g", "", 0, 69)], {"g": NOT_FOUND}),
    ("classic", [("g", "", 0, 69)], {"g": NOT_FOUND}),
    # refused (GROUP_AUTHORIZATION_FAILED): unknown, members unknown; the other groups still count
    ("share", [("g", "", 0, 30), ("h", "Stable", 1, 0)],
     {"g": GroupStatus("share", "Unknown", None), "h": GroupStatus("share", "Stable", 1)}),
])
def test_describe_answers(protocol, groups, expected):
    result: dict[str, GroupStatus] = {}
    group_states.read_describe(protocol, described(protocol, groups), result)
    assert result == expected


@pytest.mark.parametrize("protocol", group_states.DESCRIBED)
@pytest.mark.parametrize("code", [14, 15, 16])  # loading, not available, not the coordinator (moved)
def test_a_describe_the_coordinator_cannot_answer_now_fails_the_call(protocol, code):
    with pytest.raises(KafkaUnavailable):
        group_states.read_describe(protocol, described(protocol, [("g", "", 0, code)]), {})
