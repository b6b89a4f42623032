"""Liveness (``/healthz``) and readiness (``/readyz``) of the operator process, served by a plain
``http.server`` in a thread of its own: an asyncio loop that is blocked cannot answer for itself, so
the loop only proves it runs by calling ``HEALTH.beat()``, and this thread judges how long ago that was.

- ``/healthz`` 500 when this process leads and the last beat is older than the stall limit (only once
  the first beat came), or when a registered check reports a problem; 200 otherwise (a standby is
  healthy). The kubelet restarts a pod that fails it, which also frees the lease for a standby.
- ``/readyz`` 200 when healthy and either standing by or leading with the initial listing done; 503
  otherwise.
Bodies are plain text saying why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from kafkaops import leadership
from kafkaops.httpserver import Answer, serve_in_thread

STALL_SECONDS = 30.0

logger = logging.getLogger("kafkaops.health")


class Health:
    """What the operator reports about itself; safe to call from any thread."""

    def __init__(self, stall_seconds: float = STALL_SECONDS, leading: Callable[[], bool] = leadership.is_leading,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds, self.leading, self.clock = stall_seconds, leading, clock
        self._last_beat: float | None = None
        self._synced = False
        self._checks: dict[str, Callable[[], str | None]] = {}
        self._lock = threading.Lock()

    def beat(self) -> None:
        """The event loop is alive (called every second by a task of the leading operator)."""
        self._last_beat = self.clock()

    def set_synced(self, synced: bool) -> None:
        """The initial listing of the watched resources is done (or, False, no longer is)."""
        self._synced = synced

    def add_check(self, name: str, check: Callable[[], str | None]) -> None:
        """``check`` returns a problem in words, or None; any problem fails liveness."""
        with self._lock:
            self._checks[name] = check

    def problems(self) -> list[str]:
        found = []
        last_beat = self._last_beat
        if last_beat is not None and self.leading():
            silent = self.clock() - last_beat
            if silent > self.stall_seconds:
                found.append(f"event loop stalled: last beat {silent:.1f}s ago (limit {self.stall_seconds:g}s)")
        with self._lock:
            checks = list(self._checks.items())
        for name, check in checks:
            try:
                problem = check()
            except Exception as error:  # a broken check is a problem to report, not a crashed probe
                problem = f"check failed: {error!r}"
            if problem:
                found.append(f"{name}: {problem}")
        return found

    def liveness(self) -> tuple[bool, str]:
        problems = self.problems()
        if problems:
            return False, "unhealthy: " + "; ".join(problems)
        return True, "ok: " + ("leading" if self.leading() else "standing by")

    def readiness(self) -> tuple[bool, str]:
        live, why = self.liveness()
        if not live:
            return False, why
        if not self.leading():
            return True, "ready: standing by"
        if not self._synced:
            return False, "not ready: leading, initial listing not done yet"
        return True, "ready: leading and synced"


HEALTH = Health()


def address(url: str) -> tuple[str, int]:
    """host and port of ``--liveness URL`` (its path is ignored: both endpoints are served)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    if parts.port is None:
        raise ValueError(f"the liveness URL {url!r} has no port")
    return parts.hostname or "0.0.0.0", parts.port


def serve(host: str, port: int, health: Health = HEALTH) -> ThreadingHTTPServer:
    """Serve ``/healthz`` and ``/readyz`` from a daemon thread; returns the server (``shutdown()`` stops it)."""

    def answer(target: str) -> Answer:
        path = urlsplit(target).path
        if path == "/healthz":
            ok, body = health.liveness()
            status = 200 if ok else 500
        elif path == "/readyz":
            ok, body = health.readiness()
            status = 200 if ok else 503
        else:
            status, body = 404, "not found: /healthz and /readyz are served"
        return Answer(status, "text/plain; charset=utf-8", (body + "\n").encode())

    return serve_in_thread(host, port, answer, name="health-server", logger=logger)
