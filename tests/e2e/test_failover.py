"""Two operators with leader election on a control plane of their own: one leads, one stands by; the
standby takes over when the leader is killed, stops gracefully (the lease is released) or is frozen
(and the frozen one, resumed, exits without writing). Timings are the defaults: 15 s lease, 10 s renew
deadline, 2 s retry. Failover times are printed (run with -s), bounded but not benchmarked."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import datetime

import pytest
from installed import OperatorProcess
from isolated import Isolated
from kubernetes import client
from support import Topics

from chart_render import RELEASE_NAMESPACE
from helpers import eventually
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.leadership import LEASE_DURATION_SECONDS, RETRY_PERIOD_SECONDS

pytestmark = pytest.mark.e2e
LEADER_ENV = {"KAFKAOPS_LEADER_ELECTION": "true"}
LEASE = "kafkaops-leader"
# The bound client-go gives: the standby saw the last renewal at most one poll after it happened, and
# notices the expiry at most one poll after it; plus 1 s for API calls on a busy 2-core machine.
TAKEOVER_BOUND = LEASE_DURATION_SECONDS + 2 * RETRY_PERIOD_SECONDS + 1


def lease(isolated: Isolated) -> client.V1Lease | None:
    try:
        return isolated.coordination.read_namespaced_lease(LEASE, RELEASE_NAMESPACE)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def holder(isolated: Isolated) -> str | None:
    current = lease(isolated)
    return current.spec.holder_identity if current else None


def name_of(process: OperatorProcess) -> str:
    return process.log.name.rsplit("-", 1)[0]  # start_operator's log is <name>-<n>.log


def leads(process: OperatorProcess) -> bool:
    return f"leading as {name_of(process)}_" in process.text()


def pair(isolated: Isolated) -> tuple[OperatorProcess, OperatorProcess]:
    """Start two operators at once; return (leader, standby) once each has said which it is."""
    suffix = uuid.uuid4().hex[:4]
    first = isolated.start_operator(f"op-a-{suffix}", LEADER_ENV)
    second = isolated.start_operator(f"op-b-{suffix}", LEADER_ENV)
    eventually(lambda: sum(map(leads, (first, second))) == 1 and
               any("standing by: lease" in p.text() for p in (first, second)), timeout=60,
               what="one operator leading and the other standing by")
    leader, standby = (first, second) if leads(first) else (second, first)
    assert (holder(isolated) or "").startswith(f"{name_of(leader)}_")
    assert f"standing by: lease {RELEASE_NAMESPACE}/{LEASE} held by {name_of(leader)}_" in standby.text()
    assert "leading as" not in standby.text()
    return leader, standby


def acquired_after(isolated: Isolated, standby: OperatorProcess, since: float) -> float:
    """Wait (bounded) until ``standby`` holds the lease; seconds from ``since`` (wall clock) to the
    acquireTime it wrote (the same machine's clock, so comparable)."""
    eventually(lambda: (holder(isolated) or "").startswith(f"{name_of(standby)}_") and leads(standby),
               timeout=TAKEOVER_BOUND + 10, interval=0.1, what=f"{name_of(standby)} leading")
    acquired: datetime = lease(isolated).spec.acquire_time
    return acquired.timestamp() - since


@pytest.fixture
def isolated_topics(isolated: Isolated, kafka: KafkaCluster) -> Topics:
    namespace = f"ha-{uuid.uuid4().hex[:8]}"
    isolated.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    return Topics(isolated.api, namespace, kafka)


def ready_topic(topics: Topics, timeout: float = 60) -> None:
    name = f"ha-{uuid.uuid4().hex[:8]}"
    topics.create(name, {"topicName": f"ha_{name[3:]}", "partitions": 1})
    topics.wait(name, "Created", timeout=timeout)


def no_denials(*processes: OperatorProcess) -> None:
    for process in processes:
        assert not process.denials(), "\n".join(process.denials()[:10])


def test_the_standby_takes_over_when_the_leader_is_killed(isolated, isolated_topics):
    leader, standby = pair(isolated)
    assert leader.probe("/healthz") == (200, "ok: leading")
    eventually(lambda: leader.probe("/readyz") == (200, "ready: leading and synced"), timeout=30,
               what="the leader ready once its caches are synced")
    assert standby.probe("/healthz") == (200, "ok: standing by")
    assert standby.probe("/readyz") == (200, "ready: standing by")
    ready_topic(isolated_topics)
    transitions = lease(isolated).spec.lease_transitions

    killed = time.time()
    leader.process.kill()
    failover = acquired_after(isolated, standby, killed)
    print(f"\nfailover after SIGKILL: {failover:.2f}s (bound {TAKEOVER_BOUND:g}s)")
    assert failover <= TAKEOVER_BOUND
    assert lease(isolated).spec.lease_transitions == transitions + 1
    assert standby.probe("/healthz") == (200, "ok: leading")
    ready_topic(isolated_topics)  # the new leader reconciles
    assert standby.stop() == 0
    no_denials(leader, standby)


def test_a_graceful_stop_hands_over_at_once(isolated, isolated_topics):
    leader, standby = pair(isolated)
    stopping = time.time()
    assert leader.stop() == 0
    assert f"released lease {RELEASE_NAMESPACE}/{LEASE}" in leader.text()
    handover = acquired_after(isolated, standby, stopping)
    print(f"\nhandover after SIGTERM: {handover:.2f}s")
    # Without the release the standby could not lead before the last renewal (at most one retry period
    # before SIGTERM) plus the lease duration.
    assert handover < LEASE_DURATION_SECONDS - RETRY_PERIOD_SECONDS
    ready_topic(isolated_topics)
    assert standby.stop() == 0
    no_denials(leader, standby)


def test_a_frozen_leader_resumes_to_find_it_lost_and_exits_without_writing(isolated, isolated_topics):
    leader, standby = pair(isolated)
    before = lease(isolated).spec
    leader.process.send_signal(signal.SIGSTOP)
    frozen = time.time()
    try:
        failover = acquired_after(isolated, standby, frozen)
        print(f"\nfailover after SIGSTOP: {failover:.2f}s")
        taken = lease(isolated).spec
        assert taken.lease_transitions == before.lease_transitions + 1
        ready_topic(isolated_topics)  # reconciled by the new leader while the old one is frozen
        assert standby.probe("/healthz") == (200, "ok: leading")
        seen = len(leader.log.read_bytes())
    finally:
        leader.process.send_signal(signal.SIGCONT)
    assert leader.process.wait(timeout=15) == 1
    after_resume = leader.log.read_bytes()[seen:].decode(errors="replace")
    lines = [line for line in after_resume.splitlines() if line.strip()]
    assert lines and all("leadership lost" in line for line in lines), after_resume  # nothing else, no write
    current = lease(isolated).spec
    assert current.holder_identity == taken.holder_identity  # the old leader never wrote the lease again
    assert current.lease_transitions == taken.lease_transitions
    assert standby.alive() and standby.probe("/healthz") == (200, "ok: leading")
    ready_topic(isolated_topics)
    assert standby.stop() == 0
    no_denials(leader, standby)


def test_a_standby_stops_at_once_on_sigterm_and_the_leader_keeps_leading(isolated, isolated_topics):
    leader, standby = pair(isolated)
    assert standby.stop(timeout=10) == 0
    assert f"stopped while standing by for lease {RELEASE_NAMESPACE}/{LEASE}" in standby.text()
    assert (holder(isolated) or "").startswith(f"{name_of(leader)}_")
    ready_topic(isolated_topics)
    assert leader.stop() == 0
    no_denials(leader, standby)
