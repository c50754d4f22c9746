"""The root of every error streamscore raises on purpose.

Each error carries what went wrong (the message) and what to do about it (`hint`), so the
CLI can print one line to a person and structured logs can carry both fields.
"""

from __future__ import annotations


class StreamscoreError(Exception):
    """Base class: `str(err)` says what went wrong, `err.hint` what to do next."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def one_line(self) -> str:
        """The message and hint on a single line, for a terminal."""
        text = str(self).replace("\n", " ")
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(StreamscoreError):
    """Settings are missing, unknown or invalid."""

    hint = "check STREAMSCORE_* environment variables and the settings file"
