//! Test support for kafka-ingress: a real broker, topics, producer, recording handler.
