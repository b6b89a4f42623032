"""The operator-wide scaler loop: collect the lag of every ConsumerApp whose poll is due (aligned
to its interval, ``consumers.schedule``) in one batched collection per cluster, then for each app
take its lock, gather the inputs, let ``consumers.scaling.decide_scaling`` decide, and carry out
what it decided (replicas through the scale subresource, Events, one status patch)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafkaops.changes import handled
from kafkaops.conditions import ready_condition, utc_now
from kafkaops.consumers.autoscale import Stabilizer
from kafkaops.consumers.collector import GroupReport, LagCollector
from kafkaops.consumers.scaling import ScalingInputs, ScalingOutcome, decide_scaling, lag_query
from kafkaops.consumers.schedule import schedule
from kafkaops.consumers.spec import ConsumerAppSpec
from kafkaops.handlers.clusters import ClusterRegistry
from kafkaops.handlers.consumers import SCALER_HELD, ConsumerController
from kafkaops.handlers.controller import Key, key_of
from kafkaops.kube import api
from kafkaops.kube.events import post_event
from kafkaops.metrics import LAG_COLLECTION_DELAY, LAG_COLLECTION_SECONDS, GroupSample
from kafkaops.types.errors import ClusterNotReady, KafkaRejected, KafkaUnavailable
from kafkaops.types.groups import GroupReader

TICK_SECONDS = 1.0  # the longest sleep: a new app waits at most this for its first poll
MIN_SLEEP_SECONDS = 0.05
log = logging.getLogger(__name__)
App = tuple[dict[str, Any], ConsumerAppSpec]


@dataclass
class ScalerState:
    """What the loop remembers between cycles: lag history, stabilizers, when each app was last
    polled and its status last written, and what the last poll saw (served to Prometheus)."""

    collectors: dict[str, LagCollector] = field(default_factory=dict)  # per cluster: offsets are per cluster
    stabilizers: dict[Key, Stabilizer] = field(default_factory=dict)
    polled: dict[Key, float] = field(default_factory=dict)
    samples: dict[Key, GroupSample] = field(default_factory=dict)
    status_written: dict[Key, float] = field(default_factory=dict)


    def prune(self, live: set[Key]) -> None:
        for key in set(self.polled) - live:
            self.polled.pop(key, None)
            self.stabilizers.pop(key, None)
            self.samples.pop(key, None)
            self.status_written.pop(key, None)
            for collector in self.collectors.values():
                collector.forget(key)


def scalable(controller: ConsumerController) -> Iterable[App]:
    """Apps whose current generation the worker has applied, with a valid spec, not held by it."""
    for body in list(controller.bodies.values()):
        if handled(body) and not body["metadata"].get("deletionTimestamp") and not held(body):
            spec = controller.spec_of(body)
            if spec is not None:
                yield body, spec


def held(body: Mapping[str, Any]) -> bool:
    return ready_condition(body.get("status") or {}).get("reason") in SCALER_HELD


@dataclass(frozen=True)
class Collected:
    """One cluster's collection: the reports, or why there are none."""

    reports: dict[Key, GroupReport] | None
    problem: str = ""
    reason: str = "BrokerUnavailable"


async def collect(clusters: ClusterRegistry, cluster: str, apps: list[App], state: ScalerState, now: float,
                  timeout: float) -> Collected:
    """Lag of one cluster's apps, bounded in time: a cluster that hangs never holds up another."""
    try:
        admin: GroupReader = clusters.admin(cluster)
    except ClusterNotReady as error:
        return Collected(None, error.message, "ClusterNotReady")
    queries = [lag_query(key_of(body), body["metadata"]["name"], spec) for body, spec in apps]
    collector = state.collectors.setdefault(cluster, LagCollector())
    try:
        with LAG_COLLECTION_SECONDS.time():
            reports = await asyncio.wait_for(collector.collect(admin, queries, now), timeout)
            return Collected(reports, collector.share_problem)  # the problem of apps without a report
    except (KafkaUnavailable, KafkaRejected, TimeoutError) as error:
        problem = str(error) or f"no answer within {timeout:g}s"
        log.warning("lag collection on cluster %s failed, replicas of %d ConsumerApps left as they are: %s",
                    cluster, len(apps), problem)
        return Collected(None, problem)


