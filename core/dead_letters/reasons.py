"""Every reason a dead letter can give (its `error.type` header), as plain strings.

Kept apart from the code that gives them (validation, the dead-letter policy), which
imports pydantic, so that `streamscore dlq replay --help` can list them without loading it.
"""

from __future__ import annotations

from typing import Final

ERROR_TYPES: Final = frozenset(
    {
        "empty_message",
        "oversized_message",
        "not_utf8",
        "malformed_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "out_of_range",
        "unknown_category",
        "oversized_value",
        "invalid_value",
    }
)
"""Every `InvalidEvent.error_type` (`core.validation`): why an event failed validation."""

PROCESSING_ERROR: Final = "processing_error"
"""The reason `DeadLetterPolicy` gives a batch whose processing raised."""

UNKNOWN: Final = "unknown"
"""The reason of a record on the DLQ without an `error.type` header (not written by
streamscore, or written by hand)."""

KNOWN_REASONS: Final = ERROR_TYPES | {PROCESSING_ERROR, UNKNOWN}
"""What `dlq replay --reason` and `dlq stats` accept and name."""
