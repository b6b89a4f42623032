"""Debian's packages for the harness. ``apt_lock`` serialises this project's apt calls (the image build and
the harness build run side by side in ``make test``, and two apt-get processes refuse each other's lock).
Files can be taken from a package without installing it: ``apt-get download`` fetches the .deb (Debian's
archive is one of the registries this machine reaches) and ``dpkg-deb -x`` unpacks it, so a tool the tests
need arrives in seconds and nothing (no service, no dependency) is installed system-wide."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kafkaops.harness.procs import HarnessError, cache_root, run_logged


def apt_env() -> dict[str, str]:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


@contextlib.contextmanager
def apt_lock() -> Iterator[None]:
    """Hold the harness's apt lock (a file lock in the cache) for the block."""
    with (cache_root() / "apt.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def apt_install(packages: list[str] | tuple[str, ...], log: Path) -> None:
    """``apt-get install`` as root, the lists refreshed first (a fresh machine's may be empty)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise HarnessError(f"missing {', '.join(packages)}: install them with apt-get install -y "
                           f"{' '.join(packages)} (as root)")
    with apt_lock():
        run_logged(["apt-get", "update", "-q"], log, env=apt_env(), what="apt-get update")
        run_logged(["apt-get", "install", "-y", "-q", *packages], log, env=apt_env(), what="apt-get install")


def download_deb(package: str, directory: Path, log: Path) -> Path:
    """``package``'s .deb in ``directory``; the package lists are refreshed once when apt does not know it
    (a fresh machine's lists may be empty)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise HarnessError(f"apt-get and dpkg-deb are needed to fetch Debian's {package}")
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        with log.open("a") as out, apt_lock():
            done = subprocess.run(["apt-get", "download", "-q", package], cwd=directory, stdout=out,
                                  stderr=subprocess.STDOUT, env=apt_env(), check=False, timeout=600)
        if done.returncode == 0:
            break
        if attempt == 0:
            with apt_lock():
                run_logged(["apt-get", "update", "-q"], log, env=apt_env(), what="apt-get update")
    debs = sorted(directory.glob(f"{package}_*.deb"))
    if not debs:
        raise HarnessError(f"apt-get download {package} failed; log {log}")
    return debs[-1]


def deb_version(deb: Path) -> str:
    """``prometheus_2.42.0+ds-5+deb12u1_amd64.deb`` -> ``2.42.0+ds-5+deb12u1``."""
    return deb.name.split("_")[1]


def extract_member(deb: Path, member: str, target: Path) -> Path:
    """Unpack ``deb`` in a scratch folder and keep only ``member`` (e.g. ``usr/bin/promtool``) at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        subprocess.run(["dpkg-deb", "-x", str(deb), scratch], check=True, timeout=300)
        shutil.move(str(Path(scratch) / member), target)
    return target
