"""Example workloads shipped in the image: the consumer ``examples/`` run and a producer that makes load."""
