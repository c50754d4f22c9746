"""What the registry agrees to store, and the bytes it stores for it.

Everything here runs before the writer lock is taken: a bad argument must fail without
leaving a trace on disk, and a slow model dump must not hold other writers up.
"""

from __future__ import annotations

import functools
import getpass
import io
import json
import os
import socket
from typing import Any

import joblib

from core.registry.exceptions import InvalidRegistration
from core.registry.records import canonical_json


def require_fitted(model: Any) -> None:
    """Only fitted scikit-learn estimators: anything else would fail later, in a scorer."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise InvalidRegistration(f"{type(model).__name__} is not a scikit-learn estimator")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidRegistration(f"{type(model).__name__} is not fitted") from None


def dump_model(model: Any) -> bytes:
    """The joblib bytes of `model`, in memory so they are hashed exactly as written."""
    buffer = io.BytesIO()
    try:
        joblib.dump(model, buffer)
    except Exception as exc:
        raise InvalidRegistration(f"the model cannot be serialized with joblib: {exc}") from exc
    return buffer.getvalue()


def load_model(data: bytes) -> Any:
    """Unpickle verified bytes; callers check the SHA-256 first (this runs code)."""
    return joblib.load(io.BytesIO(data))


def json_bytes(label: str, value: Any, *, canonical: bool = False) -> bytes:
    """JSON bytes of a value that must survive a round trip exactly (no NaN, str keys)."""
    try:
        if canonical:
            return canonical_json(value)
        return json.dumps(value, indent=1, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidRegistration(f"{label} is not plain JSON: {exc}") from None


def writer_identity() -> str:
    """user@host (pid N): who made a transition, for the audit history."""
    return f"{_user_at_host()} (pid {os.getpid()})"


@functools.cache
def _user_at_host() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
