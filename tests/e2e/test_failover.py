"""Two operators with leader election on a control plane of their own: one leads, one stands by; the
standby takes over when the leader is killed, stops gracefully (the lease is released) or is frozen
(and the frozen one, resumed, exits without writing). Timings are the defaults: 15 s lease, 10 s renew
deadline, 2 s retry. Failover times are printed (run with -s), bounded but not benchmarked."""

from __future__ import annotations

import re
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from installed import OperatorProcess
from isolated import Isolated
from kubernetes import client
from support import Topics

from chart_render import RELEASE_NAMESPACE
from helpers import eventually
from kafkaops.harness.kafka import KafkaCluster
from kafkaops.leadership import LEASE_DURATION_SECONDS, RETRY_PERIOD_SECONDS

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]
LEADER_ENV = {"KAFKAOPS_LEADER_ELECTION": "true"}
LEASE = "kafkaops-leader"
# "create" requests that change nothing: questions to the authenticator and authorizer (kubectl auth whoami).
REVIEWS = {"selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "tokenreviews",
           "subjectaccessreviews"}
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


def identity_of(process: OperatorProcess) -> str:
    """The lease identity the process leads (or stands by) under, which its User-Agent names too."""
    match = re.search(r"leading as (\S+) \(lease", process.text())
    assert match, process.tail()
    return match.group(1)


def writes_of(isolated: Isolated, identity: str) -> list[dict[str, Any]]:
    """Every write request the API server received from that process, judged by its own audit log."""
    return [w for w in isolated.kube.audited_writes() if str(w.get("userAgent", "")).endswith(f"({identity})")]


