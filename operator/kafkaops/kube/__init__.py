"""Kubernetes API calls that kopf does not make for us (the leader lease)."""
