"""A real Kafka broker and a real Kubernetes control plane on loopback, for tests, benchmarks
and the local demo. Nothing here is used by the operator itself.

Everything downloaded or built is cached under ``$KAFKAOPS_CACHE`` (default
``~/.cache/kafkaops``), keyed by version, so a warm start takes seconds.
"""
