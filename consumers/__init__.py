"""Long-running Kafka consumers: thin loops that wire `core` pieces together."""
