"""KafkaCluster: the spec model and the resolution of its Secret references (pure)."""
