"""streamscore: event-driven streaming scoring of ML models on Apache Kafka."""

__version__ = "0.1.0"