async def scale_once(clusters: ClusterRegistry, controller: ConsumerController, state: ScalerState,
                     timeout: float = 60.0) -> float | None:
    """One cycle: collect lag for the apps that are due (one collection per cluster, side by side),
    then decide and carry out per app. Returns when the next app is due (None: none waiting)."""
    now = time.time()
    by_key = {key_of(body): (body, spec) for body, spec in scalable(controller)}
    state.prune(set(by_key))
    plan = schedule({key: spec.scaling.poll_interval_seconds for key, (_, spec) in by_key.items()}, state.polled,
                    now)
    if not plan.due:
        return plan.next_at
    LAG_COLLECTION_DELAY.set(plan.delay)
    due = [by_key[key] for key in plan.due]
    by_cluster: dict[str, list[App]] = {}
    for body, spec in due:
        state.polled[key_of(body)] = now
        by_cluster.setdefault(spec.cluster, []).append((body, spec))
    names = list(by_cluster)
    collected = dict(zip(names, await asyncio.gather(*(collect(clusters, name, by_cluster[name], state, now, timeout)
                                                       for name in names)), strict=True))
    results = await asyncio.gather(*(scale_app(controller, key_of(body), spec, collected[spec.cluster], state, now)
                                     for body, spec in due), return_exceptions=True)
    for error in (r for r in results if isinstance(r, BaseException)):
        if not api.is_namespace_terminating(error):
            log.warning("scaling one ConsumerApp failed: %s", error)
    return plan.next_at


async def scale_app(controller: ConsumerController, key: Key, spec: ConsumerAppSpec, collected: Collected,
                    state: ScalerState, now: float) -> None:
    async with controller.lock(key):
        body = controller.bodies.get(key)
        deployment = controller.deployments.get(key)
        if body is None or deployment is None or not handled(body) or held(body):
            return  # gone, not created yet (or being re-created), a new spec the worker has not applied, or held
        report = collected.reports.get(key) if collected.reports is not None else None
        group = spec.group(key[1])
        # An app seen for the first time (after a restart too) has the status the last poll wrote: its lag
        # figures are only due again after the usual interval, decisions and conditions at once.
        last_written = state.status_written.setdefault(key, now)
        outcome = decide_scaling(ScalingInputs(
            group=group, generation=body["metadata"].get("generation"), status=body.get("status") or {},
            deployment=deployment, policy=spec.policy(), report=report, problem=collected.problem,
            problem_reason=collected.reason,
            stabilizer=state.stabilizers.setdefault(key, Stabilizer.starting_at(deployment.replicas, now)),
            now=now, timestamp=utc_now(), last_status_write=last_written))
        state.samples[key] = GroupSample(
            *key, group, replicas=deployment.status_replicas,
            desired_replicas=outcome.desired_replicas, lag=report.per_partition if report else {},
            lag_seconds=report.snapshot.lag_seconds if report else None, members=report.members if report else None,
            cluster=spec.cluster, group_type=spec.group_type)
        await carry_out(controller, key, body, outcome, deployment.replicas,
                        report.snapshot.total_lag if report else None)
        if outcome.status_changes:
            state.status_written[key] = now


async def carry_out(controller: ConsumerController, key: Key, body: dict[str, Any], outcome: ScalingOutcome,
                    current: int, total_lag: int | None) -> None:
    """Replicas first, then the Events, then the status that says so (call with the app's lock held)."""
    if outcome.replicas is not None and outcome.decision is not None:
        log.info("ConsumerApp %s/%s: scale %d -> %d: %s", *key, current, outcome.replicas, outcome.decision.reason,
                 extra={"consumerapp": key[1], "namespace": key[0], "reason": "Scaled",
                        "replicas": outcome.replicas, "totalLag": total_lag})
        await controller.set_replicas(key, outcome.replicas)
    for event in outcome.events:
        await post_event(body, type=event.type, reason=event.reason, message=event.message)
    if outcome.status_changes:
        await controller.write_status(key, body, outcome.status_changes)


async def scaler_loop(clusters: ClusterRegistry, controller: ConsumerController, state: ScalerState,
                      timeout: float) -> None:
    """One cycle at a time: a slow cycle delays the next (the delay metric shows it), never overlaps it."""
    next_at: float | None = None
    while True:
        wait = TICK_SECONDS if next_at is None else next_at - time.time()
        await asyncio.sleep(min(TICK_SECONDS, max(MIN_SLEEP_SECONDS, wait)))
        try:
            next_at = await scale_once(clusters, controller, state, timeout)
        except Exception:
            next_at = None
            log.exception("scaler cycle failed; trying again")
