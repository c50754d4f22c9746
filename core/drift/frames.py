"""Reading samples for offline comparison, and telling numeric from categorical features."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from core.errors import StreamscoreError


class DriftInputError(StreamscoreError):
    """A file to compare cannot be read or lacks the features asked for."""

    hint = "give CSV or JSON-lines files that share the feature columns"


def read_frame(path: Path | str) -> pd.DataFrame:
    """A CSV or JSON-lines file as a frame; the format comes from the suffix or content."""
    p = Path(path)
    if not p.is_file():
        raise DriftInputError(f"{p} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(p, lines=True)
        if suffix in (".csv", ".txt", ".tsv"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
        with p.open("rb") as fh:
            head = fh.read(256).lstrip()
        return pd.read_json(p, lines=True) if head.startswith(b"{") else pd.read_csv(p)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DriftInputError(f"cannot read {p}: {exc}") from None


def split_kinds(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str] | None = None,
    force_categorical: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names: numeric dtype in the reference -> numeric.

    Without ``features``, every column the two frames share is compared. Booleans and
    anything in ``force_categorical`` (e.g. integer-coded categories) count as categorical.
    """
    shared = [c for c in reference.columns if c in current.columns]
    names = list(features) if features else shared
    absent = [c for c in names if c not in reference.columns or c not in current.columns]
    if absent:
        raise DriftInputError(f"features missing from one of the files: {absent}")
    if not names:
        raise DriftInputError("the files share no columns to compare")
    numeric, categorical = [], []
    for name in names:
        dtype = reference[name].dtype
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if is_number and name not in force_categorical:
            numeric.append(name)
        else:
            categorical.append(name)
    return numeric, categorical
