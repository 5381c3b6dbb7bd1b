"""Needs of a test that this machine may lack: skipped here, a failure in CI."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str) -> None:
    """Skip with the reason on a developer's machine; fail in CI, where it must exist."""
    if available:
        return
    if in_ci():
        pytest.fail(f"CI must provide {what}")
    pytest.skip(f"needs {what}")
