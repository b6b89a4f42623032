"""Build the operator image without a Docker engine: Debian's daemonless toolchain (buildah, podman,
runc, mmdebstrap, skopeo) builds the repository's Dockerfile as it is.

No container registry is reachable here, so the Dockerfile's ``FROM python:3.11.14-slim-bookworm`` is stood
in for by a Debian bookworm root file system made with mmdebstrap (Python 3.11 from Debian), imported and
tagged with the FROM name so that ``buildah bud --pull=never`` finds it. The base tar is cached under
``<cache>/image/`` keyed by its package list; buildah's ``--layers`` cache makes a warm build take seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kafkaops.harness.debian import apt_install
from kafkaops.harness.procs import HarnessError, cache_root, progress, run_logged

IMAGE = os.environ.get("KAFKAOPS_IMAGE", "localhost/kafkaops:dev")
# The build toolchain: each a Debian package of the same name as its command (skopeo exports and pushes).
TOOLS = ("buildah", "podman", "runc", "mmdebstrap", "skopeo")
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
# pip inside the build reaches the package index through this network's TLS-intercepting proxy: the host's CA
# bundle is bind-mounted for the RUN steps only, never baked into a layer.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LICENSE_LABEL = "org.opencontainers.image.licenses"
VERSION_LABEL = "org.opencontainers.image.version"
SOURCE_LABEL = "org.opencontainers.image.source"


def image_dir() -> Path:
    return cache_root() / "image"


def ensure_tools() -> None:
    """Install the toolchain from Debian when a command is missing (``apt-get update`` first: a fresh
    machine's lists may be empty); nothing to do when all are on PATH."""
    missing = [c for c in TOOLS if shutil.which(c) is None]
    if not missing:
        return
    log = image_dir() / "apt.log"
    progress(f"installing {' '.join(TOOLS)} with apt-get (missing: {', '.join(missing)}); log {log}")
    apt_install(TOOLS, log)


def dockerfile_base(dockerfile: Path) -> str:
    """The fully qualified name of the Dockerfile's default ``PYTHON_IMAGE`` (what buildah looks up)."""
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile.read_text(), re.M)
    if not match:
        raise HarnessError(f"no 'ARG PYTHON_IMAGE=' default in {dockerfile}")
    name = match.group(1)
    return name if "/" in name else f"docker.io/library/{name}"


def base_key() -> str:
    """What the base tar is made of: a changed package list or suite makes a new tar."""
    recipe = json.dumps({"suite": BASE_SUITE, "packages": BASE_PACKAGES, "variant": "minbase"})
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False, timeout=600)


def ensure_base(base_name: str, log: Path) -> None:
    """The stand-in for the Dockerfile's FROM image in local storage, built and imported once."""
    if _podman("image", "exists", base_name).returncode == 0:
        return
    tar = image_dir() / f"base-{BASE_SUITE}-{base_key()}.tar"
    if not tar.exists():
        progress(f"building the base image's root file system with mmdebstrap ({BASE_SUITE}; about a minute)")
        started = time.monotonic()
        partial = tar.with_suffix(".partial")
        run_logged(["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
                    "--aptopt=APT::Install-Recommends \"false\"", f"--include={','.join(BASE_PACKAGES)}",
                    BASE_SUITE, str(partial)], log, what="mmdebstrap")
        partial.rename(tar)
        progress(f"base root file system {tar} ({tar.stat().st_size / 1e6:.0f} MB) in "
                 f"{time.monotonic() - started:.0f}s")
    local = f"localhost/debian-python:{BASE_SUITE}-{base_key()}"
    run_logged(["podman", "import", "--change", "CMD [\"python3\"]", str(tar), local], log, what="podman import")
    run_logged(["podman", "tag", local, base_name], log, what="podman tag")


@dataclass(frozen=True)
class ProjectMeta:
    version: str
    license: str


def project_meta(repo: Path) -> ProjectMeta:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    return ProjectMeta(version=str(project["version"]), license=str(project["license"]))


def labels(image: str = IMAGE) -> dict[str, str]:
    """The image's labels (OCI annotations among them)."""
    out = _podman("image", "inspect", "--format", "{{json .Labels}}", image)
    if out.returncode != 0:
        raise HarnessError(f"podman image inspect {image} failed: {out.stderr}")
    return dict(json.loads(out.stdout) or {})


def size_bytes(image: str = IMAGE) -> int:
    out = _podman("image", "inspect", "--format", "{{.Size}}", image)
    if out.returncode != 0:
        raise HarnessError(f"podman image inspect {image} failed: {out.stderr}")
    return int(out.stdout.strip())


def build_image(repo: Path, image: str = IMAGE, source: str = "") -> str:
    """Build ``image`` from ``repo``'s Dockerfile (idempotent; cached layers make a warm build quick)."""
    ensure_tools()
    log = image_dir() / "build.log"
    base = dockerfile_base(repo / "Dockerfile")
    ensure_base(base, log)
    meta = project_meta(repo)
    progress(f"building {image} (version {meta.version}) with buildah; log {log}")
    started = time.monotonic()
    run_logged(["buildah", "bud", "--pull=never", "--layers", "--isolation", "chroot",
                "--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro",
                "--build-arg", f"VERSION={meta.version}", "--build-arg", f"LICENSE={meta.license}",
                "--build-arg", f"SOURCE={source}", "-t", image, "."], log, cwd=repo, what="buildah bud")
    progress(f"built {image} in {time.monotonic() - started:.0f}s: {size_bytes(image) / 1e6:.0f} MB")
    return image
