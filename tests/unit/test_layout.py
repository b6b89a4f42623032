"""Guards for the project's layout rules."""

from __future__ import annotations

import ast
import operator
import re
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from kafkaops.settings import Settings
from kafkaops.topics.spec import TopicSpec
from kafkaops.types.specs import MAX_TOPIC_NAME_LENGTH, TOPIC_NAME_PATTERN

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
PURE_MODULES = ["topics/spec.py", "topics/plan.py", "conditions.py", "settings.py", "leadership.py", "health.py",
                "consumers/scaling.py", "types/topics.py", "types/errors.py", "types/groups.py",
                "clusters/spec.py", "clusters/credentials.py", "clusters/status.py", "types/clusters.py",
                "types/users.py", "users/spec.py", "users/acls.py"]


def test_stdlib_operator_is_not_shadowed():
    assert not (REPO / "operator" / "__init__.py").exists()
    assert Path(operator.__file__).parent == Path(sysconfig.get_paths()["stdlib"])


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_neither_kopf_nor_confluent_kafka(module):
    tree = ast.parse((REPO / "operator" / "kafkaops" / module).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"kopf", "confluent_kafka", "kubernetes"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


@pytest.mark.parametrize("path", sorted((REPO / "operator" / "kafkaops" / "types").glob("*.py")), ids=lambda p: p.name)
def test_types_import_only_the_standard_library_pydantic_and_each_other(path):
    """types/ sits below both the domain and the adapters: neither may leak into it (pydantic, the
    spec models' validation library, is the one dependency)."""
    for name in _imports(path):
        top = name.split(".")[0]
        allowed = top in {"__future__", "pydantic"} or top in sys.stdlib_module_names
        assert allowed or name.startswith("kafkaops.types"), name


def test_crd_schema_agrees_with_the_spec_model():
    crd = yaml.safe_load((REPO / "crds" / "kafkatopics.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    aliases = {field.alias or name for name, field in TopicSpec.model_fields.items()}
    assert set(schema["properties"]) == aliases
    assert schema["required"] == ["partitions"]
    name = schema["properties"]["topicName"]
    assert name["pattern"] == TOPIC_NAME_PATTERN and name["maxLength"] == MAX_TOPIC_NAME_LENGTH
    assert schema["properties"]["deletionPolicy"]["enum"] == ["Retain", "Delete"]
    assert schema["properties"]["partitions"]["minimum"] == TopicSpec.model_fields["partitions"].metadata[0].ge


def test_settings_from_environment():
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "KAFKAOPS_KAFKA_SECURITY_PROTOCOL": "SSL",
                                  "KAFKAOPS_DRIFT_INTERVAL_SECONDS": "7"})
    assert settings.kafka_client_config() == {"security.protocol": "SSL", "bootstrap.servers": "k:9092"}
    assert settings.drift_interval_seconds == 7.0
    with pytest.raises(ValueError):
        Settings.from_env({"KAFKAOPS_DRIFT_INTERVAL_SECONDS": "0"})


def test_every_kopf_event_handler_runs_on_the_event_loop():
    """kopf runs plain functions in a thread pool; our handlers touch caches, work queues and asyncio
    events that belong to the loop, so each must be a coroutine function."""
    import inspect

    from kafkaops import handlers

    found = {f"{module.__name__}.{name}": function for module in (getattr(handlers, m) for m in handlers.__all__)
             for name, function in vars(module).items() if name.endswith("_event") and callable(function)
             and getattr(function, "__module__", "") == module.__name__}
    assert len(found) >= 6, found
    assert [name for name, function in found.items() if not inspect.iscoroutinefunction(function)] == []


def test_test_modules_have_unique_basenames():
    """pytest imports test modules by basename (rootdir-relative packages are not used here): two files
    of one name in different folders stop the whole run at collection."""
    names = [path.name for path in (REPO / "tests").rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []


LIFECYCLE_ACTS = re.compile(r"\.kill\(|SIGSTOP|SIGKILL|restart_apiserver|restart_broker|os\.kill\(")


@pytest.mark.parametrize("path", sorted([*(REPO / "tests" / "e2e").glob("test_*.py"),
                                         *(REPO / "tests" / "integration").glob("test_*.py")]), ids=lambda p: p.name)
def test_a_module_that_kills_freezes_or_restarts_is_marked_lifecycle(path):
    """make flake-check loops over ``-m lifecycle``; a new test that kills something must be in the loop."""
    text = path.read_text()
    if LIFECYCLE_ACTS.search(text):
        assert re.search(r"^pytestmark = \[.*pytest\.mark\.lifecycle.*\]$", text, re.M), \
            f"{path.name} kills, freezes or restarts something: add pytest.mark.lifecycle to its pytestmark"
