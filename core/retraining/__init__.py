"""Retraining: decide, read labelled data back, train a challenger, gate it against the
champion.

Nothing here talks to Kafka or moves a stage, so the retrainer consumer is a
thin loop: the policy says whether an alert trains, `dataset` joins events read back
from Kafka with their outcomes, `trainer` fits and gates, and the consumer registers,
promotes and announces what the verdict allows.

Nothing is re-exported here: `core.settings` will import `core.retraining.config`, and
that must not pull in scikit-learn. Import from the modules: `policy.RetrainPolicy`,
`dataset.build_dataset`, `trainer.train_challenger`, `decision.RetrainDecision`.
"""
