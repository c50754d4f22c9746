"""Dead letters after the fact: what one carries, whether it passes now, how a replay
went, and what may be shown of one (`streamscore dlq`). Pure: no Kafka in here; the
reading and the transactions are in `core.kafka.dead_letter_replay`."""
