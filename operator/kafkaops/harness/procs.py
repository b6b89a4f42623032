"""Process plumbing shared by the Kafka and Kubernetes sides of the harness.

Every child is started in its own session with ``PR_SET_PDEATHSIG`` so that it dies with
the harness even on SIGKILL; on a clean exit, Ctrl-C or test failure ``stop()`` terminates
it and waits. Logs go to files so a failed start can be shown to the user.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def cache_root() -> Path:
    """Where downloads and builds are kept between runs."""
    root = Path(os.environ.get("KAFKAOPS_CACHE", Path.home() / ".cache" / "kafkaops"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def progress(message: str) -> None:
    """Progress lines go to stderr so that stdout stays machine-readable."""
    print(f"[harness {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class HarnessError(RuntimeError):
    """A component could not be built or started; the message says where its log is."""


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_logged(cmd: Sequence[str], log: Path, *, cwd: Path | None = None,
               env: dict[str, str] | None = None, what: str) -> None:
    """Run a build step to completion, keeping its output in ``log``; raise with its tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                check=False)
    if result.returncode != 0:
        raise HarnessError(f"{what} failed (exit {result.returncode}); log {log}:\n{tail(log)}")


class Service:
    """One long-running child process with its log file."""

    def __init__(self, name: str, cmd: Sequence[str], log: Path, *, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("ab")
        self.proc = subprocess.Popen(self.cmd, cwd=cwd, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` (bounded); fail fast with the log if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise HarnessError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"log {self.log}:\n{tail(self.log)}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise HarnessError(f"{self.name} not ready after {timeout:.0f}s; log {self.log}:\n"
                           f"{tail(self.log)}")

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()


def make_workdir(prefix: str) -> Path:
    """A fresh directory for one run's data and logs (kept after the run for post-mortems)."""
    base = Path(os.environ.get("KAFKAOPS_RUN_DIR", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
