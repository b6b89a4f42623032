"""docs/status.md's table against the code: the conditions each row lists are what the operator's
condition code writes for that reason, and the Argo CD script says what the row says."""

from __future__ import annotations

import pytest
from test_argocd_health import KINDS, health

from status_table import condition, obj_of, rows

pytestmark = pytest.mark.unit


def test_every_kind_has_the_states_the_design_names():
    table = rows()
    assert {row.kind for row in table} == set(KINDS)
    for kind in KINDS[:-1]:  # KafkaAccessPolicy has no status: stored, or being deleted
        states = {row.state for row in table if row.kind == kind}
        assert {"ready", "applying", "being deleted"} <= states, kind


@pytest.mark.parametrize("row", rows(), ids=lambda row: row.id)
def test_row_conditions_and_argocd_health(row):
    obj = obj_of(row)
    if row.ready != "-":
        assert (condition(obj, "Reconciling"), condition(obj, "Stalled")) == (row.reconciling, row.stalled)
    assert health(obj)["status"] == row.argocd
