"""Shared fixtures: a middleware on a real SQLite file, the profiler check, the
writer threads a test leaves running closed, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from support.require import require

from linesman.middleware import ProfilingMiddleware
from linesman.storage import writer as writer_module


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


def _writers() -> set:
    return set(writer_module._WRITERS)


def _close_writers_made_since(before: set) -> None:
    """Stop the threads of writers made since ``before`` that still run here.

    A middleware the test never closed keeps its writer's thread, which wakes
    twice a second to read the switch for as long as the process lives: dozens
    of them load the GIL late in the suite and skew the timing tests there. A
    writer made earlier (a module's fixture) is left to its owner."""
    for writer in _writers() - before:
        if writer.thread_ident is not None:
            writer.close(timeout=1.0)


@pytest.fixture(scope="module", autouse=True)
def close_module_writers():
    """The writer threads a module's own fixtures started and left running."""
    before = _writers()
    yield
    _close_writers_made_since(before)


@pytest.fixture(autouse=True)
def close_test_writers():
    """The writer threads a test started and left running (see above)."""
    before = _writers()
    yield
    _close_writers_made_since(before)


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


# -- real headless Chromium, for the browser tests -------------------------------
CHROMIUM = os.environ.get("LINESMAN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    require(
        shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(),
        f"Chromium at {CHROMIUM} (Debian package chromium)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A tab; the test fails if the page logged an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.problems = problems
    yield tab
    context.close()
    assert problems == [], f"the page logged errors: {problems}"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
