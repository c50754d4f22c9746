"""Live model quality: predictions joined with their later outcomes, judged per window.

Pure pieces, no Kafka, for the `streamscore monitor` consumer: the join buffer
(`join`), mergeable metric accumulators (`metrics`), event-time windows (`windows`),
analytic intervals (`intervals`), the per-window judgement (`detector`), the M-of-N alert
policy (`policy`), the topic records (`records`) and the settings section (`config`).
Modules are imported directly, as in `core.drift`.
"""
