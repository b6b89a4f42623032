"""kafkaops: a Kubernetes operator for Kafka topics and lag-scaled Kafka consumers."""

__version__ = "0.1.0"

GROUP = "kafkaops.io"
VERSION = "v1alpha1"
