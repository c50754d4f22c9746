"""Finding the Prometheus binaries (Debian package `prometheus`; `.ci/run` installs it).

Without them a developer's run skips the checks with the install command; CI (`CI` set)
fails instead, so a machine that lost the package cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS_PROMETHEUS = os.path.join(ROOT, "ops", "prometheus")


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} is not installed: apt-get install -y prometheus"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
