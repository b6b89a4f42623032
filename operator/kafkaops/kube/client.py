"""The operator's own Kubernetes API clients, configured here rather than through kopf's login:
our start-up listing runs before kopf has logged in, and the Lease is taken before kopf starts.

Every client names this process in its User-Agent, ``kafkaops/<version> (<identity>)`` as
controller-runtime does, with the same identity it holds the leader lease under: the API server's
audit log then tells which of two replicas sent a write."""

from __future__ import annotations

import functools
import os
import secrets
import socket

from kubernetes import client, config

from kafkaops import __version__


def identity() -> str:
    """The pod's name (or the host's) plus a random suffix: a restarted container with the same pod
    name is a new candidate, never mistaken for the holder it replaced."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{secrets.token_hex(3)}"


@functools.cache
def process_identity() -> str:
    """This process's identity, drawn once: its lease holder name and its User-Agent's comment."""
    return identity()


def user_agent() -> str:
    return f"kafkaops/{__version__} ({process_identity()})"


def new_api_client() -> client.ApiClient:
    """A client with its own configuration (not the process-wide default), from in-cluster
    credentials, else the kubeconfig."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        made = config.new_client_from_config(persist_config=False)
    else:
        made = client.ApiClient(configuration)
    made.user_agent = user_agent()
    return made
