"""Retraining: decide, read labelled data back, train a challenger, gate it against the
champion.

Every piece here is pure (no Kafka, no registry writes) so the retrainer consumer is a
thin loop: the policy says whether an alert trains, `dataset` joins events read back
from Kafka with their outcomes, `trainer` fits and gates, and the consumer registers,
promotes and announces what the verdict allows.
"""
