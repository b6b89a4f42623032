"""KafkaUser: spec model, the ACLs a user should have and the diff against the broker's (pure)."""
