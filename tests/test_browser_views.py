"""The cross-session pages in real headless Chromium: capture windows, comparisons,
merged profiles over a time range."""

from __future__ import annotations

import re

import pytest
from conftest import screenshot
from support.servers import demo_with_sessions, get, login_headers
from support.waiting import wait_for

pytestmark = pytest.mark.server

ROUTES = ("/slow", "/template", "/slow", "/template", "/slow", "/json")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    store = tmp_path_factory.mktemp("views") / "sessions.db"
    with demo_with_sessions(store, ROUTES) as (port, backend):
        assert backend.count() == len(ROUTES)
        base = f"http://127.0.0.1:{port}/__profiler__"
        token = login_headers(store)["X-Linesman-Token"]
        yield {"base": base, "backend": backend, "port": port, "login": f"{base}/?token={token}"}


@pytest.fixture
def page(page, site):
    """A tab logged in to the UI, as a user is after opening the printed link."""
    page.goto(site["login"])
    return page


def uuids_of(backend, path: str) -> list[str]:
    return [row["uuid"] for row in backend.summaries() if row["path"] == path]


def test_a_comparison_draws_a_differential_flame_graph_and_a_coloured_graph(site, page):
    backend = site["backend"]
    before, after = uuids_of(backend, "/template")[0], uuids_of(backend, "/slow")[-1]
    page.goto(f"{site['base']}/compare?a={before}&b={after}")
    page.wait_for_selector("#graph svg", timeout=30000)
    first = page.locator("#changes tbody tr").first.inner_text()
    assert "slow_lookup" in first or "checksum" in first or "sleep" in first
    slow = page.locator("#flame .frame", has_text="slow_lookup").first
    change = slow.get_attribute("data-change")
    assert change is not None and float(change) > 0, change  # it got slower
    assert slow.evaluate("bar => getComputedStyle(bar).backgroundColor").startswith("rgb(255, "), (
        "a function that got slower is red"
    )
    slow.hover()  # its tooltip says how its own time changed
    told = page.locator("#flame-tip").inner_text()
    assert "(new)" in told or "%)" in told, told
    assert slow.inner_text().startswith("slow_lookup new") or "%" in slow.inner_text()
    # Frames whose function did not change are grey, not white: the graph reads whole.
    colours = page.locator("#flame .frame.compared").evaluate_all(
        "bars => bars.map(bar => getComputedStyle(bar).backgroundColor)"
    )
    assert "rgb(255, 255, 255)" not in colours and "rgb(227, 231, 235)" in colours
    assert page.locator(".change-key .chip").count() == 5
    fills = page.locator("#graph svg g.node path, #graph svg g.node polygon").evaluate_all(
        "shapes => shapes.map(shape => shape.getAttribute('fill'))"
    )
    assert any(fill.lower().startswith("#ff") and fill.lower() != "#ffffff" for fill in fills)
    assert page.locator("#graph svg text", has_text="own time +").count() >= 1
    screenshot(page, "compare")


def test_a_session_against_its_endpoints_median(site, page):
    slow = uuids_of(site["backend"], "/slow")
    page.goto(f"{site['base']}/profiles/{slow[0]}")
    page.click("text=Compare against its endpoint's median")
    page.wait_for_url("**/compare?**")
    assert f"b={slow[0]}" in page.url
    page.wait_for_selector("#flame .frame")
    assert page.locator("h1").inner_text().startswith("GET /slow")


def test_a_merged_profile_over_a_range_compared_with_another(site, page):
    backend = site["backend"]
    stamps = sorted(row["timestamp"] for row in backend.summaries() if row["path"] == "/slow")
    page.goto(site["base"] + "/endpoints")
    page.click("a[href*='merged'][href*='slow']")
    page.wait_for_selector("#flame .frame")
    assert "(3 sessions merged)" in page.inner_text("h1")
    page.fill("#merge-range input[name=since]", f"{(stamps[0] + stamps[1]) / 2:.3f}")
    page.click("#merge-range button")
    page.wait_for_url("**since=**")
    assert "(2 sessions merged)" in page.inner_text("h1")
    page.click("#merge-compare button")
    page.wait_for_url("**/compare?**")
    page.wait_for_selector("#graph svg", timeout=30000)
    assert "(1 session merged" in page.inner_text("dl.summary")
    assert "(2 sessions merged" in page.inner_text("dl.summary")
    headers = page.locator("#changes thead th").all_inner_texts()
    assert "calls per request" in headers and "own time change per request" in headers
    assert "-0.00" not in page.inner_text("#changes")


def everything_profiled_is_finished(page) -> bool:
    """Whether the list's counters for the demo's process say that every request
    it profiled is stored, refused by a closed window or lost."""
    page.reload()
    line = page.locator(".counters p").last.inner_text()  # this process's, or the same

    def counted(what: str) -> int:
        found = re.search(rf"([\d,]+) {what}", line)
        return int(found.group(1).replace(",", "")) if found else 0

    finished = counted("stored") + counted("capture_closed") + counted("lost")
    return counted("profiled") == finished


def test_a_capture_window_armed_from_the_list_catches_exactly_n(site, page):
    backend = site["backend"]
    page.goto(site["base"] + "/")
    page.click("button >> text=Turn off")
    page.wait_for_selector("text=Profiling is off")
    stored = backend.count()
    assert not page.is_visible("#capture-form")  # folded until asked for
    page.click("summary >> text=Start a capture window")
    page.fill("#capture-form input[name=requests]", "2")
    page.fill("#capture-form input[name=pattern]", "^/json")
    page.click("#capture-form button")
    page.wait_for_selector(".capture.running")
    assert "caught 0 of 2" in page.inner_text(".captures")
    for route in ("/json", "/slow", "/json", "/json", "/template"):
        assert get(site["port"], route)[0] == 200
    wait_for(lambda: backend.count() >= stored + 2)
    # A third session must never come: once every request the demo profiled is
    # stored or refused by the full window, none can.
    wait_for(lambda: everything_profiled_is_finished(page), what="the demo's writer")
    assert backend.count() == stored + 2
    assert "caught 2 of 2" in page.inner_text(".captures")
    assert page.locator(".capture.ended").count() == 1
    ended = page.locator(".capture.ended .state")
    assert ended.inner_text() == "Ended"
    assert ended.evaluate("e => getComputedStyle(e).color") != "rgb(180, 35, 24)"  # not red
    screenshot(page, "list-capture")
    page.click("text=show what it caught")
    page.wait_for_url("**capture=**")
    assert page.locator("td.path a").all_inner_texts() == ["/json", "/json"]
    page.click("button >> text=Turn on")
    page.wait_for_selector("text=Profiling is on")
