"""Every Prometheus metric of the operator, defined once. Label sets are bounded: ``kind``,
``result`` and ``operation`` take a handful of fixed values."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILIATIONS = Counter(
    "kafkaops_reconciliations_total", "Reconciliations by resource kind and result.", ["kind", "result"])
RECONCILE_SECONDS = Histogram(
    "kafkaops_reconcile_duration_seconds", "Time spent in one reconciliation.", ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ADMIN_REQUEST_SECONDS = Histogram(
    "kafkaops_admin_request_duration_seconds", "Kafka admin requests (one batch each).", ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ADMIN_BATCH_SIZE = Histogram(
    "kafkaops_admin_batch_size", "Items coalesced into one admin request.", ["operation"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500))
DRIFT_CORRECTIONS = Counter(
    "kafkaops_drift_corrections_total", "Topics corrected after a change made outside the operator.")
