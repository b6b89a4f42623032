"""What a benchmark side cost the API server: its own request counters, diffed and printed.

Counts come from ``KubeCluster.request_counts()`` (``apiserver_request_total``), so they include every
client: the operator, the benchmark's own creates and readiness watch, the controller-manager and the
API server's own loopback requests (leases). Writes are what an operator's design decides; reads and
watches are mostly the benchmark's and the informers'.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

Key = tuple[str, str, str]  # (verb, resource, subresource)
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})


def resource_name(key: Key) -> str:
    """``kafkatopics/status``; a non-resource path (``/readyz``, ``openapi/v3``: the API server puts
    it in ``subresource``) is ``(non-resource) /readyz``."""
    _, resource, subresource = key
    if not resource:
        return f"(non-resource) {subresource}".rstrip()
    return f"{resource}/{subresource}" if subresource else resource


def writes(counts: Counter[Key], resources: Iterable[str] | None = None) -> int:
    """Write requests in ``counts``, on ``resources`` (names as ``resource_name`` gives them) or on all."""
    wanted = None if resources is None else set(resources)
    return sum(n for key, n in counts.items()
               if key[0] in WRITE_VERBS and (wanted is None or resource_name(key) in wanted))


def describe(counts: Counter[Key], indent: str = "    ") -> str:
    """One line per resource, busiest first: ``kafkatopics/status: PATCH 300``."""
    by_resource: dict[str, Counter[str]] = {}
    for key, n in counts.items():
        if n > 0:
            by_resource.setdefault(resource_name(key), Counter())[key[0]] += n
    ordered = sorted(by_resource.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return "\n".join(f"{indent}{name}: " + ", ".join(f"{verb} {n}" for verb, n in sorted(verbs.items()))
                     for name, verbs in ordered) or f"{indent}(none)"
