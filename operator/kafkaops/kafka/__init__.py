"""The only package that talks to Kafka (confluent-kafka): admin client, batching, errors."""
