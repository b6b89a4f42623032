"""ConsumerApp: lag maths, the replica decision and the Deployment builder (all pure)."""
