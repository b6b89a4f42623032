"""``kafkaops run`` flags and environment variables end in the same Settings and kopf.run arguments."""

from __future__ import annotations

import pytest

from kafkaops.cli import build_parser, diff_cluster, flags_to_env, kopf_run_options
from kafkaops.leadership import Timings
from kafkaops.settings import Settings

pytestmark = pytest.mark.unit


def settings_from(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    env = dict(env or {})
    flags_to_env(build_parser().parse_args(["run", *argv]), env)
    return Settings.from_env(env)


def test_defaults():
    settings = settings_from([])
    assert (settings.metrics_port, settings.log_format, settings.liveness_endpoint) == (9090, "text", None)
    assert kopf_run_options(settings) == {"clusterwide": True, "namespaces": [], "standalone": True}
    assert settings.leader_election is False
    assert settings.lease_timings() == Timings(15, 10, 2) and settings.lease_name == "kafkaops-leader"


def test_flags_set_the_charts_variables():
    settings = settings_from(["--bootstrap-servers", "k:9092", "--namespace", "a", "--namespace", "b",
                              "--drift-interval", "30", "--metrics-port", "0", "--liveness", "http://0.0.0.0:8080/healthz",
                              "--log-format", "json", "--max-concurrent-reconciles", "20", "--peering"])
    assert settings.bootstrap_servers == "k:9092" and settings.namespaces == ("a", "b")
    assert settings.drift_interval_seconds == 30 and settings.metrics_port == 0
    assert settings.log_format == "json" and settings.max_concurrent_reconciles == 20
    assert settings.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert kopf_run_options(settings) == {"clusterwide": False, "namespaces": ["a", "b"], "standalone": False}


def test_leader_election_runs_kopf_standalone():
    from_flag = settings_from(["--leader-elect"])
    from_env = settings_from([], {"KAFKAOPS_LEADER_ELECTION": "true", "KAFKAOPS_LEASE_NAMESPACE": "ops",
                                  "KAFKAOPS_LEASE_DURATION_SECONDS": "30",
                                  "KAFKAOPS_LEASE_RENEW_DEADLINE_SECONDS": "20",
                                  "KAFKAOPS_LEASE_RETRY_PERIOD_SECONDS": "4"})
    assert from_flag.leader_election and from_env.leader_election
    assert kopf_run_options(from_flag)["standalone"] is True
    assert from_env.lease_namespace == "ops" and from_env.lease_timings() == Timings(30, 20, 4)


def test_environment_alone_reaches_kopf_the_same_way():
    env = {"KAFKAOPS_NAMESPACES": "a, b", "KAFKAOPS_LIVENESS_ENDPOINT": "http://0.0.0.0:8080/healthz",
           "KAFKAOPS_PEERING": "true", "KAFKAOPS_METRICS_PORT": "9100", "KAFKAOPS_LOG_FORMAT": "json"}
    from_env = settings_from([], env)
    from_flags = settings_from(["--namespace", "a", "--namespace", "b", "--liveness", "http://0.0.0.0:8080/healthz",
                                "--peering", "--metrics-port", "9100", "--log-format", "json"])
    assert kopf_run_options(from_env) == kopf_run_options(from_flags)
    assert from_env.metrics_port == from_flags.metrics_port == 9100


def test_flag_wins_over_environment():
    settings = settings_from(["--namespace", "c", "--log-format", "text"],
                             {"KAFKAOPS_NAMESPACES": "a,b", "KAFKAOPS_LOG_FORMAT": "json"})
    assert settings.namespaces == ("c",) and settings.log_format == "text"


@pytest.mark.parametrize("env", [{"KAFKAOPS_LOG_FORMAT": "xml"}, {"KAFKAOPS_METRICS_PORT": "70000"},
                                 {"KAFKAOPS_MAX_CONCURRENT_RECONCILES": "0"}, {"KAFKAOPS_STALL_SECONDS": "0"},
                                 {"KAFKAOPS_LEASE_RENEW_DEADLINE_SECONDS": "15"},  # must be below the duration
                                 {"KAFKAOPS_LEASE_RETRY_PERIOD_SECONDS": "10"},  # must be below the deadline
                                 {"KAFKAOPS_LEADER_ELECTION": "true", "KAFKAOPS_PEERING": "true"}])
def test_bad_values_are_refused(env):
    with pytest.raises(ValueError):
        Settings.from_env(env)


def test_diff_requires_a_file():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["diff"])


@pytest.mark.parametrize(("flag", "named", "expected"), [
    (None, set(), None),
    (None, {"default"}, None),
    (None, {"prod"}, "prod"),
    (None, {"default", "prod"}, "prod"),
    ("staging", {"prod"}, "staging"),
])
def test_diff_runs_against_the_flag_else_the_manifests_one_cluster(flag, named, expected):
    assert diff_cluster(flag, named) == expected


def test_diff_refuses_manifests_of_several_clusters_without_a_flag():
    with pytest.raises(ValueError, match="several KafkaClusters"):
        diff_cluster(None, {"prod", "staging"})
