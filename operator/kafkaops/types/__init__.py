"""Value types shared by the domain and the adapters; imports neither (nor kopf, Kafka or Kubernetes clients)."""
