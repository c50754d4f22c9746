"""The estimator kinds `core.training` builds, by name.

Kept apart from the training code, which imports scikit-learn, so that `streamscore train
--help` can offer them without loading it. `core.training` describes each kind.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ModelKind = Literal["logistic", "forest", "hgb"]
MODEL_KINDS: Final[tuple[str, ...]] = get_args(ModelKind)
DEFAULT_KIND: Final = "logistic"
