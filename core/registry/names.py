"""Validation of model names and versions before they become parts of a path.

Names end up as folder names, so anything that could climb out of the registry root
(`..`, separators, absolute paths) or confuse a file system (empty, overlong, control
characters, a leading dot that hides the folder) is rejected up front.
"""

from __future__ import annotations

import re
from typing import Final

from core.registry.exceptions import InvalidName

MAX_NAME_LENGTH: Final = 64
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def validate_name(name: object) -> str:
    """Return `name` unchanged if it is safe as a single folder name, else raise InvalidName.

    >>> validate_name("churn-v2")
    'churn-v2'
    """
    if not isinstance(name, str):
        raise InvalidName(name, "a name must be a string")
    if not name:
        raise InvalidName(name, "a name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(name, f"longer than {MAX_NAME_LENGTH} characters")
    if "/" in name or "\\" in name:
        raise InvalidName(name, "path separators are not allowed")
    if not _NAME.fullmatch(name):
        raise InvalidName(name, "only letters, digits, '.', '_' and '-', starting alphanumeric")
    return name


def validate_version(version: object) -> int:
    """Return `version` as a positive int; strings of digits (from a CLI) are accepted.

    >>> validate_version("3")
    3
    """
    if isinstance(version, bool):
        raise InvalidName(version, "a version must be a positive integer")
    if isinstance(version, str):
        if not version.isascii() or not version.isdigit():
            raise InvalidName(version, "a version must be a positive integer")
        version = int(version)
    if not isinstance(version, int) or version < 1:
        raise InvalidName(version, "a version must be a positive integer")
    if version > 10**9:
        raise InvalidName(version, "a version must be at most 10^9")
    return version
