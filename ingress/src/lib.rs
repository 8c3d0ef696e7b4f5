//! The kafka-ingress engine.
