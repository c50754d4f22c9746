"""Feature drift: reference profiles, window states, the engine, windows and alerting.

Pure pieces, no Kafka; see docs/drift.md. Modules are imported directly
(`from core.drift.profile import ReferenceProfile`) so that loading settings, which
imports `core.drift.config`, does not pull in scipy and pandas.
"""
