"""KafkaCluster status from probe outcomes."""

from __future__ import annotations

import pytest

from kafkaops.clusters.status import MAX_MESSAGE_LENGTH, cluster_status
from kafkaops.types.clusters import ClusterProbe, ClusterProbeFailed, ClusterReason

pytestmark = pytest.mark.unit
T0, T1 = "2026-12-02T08:00:00Z", "2026-12-02T08:01:00Z"


def test_connected_fills_the_printer_columns():
    status = cluster_status(ClusterProbe(cluster_id="abc", brokers=3, controller_id=2), status={}, generation=4,
                            now=T0)
    assert {k: status[k] for k in ("observedGeneration", "clusterId", "brokers", "controllerId", "lastProbeTime")} \
        == {"observedGeneration": 4, "clusterId": "abc", "brokers": 3, "controllerId": 2, "lastProbeTime": T0}
    (ready,) = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "Connected",
                                                                     "connected to cluster abc, 3 brokers")


@pytest.mark.parametrize("reason", [ClusterReason.AUTHENTICATION_FAILED, ClusterReason.TLS_ERROR,
                                    ClusterReason.UNREACHABLE, ClusterReason.SECRET_NOT_FOUND])
def test_a_failure_keeps_the_cluster_id_clears_the_counts_and_says_why(reason):
    before = cluster_status(ClusterProbe(cluster_id="abc", brokers=1, controller_id=1), status={}, generation=1,
                            now=T0)
    after = cluster_status(ClusterProbeFailed(reason, "the client's words"), status=before, generation=1, now=T1)
    assert "clusterId" not in after  # a patch without it leaves the last known id
    assert after["brokers"] is None and after["controllerId"] is None
    (ready,) = [c for c in after["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", reason.value, "the client's words")
    assert ready["lastTransitionTime"] == T1


def test_a_repeated_failure_keeps_its_transition_time():
    first = cluster_status(ClusterProbeFailed(ClusterReason.UNREACHABLE, "refused"), status={}, generation=1, now=T0)
    again = cluster_status(ClusterProbeFailed(ClusterReason.UNREACHABLE, "refused"), status=first, generation=1,
                           now=T1)
    assert again["conditions"][0]["lastTransitionTime"] == T0 and again["lastProbeTime"] == T1


def test_no_secret_reaches_the_message_and_long_messages_are_cut():
    leaked = ClusterProbeFailed(ClusterReason.AUTHENTICATION_FAILED, "bad password pa55word for alice")
    message = cluster_status(leaked, status={}, generation=1, now=T0, secrets={"pa55word"})["conditions"][0]["message"]
    assert message == "bad password *** for alice"
    long = ClusterProbeFailed(ClusterReason.TLS_ERROR, "x" * 5000)
    assert len(cluster_status(long, status={}, generation=1, now=T0)["conditions"][0]["message"]) == MAX_MESSAGE_LENGTH
