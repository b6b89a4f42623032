"""The operator's own Kubernetes API clients, configured here rather than through kopf's login:
our start-up listing runs before kopf has logged in, and the Lease is taken before kopf starts."""

from __future__ import annotations

from kubernetes import client, config


def new_api_client() -> client.ApiClient:
    """A client with its own configuration (not the process-wide default), from in-cluster
    credentials, else the kubeconfig."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        return config.new_client_from_config(persist_config=False)
    return client.ApiClient(configuration)