def received(write: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(write["requestReceivedTimestamp"])


def what(write: dict[str, Any]) -> str:
    ref = write.get("objectRef", {})
    return (f"{write['verb']} {ref.get('resource')}/{ref.get('subresource', '')} {ref.get('namespace', '')}/"
            f"{ref.get('name', '')} -> {write.get('responseStatus', {}).get('code')} "
            f"at {write['requestReceivedTimestamp']}")


def broker_state(kafka: KafkaCluster) -> dict[str, int]:
    """Every topic the broker has, with its partition count."""
    topics = AdminClient({"bootstrap.servers": kafka.bootstrap_servers}).list_topics(timeout=10).topics
    return {name: len(meta.partitions) for name, meta in topics.items()}


def every_operator_write_is_attributed(isolated: Isolated) -> None:
    """All writes by the chart's ServiceAccount carry a kafkaops User-Agent naming the process's lease identity:
    the per-identity checks miss nothing (no write goes out through a client that does not name itself)."""
    account = [w for w in isolated.kube.audited_writes()
               if w["user"]["username"].startswith(f"system:serviceaccount:{RELEASE_NAMESPACE}:")
               and w["objectRef"]["resource"] not in REVIEWS]
    assert account, "no write by the operators' ServiceAccount in the audit log at all"
    unnamed = [f"{what(w)} by {w.get('userAgent')}" for w in account
               if not re.fullmatch(r"kafkaops/\S+ \(\S+_[0-9a-f]{6}\)", str(w.get("userAgent", "")))]
    assert not unnamed, unnamed[:10]


def resume_and_expect_exit_without_writes(isolated: Isolated, kafka: KafkaCluster, frozen: OperatorProcess,
                                          successor: OperatorProcess, since_writes: int) -> None:
    """SIGCONT ``frozen`` (whose lease ``successor`` holds now); it must exit 1 at once and send nothing: no
    write request to the API server after the successor's acquireTime (the audit log says), no change on the
    broker (its topics before and after), no lease write (the holder and transitions stay)."""
    taken = lease(isolated).spec
    assert taken.holder_identity == identity_of(successor)
    on_broker = broker_state(kafka)
    seen = len(frozen.log.read_bytes())
    frozen.process.send_signal(signal.SIGCONT)
    assert frozen.process.wait(timeout=15) == 1
    after_resume = frozen.log.read_bytes()[seen:].decode(errors="replace")
    assert "leadership lost" in after_resume, after_resume
    late = [what(w) for w in writes_of(isolated, identity_of(frozen)) if received(w) >= taken.acquire_time]
    assert not late, late
    assert len(writes_of(isolated, identity_of(frozen))) == since_writes  # not even one before the takeover
    assert broker_state(kafka) == on_broker
    current = lease(isolated).spec
    assert (current.holder_identity, current.lease_transitions) == (taken.holder_identity, taken.lease_transitions)
    assert successor.alive() and successor.probe("/healthz") == (200, "ok: leading")


def test_a_frozen_leader_resumes_to_find_it_lost_and_exits_without_writing(isolated, isolated_topics, kafka):
    """Frozen while leading and synced, after real writes (so the audit check below can fail)."""
    leader, standby = pair(isolated)
    eventually(lambda: leader.probe("/readyz") == (200, "ready: leading and synced"), timeout=30,
               what="the leader ready once its caches are synced")
    ready_topic(isolated_topics)
    before = lease(isolated).spec
    mine = writes_of(isolated, identity_of(leader))
    assert {w["objectRef"]["resource"] for w in mine} >= {"leases", "kafkatopics"}, [what(w) for w in mine]
    leader.process.send_signal(signal.SIGSTOP)
    frozen = time.time()
    failover = acquired_after(isolated, standby, frozen)
    print(f"\nfailover after SIGSTOP: {failover:.2f}s")
    assert lease(isolated).spec.lease_transitions == before.lease_transitions + 1
    ready_topic(isolated_topics)  # reconciled by the new leader while the old one is frozen
    resume_and_expect_exit_without_writes(isolated, kafka, leader, standby,
                                          len(writes_of(isolated, identity_of(leader))))
    ready_topic(isolated_topics)
    every_operator_write_is_attributed(isolated)
    assert standby.stop() == 0
    no_denials(leader, standby)


def test_a_leader_frozen_during_start_up_resumes_to_find_it_lost_and_exits_without_writing(
        isolated, isolated_topics, kafka):
    """Frozen right after it took the lease, before its caches were synced, with work waiting (KafkaTopics
    created while no operator ran): the standby does the work; the resumed one finishes nothing it started."""
    waiting = [f"ha-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name in waiting:
        isolated_topics.create(name, {"topicName": f"ha_{name[3:]}", "partitions": 1})
    # A lease held by nobody that runs: the first operator stands by (so its start returns at once), then takes
    # it over at a moment this test watches for, and is frozen within milliseconds of "leading as".
    expires = 3
    held = client.V1LeaseSpec(holder_identity="gone_000000", lease_duration_seconds=expires,
                              acquire_time=datetime.now(UTC), renew_time=datetime.now(UTC), lease_transitions=0)
    current = lease(isolated)
    if current is None:
        isolated.coordination.create_namespaced_lease(RELEASE_NAMESPACE, client.V1Lease(
            metadata=client.V1ObjectMeta(name=LEASE), spec=held))
    else:
        current.spec = held
        isolated.coordination.replace_namespaced_lease(LEASE, RELEASE_NAMESPACE, current)
    first = isolated.start_operator(f"op-a-{uuid.uuid4().hex[:4]}", LEADER_ENV)
    eventually(lambda: leads(first), timeout=expires + 4 * RETRY_PERIOD_SECONDS + 10, interval=0.005,
               what="the first operator leading")
    first.process.send_signal(signal.SIGSTOP)
    frozen = time.time()
    assert "ready:" not in first.text(), "frozen too late: it had synced its caches already"
    since = len(writes_of(isolated, identity_of(first)))
    second = isolated.start_operator(f"op-b-{uuid.uuid4().hex[:4]}", LEADER_ENV)
    failover = acquired_after(isolated, second, frozen)
    print(f"\nfailover after SIGSTOP in start-up: {failover:.2f}s; writes by the frozen one before: {since}")
    for name in waiting:
        isolated_topics.wait(name, "Created", timeout=60)
    resume_and_expect_exit_without_writes(isolated, kafka, first, second, since)
    every_operator_write_is_attributed(isolated)
    assert second.stop() == 0
    no_denials(first, second)


def test_a_standby_stops_at_once_on_sigterm_and_the_leader_keeps_leading(isolated, isolated_topics):
    leader, standby = pair(isolated)
    assert standby.stop(timeout=10) == 0
    assert f"stopped while standing by for lease {RELEASE_NAMESPACE}/{LEASE}" in standby.text()
    assert (holder(isolated) or "").startswith(f"{name_of(leader)}_")
    ready_topic(isolated_topics)
    assert leader.stop() == 0
    no_denials(leader, standby)
