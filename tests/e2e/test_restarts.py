"""The operator's own life cycle, on a control plane of its own (the ``isolated`` fixture): started
with objects already present, killed in the middle of work, restarted with nothing to do, the
broker gone for a minute, the API server restarted, ConsumerApps with a backlog across a restart.

Every wait is a bounded poll; the operator is the shipped wheel in its own process."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka.admin import AdminClient
from support import GROUP, PLURAL, VERSION, Topics

from helpers import eventually, ready_condition
from kafka_clients import commit_offsets

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]


def is_ready(obj) -> bool:
    condition = ready_condition(obj) or {}
    return (obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"]
            and condition.get("status") == "True")


def listing(isolated, namespace):
    return isolated.api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]


def wait_all_ready(isolated, namespace, count, timeout):
    def probe():
        items = listing(isolated, namespace)
        ready = sum(1 for o in items if is_ready(o))
        return items if len(items) == count and ready == count else None

    return eventually(probe, timeout=timeout, interval=1.0, what=f"{count} KafkaTopics Ready in {namespace}")


def create_many(isolated, namespace, prefix, count, partitions=1):
    bodies = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "KafkaTopic", "metadata": {"name": f"t-{i}"},
               "spec": {"topicName": f"{prefix}_{i}", "partitions": partitions}} for i in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda b: isolated.api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, b),
                      bodies))
    return [b["spec"]["topicName"] for b in bodies]


def broker_topics(kafka, prefix):
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    return {t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + "_")}


@contextlib.contextmanager
def running(isolated, name, env=None):
    """An operator for the block; it must exit cleanly on SIGTERM at the end (unless the block failed)."""
    operator = isolated.start_operator(name, env)
    try:
        yield operator
    except BaseException:
        operator.stop()
        raise
    assert operator.stop() == 0


@pytest.fixture
def ns(isolated):
    name = f"r-{uuid.uuid4().hex[:6]}"
    isolated.core.create_namespace({"metadata": {"name": name}})
    yield name
    isolated.core.delete_namespace(name)


def test_started_with_more_kafkatopics_than_workers_all_become_ready(isolated, ns, kafka):
    prefix = f"pre_{uuid.uuid4().hex[:6]}"
    names = create_many(isolated, ns, prefix, 300)
    with running(isolated, "many", {"KAFKAOPS_MAX_CONCURRENT_RECONCILES": "50"}) as operator:
        eventually(lambda: operator.probe("/readyz") == (200, "ready: leading and synced"), timeout=60,
                   what="readiness once the 300 are cached")
        wait_all_ready(isolated, ns, 300, timeout=180)
        assert broker_topics(kafka, prefix) == set(names)
        eventually(lambda: "start-up re-check done: 300 KafkaTopic(s)" in operator.log.read_text(),
                   timeout=30, what="the start-up re-check line")
        # No ConsumerApps at all (an empty listing) is done at once, not after retries.
        assert "start-up re-check done: 0 ConsumerApp(s)" in operator.log.read_text()
        assert "start-up listing of" not in operator.log.read_text()


def test_sigkill_mid_creation_then_restart_converges_and_a_quiet_restart_writes_nothing(isolated, ns, kafka):
    prefix = f"kill_{uuid.uuid4().hex[:6]}"
    first = isolated.start_operator("before-kill")
    with ThreadPoolExecutor(1) as background:
        creating = background.submit(create_many, isolated, ns, prefix, 500)
        eventually(lambda: sum(1 for o in listing(isolated, ns) if is_ready(o)) >= 50, timeout=120,
                   what="the first KafkaTopics Ready")
        first.kill()  # SIGKILL in the middle of the work
        names = creating.result(timeout=300)
    with running(isolated, "after-kill"):
        items = wait_all_ready(isolated, ns, 500, timeout=240)
        assert broker_topics(kafka, prefix) == set(names)  # exactly these, none twice, none lost
        events = isolated.core.list_namespaced_event(ns).items
        per_object = Counter((e.involved_object.name, e.reason) for e in events)
        assert [k for k, n in per_object.items() if n > 1] == []  # no work announced twice
        versions = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}
        event_count = len(events)

    # Restart with nothing changed: every topic is re-checked against the broker, nothing is written.
    with running(isolated, "quiet-restart") as third:
        eventually(lambda: "start-up re-check done: 500 KafkaTopic(s)" in third.log.read_text(), timeout=120,
                   what="the start-up re-check of 500")
        after = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listing(isolated, ns)}
        assert after == versions
        assert len(isolated.core.list_namespaced_event(ns).items) == event_count


def test_broker_down_for_a_minute_then_everything_converges_in_the_same_process(isolated, ns, kafka):
    prefix = f"down_{uuid.uuid4().hex[:6]}"
    topics = Topics(isolated.api, ns, kafka, core=isolated.core)
    with running(isolated, "outage") as operator:
        topics.create("grown", {"topicName": f"{prefix}_grown", "partitions": 1})
        topics.wait("grown", "Created")
        node = kafka.nodes[0].node_id
        kafka.stop_node(node)
        stopped = time.monotonic()
        try:
            topics.patch("grown", {"spec": {"partitions": 3}})
            for i in range(5):
                topics.create(f"new-{i}", {"topicName": f"{prefix}_new_{i}", "partitions": 2})
            for name in ("grown", *(f"new-{i}" for i in range(5))):
                assert ready_condition(topics.wait(name, "BrokerUnavailable", timeout=60))["status"] == "False"
            time.sleep(max(0.0, 60 - (time.monotonic() - stopped)))  # the outage lasts a minute
        finally:
            kafka.start_node(node)
        assert topics.wait("grown", "Updated", timeout=120)["status"]["partitions"] == 3
        for i in range(5):
            assert topics.wait(f"new-{i}", "Created", timeout=120)["status"]["partitions"] == 2
        assert operator.alive()  # the same process
        assert broker_topics(kafka, prefix) == {f"{prefix}_grown", *(f"{prefix}_new_{i}" for i in range(5))}


def test_api_server_restart_does_not_need_an_operator_restart(isolated, ns, kafka):
    prefix = f"api_{uuid.uuid4().hex[:6]}"
    topics = Topics(isolated.api, ns, kafka, core=isolated.core)
    with running(isolated, "apiserver") as operator:
        topics.create("before", {"topicName": f"{prefix}_before", "partitions": 1})
        topics.wait("before", "Created")
        isolated.kube.restart_apiserver()
        eventually(lambda: topics.get("before"), timeout=60, what="the API server serving again")
        topics.create("after", {"topicName": f"{prefix}_after", "partitions": 1})
        topics.patch("before", {"spec": {"partitions": 2}})
        topics.wait("after", "Created", timeout=120)
        assert topics.wait("before", "Updated", timeout=120)["status"]["partitions"] == 2
        assert operator.alive()


def test_consumerapps_with_a_backlog_keep_their_replicas_across_a_restart(isolated, ns, kafka):
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import NewTopic

    topic = f"backlog_{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    admin.create_topics([NewTopic(topic, 6, 1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for partition in range(6):
        for i in range(50):
            producer.produce(topic, value=b"m%d" % i, partition=partition)
    assert producer.flush(30) == 0
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ConsumerApp", "metadata": {"name": "busy"},
            "spec": {"topics": [topic], "autoOffsetReset": "earliest",
                     "template": {"spec": {"containers": [{"name": "c", "image": "example.com/consumer:1"}]}},
                     "scaling": {"minReplicas": 1, "maxReplicas": 6, "lagThreshold": 50, "pollIntervalSeconds": 1,
                                 "scaleDown": {"stabilizationWindowSeconds": 30}}}}
    isolated.api.create_namespaced_custom_object(GROUP, VERSION, ns, "consumerapps", body)

    def replicas():
        try:
            return isolated.apps.read_namespaced_deployment("busy", ns).spec.replicas
        except Exception:
            return None

    with running(isolated, "scaler-before"):
        eventually(lambda: replicas() == 6, timeout=90, what="the backlog scaled to 6 replicas")
    # While no operator runs, the group catches up: on an empty history the new scaler would drop
    # straight to minReplicas; the stabilization window (30 s) must hold the 6 instead.
    commit_offsets({"bootstrap.servers": kafka.bootstrap_servers}, "busy", [TopicPartition(topic, p, 50)
                                                                        for p in range(6)])
    with running(isolated, "scaler-after") as second:
        eventually(lambda: "start-up re-check done: 1 ConsumerApp(s)" in second.log.read_text(), timeout=60,
                   what="the ConsumerApp re-checked")
        seen = []
        deadline = time.monotonic() + 8  # eight polls of the new operator: watch, do not wait
        while time.monotonic() < deadline:
            seen.append(replicas())
            time.sleep(0.5)
        assert set(seen) == {6}, seen
        scaled = [e for e in isolated.core.list_namespaced_event(ns).items if e.reason in ("ScaledUp", "ScaledDown")]
        assert all(" to 6 replicas" in e.message for e in scaled), [e.message for e in scaled]
        status = isolated.api.get_namespaced_custom_object(GROUP, VERSION, ns, "consumerapps", "busy")["status"]
        assert status["desiredReplicas"] == 6 and status["totalLag"] == 0
