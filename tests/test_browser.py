"""The pages in real headless Chromium, against a real server: what a person does."""

from __future__ import annotations

import re
import time

import pytest
from conftest import screenshot
from support.browser import VIEWPORT, changed_transform, shown_files, wheel_zoom, zoom_scale
from support.servers import demo_with_sessions, login_headers

from linesman import ProfilingSession
from linesman.demo.profiles import many_functions_session

pytestmark = pytest.mark.server

ROUTES = (
    "/",
    "/template",
    "/json",
    "/slow",
    "/query",
    "/stream",
    "/slow?token=abc",
    "/<b>bold</b>",
)


def sampled_demo_session() -> ProfilingSession:
    """The demo's /slow route under the sampling engine, for real, in this process."""
    from linesman.demo.app import make_app
    from linesman.model.rows import stacks_from_samples
    from linesman.profiling.sampling import SampledProfile

    app = make_app({})
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/slow",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
    }
    profile = SampledProfile(0.0002)
    while profile.samples < 30:
        profile.call(lambda: b"".join(app(environ, lambda *args: None)))
    labels, stacks = stacks_from_samples(profile.stacks)
    stored_as = {"REQUEST_METHOD": "GET", "PATH_INFO": "/sampled"}
    return ProfilingSession(
        environ=stored_as,
        status=200,
        stacks=stacks,
        labels=labels,
        interval=profile.interval,
        cpu_time=profile.cpu_time,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo served by waitress under cProfile (the pages' figures below are
    cProfile's), with a session per route, one very large one and a sampled one."""
    store = tmp_path_factory.mktemp("browser") / "sessions.db"
    with demo_with_sessions(store, ROUTES, profiler="cprofile") as (port, backend):
        big = many_functions_session()
        backend.add(big)
        sampled = sampled_demo_session()
        backend.add(sampled)
        base = f"http://127.0.0.1:{port}/__profiler__"
        token = login_headers(store)["X-Linesman-Token"]
        yield {
            "base": base,
            "backend": backend,
            "big": big.uuid,
            "sampled": sampled.uuid,
            "login": f"{base}/?token={token}",
        }


@pytest.fixture
def page(page, site):
    """A tab logged in to the UI, as a user is after opening the printed link."""
    page.goto(site["login"])
    assert "token=" not in page.url  # the token leaves the address bar at once
    return page


def test_the_list_shows_and_filters_sessions(site, page):
    page.goto(site["base"] + "/")
    rows = page.locator("table.sessions tbody tr")
    assert rows.count() == len(ROUTES) + 2  # and the large and the sampled session
    assert page.locator("td.path a", has_text="/<b>bold</b>").count() == 1, "escaped as text"
    assert page.locator("td.path b").count() == 0
    screenshot(page, "list")
    page.fill('input[name="path"]', "slow")
    page.click('#filters button[type="submit"]')
    page.wait_for_url("**path=slow**")
    paths = page.locator("td.path a").all_inner_texts()
    assert sorted(paths) == ["/slow", "/slow?token=***"]
    page.click("th >> text=Duration")
    page.wait_for_url("**sort=duration**")
    assert "path=slow" in page.url
    screenshot(page, "list-filtered")


def test_a_session_page_answers_where_the_time_went(site, page):
    page.goto(site["base"] + "/?path=slow")
    page.click("td.path a >> text=/slow?token=***")
    page.wait_for_selector("#tree .node")
    # The hottest path is open at once, down to the slow function.
    assert page.locator("#tree .row .name", has_text="slow_lookup").count() >= 1
    page.wait_for_selector("#graph svg", timeout=30000)
    assert page.locator("#graph svg g.node").count() >= 2
    assert page.locator("#flame .frame").count() >= 3
    assert page.locator("#stats tbody tr").count() >= 5
    screenshot(page, "session")
    # Own time per package, grouped by where files live (the demo names none).
    legend = page.locator("#packages-section table.legend tr td:first-child").all_inner_texts()
    assert legend and legend[0].strip() != "other", legend

    # Files are said short everywhere (from site-packages, the standard library or
    # the app's folder); the full path is in the tooltip.
    shown = shown_files(page)
    assert shown and not [text for text in shown if text.startswith("/") or "site-packages" in text]
    # linesman/demo/app.py from an installed wheel; demo/app.py from a checkout.
    assert any(re.match(r"(linesman/)?demo/app\.py:\d+", text) for text in shown), shown[:10]
    titles = page.locator("#stats tbody td.fn").evaluate_all("cells => cells.map(c => c.title)")
    assert any(title.startswith("/") and "demo/app.py" in title for title in titles)

    # The call graph zooms and pans: fitted to its box, then the wheel zooms in.
    assert page.locator("#graph .zoom-controls button").count() == 3
    fitted, zoomed = wheel_zoom(page)
    assert zoom_scale(zoomed) > zoom_scale(fitted), (fitted, zoomed)
    page.click("#graph .zoom-controls button[aria-label^='Fit']")
    assert zoom_scale(changed_transform(page, zoomed)) < zoom_scale(zoomed)
    viewport = page.locator(VIEWPORT)
    graph_box, drawn = page.locator("#graph svg").bounding_box(), viewport.bounding_box()
    assert drawn["width"] <= graph_box["width"] + 1 and drawn["height"] <= graph_box["height"] + 1
    screenshot(page, "session-graph-zoomed")

    # Clicking a graph node marks its function in the tree and the table.
    node = page.locator("#graph svg g.node", has_text="checksum").first
    node.click()
    assert page.locator("#graph svg g.node.picked").count() == 1
    assert page.locator("#tree .row.picked .name").all_inner_texts() == ["checksum"]
    assert "checksum" in page.locator("#stats tbody tr.picked td.fn").inner_text()
    page.click("#graph-picked button >> text=show in the call tree")
    assert page.evaluate("document.activeElement.classList.contains('picked')")
    # And by keyboard: Tab to another node, Enter.
    other = page.locator("#graph svg g.node", has_text="slow_lookup").first
    other.focus()
    page.keyboard.press("Enter")
    assert page.locator("#tree .row.picked .name").all_inner_texts() == ["slow_lookup"]
    assert page.locator("#stats tbody tr.picked").count() == 1
    assert any(title.startswith("/") and "linesman/demo/app.py" in title for title in titles)

    # Expand a collapsed node: its children appear. (Which nodes start closed
    # depends on the session's timings; where every one is open, close one first.)
    closed = page.locator('#tree .node[aria-expanded="false"] > .row')
    if closed.count() == 0:
        page.locator('#tree .node[aria-expanded="true"] > .row').last.click()
        assert closed.count() >= 1, "a node did not close"
    shown = page.locator("#tree .node:visible")  # a closed node's rows stay, hidden
    before = shown.count()
    closed.first.click()
    assert shown.count() > before

    # Sort the statistics by own time, then search them.
    page.click('#stats th[data-sort="own"]')
    own = [
        float(text) for text in page.locator("#stats tbody tr td:nth-child(2)").all_inner_texts()
    ]
    assert own == sorted(own, reverse=True)
    page.fill("#stats-search", "checksum")
    assert page.locator("#stats tbody tr").count() == 1

    # A lower cutoff shows more of the graph.
    nodes_at_5 = page.locator("#graph svg g.node").count()
    page.fill("#cutoff", "0")
    page.click('#controls button[type="submit"]')
    page.wait_for_url("**cutoff=0**")
    page.wait_for_selector("#graph svg", timeout=30000)
    assert page.locator("#graph svg g.node").count() > nodes_at_5
    screenshot(page, "session-cutoff-0")

    # Zoom the flame graph into a frame, and back out.
    page.locator("#flame .frame", has_text="slow_lookup").first.click()
    assert page.locator("#flame .frame").first.inner_text().startswith("slow_lookup")
    page.locator("#flame .frame").first.click()
    assert page.locator("#flame .frame").first.inner_text() == "all"


def test_a_sampled_session_reads_as_one(site, page):
    page.goto(f"{site['base']}/profiles/{site['sampled']}")
    page.wait_for_selector("#tree .node")
    summary = page.inner_text("dl.summary")
    assert "sampling every 0.2 ms" in summary and "no call counts" in summary
    assert page.locator("#stats th", has_text="samples").count() == 1
    assert page.locator("#stats th", has_text="percall").count() == 0
    assert "from the sampled call stacks" in page.inner_text("#tree-section")
    assert page.locator("#tree .row .name", has_text="slow_lookup").count() >= 1
    # Search marks the matching bars and says how much of the request they cover.
    page.fill("#flame-search", "slow_lookup")
    assert page.locator("#flame .frame.match").count() >= 1
    assert "Matched:" in page.inner_text("#flame-matched")
    screenshot(page, "session-sampled")
    # Zoom in, then back out through the breadcrumb.
    page.locator("#flame .frame", has_text="slow_lookup").first.click()
    assert page.locator("#flame .frame").first.inner_text().startswith("slow_lookup")
    assert page.locator("#flame-crumbs .current").inner_text() == "slow_lookup"
    page.locator("#flame-crumbs button").first.click()
    assert page.locator("#flame .frame").first.inner_text() == "all"


def test_a_bad_cutoff_is_a_page_not_a_traceback(site, page):
    uuid = site["backend"].list_summaries(0, 1)[0]["uuid"]
    response = page.goto(f"{site['base']}/profiles/{uuid}?cutoff=nan")
    assert response.status == 400
    assert "percentage from 0 to 100" in page.inner_text("main")
    page.problems.clear()  # the 400 itself is logged by the browser, by design


def test_a_five_thousand_function_session_opens_lazily(site, page):
    started = time.monotonic()
    page.goto(f"{site['base']}/profiles/{site['big']}")
    page.wait_for_selector("#tree .node")
    page.wait_for_selector("#graph svg", timeout=60000)
    assert time.monotonic() - started < 30
    assert page.locator("#stats tbody tr").count() == 100
    assert "Show all 5001 functions" in page.inner_text("#stats-more")
    # The tree holds only what was opened, not 5,000 rows.
    assert page.locator("#tree .node").count() < 400
    screenshot(page, "session-large")


def test_delete_asks_first(site, page):
    backend = site["backend"]
    stored = backend.count()
    page.goto(site["base"] + "/?path=json")
    assert page.locator("table.sessions tbody tr").count() == 1
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("table.sessions tbody tr button", has_text="Delete").click()
    assert backend.count() == stored, "dismissed, yet deleted"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.sessions tbody tr button", has_text="Delete").click()
    page.wait_for_selector("text=1 session deleted.")
    assert backend.count() == stored - 1
    assert page.locator("table.sessions tbody tr").count() == 0


def test_select_and_delete_and_the_switch(site, page):
    backend = site["backend"]
    stored = backend.count()
    page.goto(site["base"] + "/?path=query")
    button = page.locator("button", has_text="Delete selected")
    assert button.is_disabled()
    page.check("#select-all")
    assert button.is_enabled()
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    page.wait_for_selector("text=1 session deleted.")
    assert backend.count() == stored - 1
    page.click("button >> text=Turn off")
    page.wait_for_selector("text=Profiling is off")
    assert backend.get_enabled() is False
    page.click("button >> text=Turn on")
    page.wait_for_selector("text=Profiling is on")
    assert backend.get_enabled() is True


ATTACK_PAGE = """<!doctype html><title>another dev server</title>
<form id="f" method="post" action="{target}/state">
<input name="enabled" value="off"><input name="csrf_token" value="{token}"></form>
<script>
document.cookie = "linesman_csrf={token}; path=/__profiler__/state";
document.getElementById("f").submit();
</script>"""


def test_a_cookie_planted_from_another_port_cannot_switch_profiling_off(site, page):
    """Cookies ignore ports: a page on another port of 127.0.0.1 can plant a CSRF
    cookie for the profiler and post a form with it, and Chromium sends both. (It
    plants under a longer path: the UI's own cookie is HttpOnly, which a page's
    script cannot overwrite.)"""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    planted = "x" * 43
    body = ATTACK_PAGE.format(target=site["base"], token=planted).encode()

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = site["backend"]
    try:
        with page.expect_response(lambda answer: answer.url.endswith("/state")) as posted:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert posted.value.status == 403  # the login cookie went along; the token failed
        sent = posted.value.request.header_value("cookie") or ""
        assert f"linesman_csrf={planted}" in sent, "the cookie was not even planted"
        assert "linesman_login=" in sent, "the browser was not logged in: it proved nothing"
        assert backend.get_enabled() is not False
        # The refused post is the one error the page may show.
        page.problems[:] = [text for text in page.problems if "403" not in text]
    finally:
        server.shutdown()
        server.server_close()
