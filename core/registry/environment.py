"""Library versions recorded with each artifact and the rule for loading it elsewhere.

scikit-learn only supports unpickling with the exact version that pickled; in practice
patch releases load fine, while a different minor or major release can change estimator
internals silently. numpy 1 and 2 pickles are not interchangeable either. Those are the
mismatches this module reports; patch differences are left to scikit-learn's own warning.
"""

from __future__ import annotations

import functools
import importlib
import platform

TRACKED = {
    "scikit-learn": "sklearn",
    "numpy": "numpy",
    "scipy": "scipy",
    "joblib": "joblib",
    "pandas": "pandas",
}
"""Distribution name -> module whose `__version__` is what actually runs."""


def library_versions() -> dict[str, str]:
    """The versions that matter for unpickling, as running now (computed once)."""
    return dict(_running())


@functools.cache
def _running() -> tuple[tuple[str, str], ...]:
    # Module `__version__` rather than importlib.metadata: it is what is imported (not
    # what some dist-info says) and costs nothing, where metadata parsing costs ~3 ms.
    found = [("python", platform.python_version())]
    for package, module in TRACKED.items():
        try:
            version = getattr(importlib.import_module(module), "__version__", None)
        except ImportError:
            continue
        if isinstance(version, str):
            found.append((package, version))
    return tuple(found)


def _release(version: str, parts: int) -> tuple[int, ...]:
    numbers: list[int] = []
    for piece in version.split(".")[:parts]:
        digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
        numbers.append(int(digits))
    return tuple(numbers)


def unsupported_differences(recorded: dict[str, str], running: dict[str, str]) -> list[str]:
    """Mismatches scikit-learn does not support: other sklearn minor/major, other numpy major.

    >>> unsupported_differences({"scikit-learn": "1.4.2"}, {"scikit-learn": "1.5.0"})
    ['scikit-learn 1.4.2 recorded, 1.5.0 running']
    >>> unsupported_differences({"scikit-learn": "1.5.0"}, {"scikit-learn": "1.5.2"})
    []
    """
    rules = {"scikit-learn": 2, "numpy": 1}
    problems: list[str] = []
    for package, parts in rules.items():
        then, now = recorded.get(package), running.get(package)
        if then is None or now is None:
            continue
        if _release(then, parts) != _release(now, parts):
            problems.append(f"{package} {then} recorded, {now} running")
    return problems
