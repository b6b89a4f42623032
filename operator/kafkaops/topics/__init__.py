"""KafkaTopic: the spec model, the pure planner and the reconciler that applies plans."""
