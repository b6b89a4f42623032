"""The image build's inputs: the Dockerfile's FROM as buildah looks it up, the base tar's cache key, and the
labels' values from pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kafkaops import __version__
from kafkaops.harness import image

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_the_base_stands_in_under_the_fully_qualified_from_name(tmp_path):
    assert image.dockerfile_base(REPO / "Dockerfile") == "docker.io/library/python:3.11.14-slim-bookworm"
    other = tmp_path / "Dockerfile"
    other.write_text("ARG PYTHON_IMAGE=registry.example.com/python:3.12\nFROM ${PYTHON_IMAGE}\n")
    assert image.dockerfile_base(other) == "registry.example.com/python:3.12"


def test_the_base_tar_is_keyed_by_its_package_list(monkeypatch):
    key = image.base_key()
    assert key == image.base_key()
    monkeypatch.setattr(image, "BASE_PACKAGES", (*image.BASE_PACKAGES, "tini"))
    assert image.base_key() != key


def test_labels_come_from_pyproject_which_agrees_with_the_package():
    meta = image.project_meta(REPO)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert (meta.version, meta.license) == (project["version"], project["license"]) == (__version__, "Apache-2.0")


def test_the_dockerfile_labels_what_make_image_passes():
    text = (REPO / "Dockerfile").read_text()
    for label, arg in ((image.VERSION_LABEL, "VERSION"), (image.LICENSE_LABEL, "LICENSE"),
                       (image.SOURCE_LABEL, "SOURCE")):
        assert f'{label}="${{{arg}}}"' in text
