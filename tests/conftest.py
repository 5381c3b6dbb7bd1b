"""Shared fixtures: a middleware on a real SQLite file, and the profiler check."""

from __future__ import annotations

import sys

import pytest

from linesman.middleware import ProfilingMiddleware


def active_profilers() -> list[str]:
    found = []
    if sys.getprofile() is not None:
        found.append(f"sys.getprofile() = {sys.getprofile()!r}")
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is not None and monitoring.get_tool(monitoring.PROFILER_ID) is not None:
        found.append(f"sys.monitoring profiler tool {monitoring.get_tool(monitoring.PROFILER_ID)}")
    return found


@pytest.fixture(autouse=True)
def no_profiler_left_active():
    """A test that leaves a profiler on would skew every test after it."""
    assert active_profilers() == [], "a profiler was already active before the test"
    yield
    left = active_profilers()
    assert left == [], f"the test left a profiler active: {left}"


@pytest.fixture
def make_profiled(tmp_path):
    """Build ProfilingMiddleware instances on a temp SQLite file; closed afterwards."""
    made: list[ProfilingMiddleware] = []

    def build(app, **options) -> ProfilingMiddleware:
        options.setdefault("filename", str(tmp_path / "sessions.db"))
        middleware = ProfilingMiddleware(app, **options)
        made.append(middleware)
        return middleware

    yield build
    for middleware in made:
        middleware.close()
