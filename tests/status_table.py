"""The table of docs/status.md as data: each row's object built with the operator's own condition
code, for the Argo CD script (unit) and kstatus itself (e2e) to judge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafkaops.conditions import set_condition

DOC = Path(__file__).resolve().parents[1] / "docs" / "status.md"
NOW = "2026-12-02T10:00:00Z"


@dataclass(frozen=True)
class Row:
    kind: str
    state: str
    ready: str
    reason: str
    reconciling: str
    stalled: str
    kstatus: str
    argocd: str

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.state}"


def rows() -> list[Row]:
    lines = DOC.read_text().splitlines()
    start = lines.index("| kind | state | `Ready` | reason | `Reconciling` | `Stalled` | kstatus | Argo CD |") + 2
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(Row(*(cell.strip() for cell in line.strip("|").split("|"))))
    return table


def obj_of(row: Row) -> dict[str, Any]:
    """The object in that state, its conditions as set_condition writes them."""
    generation = 3 if row.state == "applying" else 2
    meta: dict[str, Any] = {"name": "orders", "generation": generation, "uid": "u-1",
                            "creationTimestamp": NOW}
    if row.kind != "KafkaCluster":
        meta["namespace"] = "shop"
    if row.state.startswith("paused"):
        meta["annotations"] = {"kafkaops.io/paused": "true"}
    if row.state == "being deleted":
        meta.update(deletionTimestamp=NOW, finalizers=["kafkaops.io/test"])
    obj: dict[str, Any] = {"apiVersion": "kafkaops.io/v1alpha1", "kind": row.kind, "metadata": meta, "spec": {}}
    if row.ready != "-":
        obj["status"] = {"observedGeneration": 2, "conditions": set_condition(
            [], type_="Ready", status=row.ready == "True", reason=row.reason, message="m", generation=2, now=NOW,
            pending=row.state == "paused with an unapplied change")}
    return obj


def condition(obj: dict[str, Any], type_: str) -> str:
    return next(c["status"] for c in obj["status"]["conditions"] if c["type"] == type_)
