"""/healthz and /readyz answered by the real HTTP server on a loopback port, for a leader and a standby."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from kafkaops.harness.procs import free_port
from kafkaops.health import Health, address, serve

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Role:
    def __init__(self, leading: bool) -> None:
        self.leading = leading

    def __call__(self) -> bool:
        return self.leading


@pytest.fixture
def world() -> Iterator[tuple[Health, Clock, Role, str]]:
    clock, role = Clock(), Role(leading=True)
    health = Health(stall_seconds=30, leading=role, clock=clock)
    port = free_port()
    server = serve("127.0.0.1", port, health)
    yield health, clock, role, f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode().strip()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().strip()


def test_a_leader_is_live_at_once_and_ready_once_synced(world):
    health, _, _, base = world
    assert get(base + "/healthz") == (200, "ok: leading")
    assert get(base + "/readyz") == (503, "not ready: leading, initial listing not done yet")
    health.set_synced(True)
    assert get(base + "/readyz") == (200, "ready: leading and synced")
    health.set_synced(False)
    assert get(base + "/readyz")[0] == 503


def test_a_stalled_leader_fails_both_probes_and_recovers_with_the_next_beat(world):
    health, clock, _, base = world
    health.set_synced(True)
    clock.now += 1000  # no beat yet: not judged
    assert get(base + "/healthz")[0] == 200
    health.beat()
    clock.now += 30
    assert get(base + "/healthz")[0] == 200
    clock.now += 1
    status, body = get(base + "/healthz")
    assert status == 500 and body == "unhealthy: event loop stalled: last beat 31.0s ago (limit 30s)"
    assert get(base + "/readyz") == (503, body)
    health.beat()
    assert get(base + "/healthz")[0] == get(base + "/readyz")[0] == 200


def test_a_standby_is_healthy_and_ready_whatever_its_beats(world):
    health, clock, role, base = world
    role.leading = False
    health.beat()
    clock.now += 1000  # a standby's loop does not run: its silence is no stall
    assert get(base + "/healthz") == (200, "ok: standing by")
    assert get(base + "/readyz") == (200, "ready: standing by")


def test_checks_report_their_problem_in_words(world):
    health, _, role, base = world
    problem: list[str | None] = [None]
    health.add_check("kafka", lambda: problem[0])
    health.add_check("broken", lambda: None)
    assert get(base + "/healthz")[0] == 200
    problem[0] = "admin client closed"
    assert get(base + "/healthz") == (500, "unhealthy: kafka: admin client closed")
    role.leading = False
    assert get(base + "/readyz") == (503, "unhealthy: kafka: admin client closed")  # standbys too

    def raises() -> str | None:
        raise RuntimeError("boom")

    problem[0] = None
    health.add_check("broken", raises)
    assert get(base + "/healthz") == (500, "unhealthy: broken: check failed: RuntimeError('boom')")


def test_other_paths_are_404(world):
    assert get(world[3] + "/metrics")[0] == 404
    assert get(world[3] + "/healthz?verbose=1")[0] == 200


@pytest.mark.parametrize(("url", "expected"), [("http://0.0.0.0:8080/healthz", ("0.0.0.0", 8080)),
                                               ("http://127.0.0.1:9999", ("127.0.0.1", 9999)),
                                               ("localhost:8081", ("localhost", 8081))])
def test_the_liveness_url_gives_host_and_port(url, expected):
    assert address(url) == expected


def test_a_liveness_url_needs_a_port():
    with pytest.raises(ValueError, match="no port"):
        address("http://0.0.0.0/healthz")
