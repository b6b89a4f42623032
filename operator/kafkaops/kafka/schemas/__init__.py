"""Kafka's own message schemas (Apache-2.0, copied unchanged from kafka-clients 4.4.0,
``common/message/``) for the share-group requests kafka-python 3.0 lacks; read by
:mod:`kafkaops.kafka.share_groups`."""
