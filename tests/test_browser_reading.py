"""The pages read on a real app's sessions, in real headless Chromium at 1400 px
(issue 23, items 9-12): the call graph's labels stay readable at "Fit", the flame
graph is coloured by package and names each function first, the endpoints' charts
have a scale and values on hover, and the list's placeholders and error rows read
as what they are. Screenshots go to test-artifacts/reading-*.png."""

from __future__ import annotations

import cProfile
import difflib
import email
import json
import re
import threading

import pytest
from conftest import ARTIFACTS, screenshot
from support.accessibility import axe_violations
from support.browser import settled_transform
from support.servers import demo_with_sessions, login_headers

from linesman import ProfilingSession

pytestmark = pytest.mark.server

WIDTH = 1400
READABLE_PX = 11  # the smallest label size a person reads without zooming

# From 3.12 on cProfile is process-wide: sessions built here take turns.
_PROFILING = threading.Lock()


def app_work() -> int:
    """A request's worth of real third-party and standard-library work: a Mako
    template compiled and rendered, WebOb parsing a request, a JSON round trip, an
    e-mail parsed, a diff taken and the page encoded. Its call graph has well over 100 functions."""
    from mako.template import Template
    from webob import Request

    rows = [{"name": f"item {n}", "price": n * 1.5, "tags": ["a", "b"]} for n in range(200)]
    page = Template(
        "<table>\n% for row in rows:\n<tr><td>${row['name'] | h}</td>"
        "<td>${'%.2f' % row['price']}</td><td>${', '.join(row['tags'])}</td></tr>\n"
        "% endfor\n</table>"
    ).render(rows=rows)
    request = Request.blank("/orders?page=2&sort=price", headers={"Accept": "text/html"})
    seen = dict(request.GET) | {"accept": str(request.accept)}
    document = json.loads(json.dumps({"rows": rows, "seen": seen}))
    message = email.message_from_string(
        "From: a@example.com\nTo: b@example.com\nSubject: order\n\n" + page[:2000]
    )
    diff = list(difflib.unified_diff(page.splitlines()[:150], page.splitlines()[5:155]))
    encoded = sum(len((page * 40).encode("utf-16")) for _ in range(10))  # a method of str's
    return len(document["rows"]) + len(message.get_payload()) + len(diff) + encoded


def profiled_session(work, path: str, **details) -> ProfilingSession:
    """``work`` run under cProfile, stored as a request to ``path``."""
    profile = cProfile.Profile()
    with _PROFILING:
        profile.enable()
        work()
        profile.disable()
    return ProfilingSession(
        profile.getstats(),
        {"REQUEST_METHOD": details.pop("method", "GET"), "PATH_INFO": path},
        duration=details.pop("duration", 0.05),
        cpu_time=0.04,
        response_size=1000,
        **details,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo under cProfile, a session per route (/slow three times, /json once),
    a real app's large session, and error sessions: a 404, a 503, one that raised."""
    store = tmp_path_factory.mktemp("reading") / "sessions.db"
    routes = ("/slow", "/json", "/slow", "/template", "/slow", "/no-such-page")
    with demo_with_sessions(store, routes, profiler="cprofile") as (port, backend):
        app = profiled_session(app_work, "/orders", status=200)
        backend.add(app)
        for status, error, path in (
            (404, None, "/missing"),
            (503, None, "/busy"),
            (None, "ValueError: bad", "/boom"),
        ):
            backend.add(
                profiled_session(lambda: sum(range(1000)), path, status=status, error=error)
            )
        base = f"http://127.0.0.1:{port}/__profiler__"
        token = login_headers(store)["X-Linesman-Token"]
        yield {"base": base, "login": f"{base}/?token={token}", "app": app, "backend": backend}


@pytest.fixture
def tab(browser, site):
    """A logged-in tab 1400 px wide whose console errors fail the test."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, bypass_csp=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(site["login"])
    yield page
    context.close()
    assert problems == [], f"the page logged errors: {problems}"


def graph_label_sizes(page) -> list[float]:
    """Every call-graph label's rendered font size, in CSS pixels."""
    return page.locator("#graph svg text").evaluate_all(
        "texts => texts.map(t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a)"
    )


def open_graph(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#graph svg g.node", timeout=30000)
    settled_transform(page)


def test_fit_keeps_a_large_call_graphs_labels_readable(site, tab):
    page = tab
    open_graph(page, f"{site['base']}/profiles/{site['app'].uuid}?cutoff=0")
    assert page.locator("#graph svg g.node").count() >= 100
    sizes = graph_label_sizes(page)
    assert min(sizes) >= READABLE_PX, f"labels {min(sizes):.1f} px at Fit"
    # Fitted whole, they would have been a few pixels: the rest is panned to, and
    # the page says so. The top node (the request's entry) is in the box.
    assert page.is_visible("#graph-overflow")
    box = page.locator("#graph svg").bounding_box()
    top = page.locator("#graph svg g.node").filter(
        has=page.locator("text", has_text=re.compile("^app_work$"))
    )
    top = top.bounding_box()
    assert box["x"] <= top["x"] and top["x"] + top["width"] <= box["x"] + box["width"]
    assert box["y"] <= top["y"] and top["y"] + top["height"] <= box["y"] + box["height"]
    screenshot(page, "reading-graph-large")
    page.locator("#graph-section").screenshot(path=str(ARTIFACTS / "reading-graph-large-box.png"))
    # Zoomed out the labels shrink; Fit brings them back.
    for _ in range(3):
        page.click("#graph .zoom-controls button[aria-label='Zoom out']")
    smaller = f"""() => Math.min(...[...document.querySelectorAll('#graph svg text')].map((t) =>
        parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a)) < {READABLE_PX * 0.7}"""
    page.wait_for_function(smaller)
    page.click("#graph .zoom-controls button >> text=Fit")
    page.wait_for_function(
        f"() => Math.min(...[...document.querySelectorAll('#graph svg text')].map((t) =>"
        f" parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a)) >= {READABLE_PX}"
    )
    # A node reached by keyboard is brought into the box.
    far = page.locator("#graph svg g.node").last
    far.focus()
    page.wait_for_function(
        """([node, box]) => {
            const a = node.getBoundingClientRect(), b = box.getBoundingClientRect();
            return a.left >= b.left && a.right <= b.right
                && a.top >= b.top && a.bottom <= b.bottom; }""",
        arg=[far.element_handle(), page.locator("#graph svg").element_handle()],
    )


def test_fit_still_shows_a_small_graph_whole(site, tab):
    page = tab
    page.goto(site["base"] + "/?path=slow")
    page.locator("td.path a").first.click()
    open_graph(page, page.url)
    sizes = graph_label_sizes(page)
    assert READABLE_PX <= min(sizes) and max(sizes) < 20, sizes  # at its own size, not blown up
    box = page.locator("#graph svg").bounding_box()
    drawn = page.locator("#graph svg .svg-pan-zoom_viewport").bounding_box()
    assert drawn["width"] <= box["width"] + 1 and drawn["height"] <= box["height"] + 1
    assert not page.is_visible("#graph-overflow")


def rgb(colour: str) -> str:
    """``#1f6feb`` as a computed style says it: ``rgb(31, 111, 235)``."""
    red, green, blue = (int(colour[at : at + 2], 16) for at in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_the_flame_graph_is_coloured_by_package_and_names_functions_first(site, tab):
    page = tab
    page.goto(f"{site['base']}/profiles/{site['app'].uuid}?cutoff=0")
    page.wait_for_selector("#flame .frame")
    # The package chart's colours, by package.
    legend = page.locator("#packages-section table.legend tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].textContent.trim(),"
        " r.querySelector('rect').getAttribute('fill')])"
    )
    palette = {name: rgb(colour) for name, colour in legend}
    assert {"mako", "webob", "standard library"} <= set(palette), palette
    bars = page.locator("#flame .frame[data-package]").evaluate_all(
        "bars => bars.map(b => [b.dataset.package, getComputedStyle(b).backgroundColor,"
        " b.textContent, b.querySelector('.own').textContent])"
    )
    assert len(bars) >= 50
    for package, fill, _, _ in bars:
        assert fill == palette[package], (package, fill, palette)
    assert len({fill for _, fill, _, _ in bars}) >= 4, "one colour for every bar"
    # The function's own name first, then what it belongs to.
    names = [row[0] for row in json.loads(page.inner_text("#profile-data"))["functions"]]
    shown = page.locator("#flame .frame[data-fn]").evaluate_all(
        "bars => bars.map(b => [Number(b.dataset.fn), b.textContent,"
        " b.querySelector('.own').textContent])"
    )
    told = {names[index]: text for index, text, _ in shown}
    for index, text, own in shown:
        full = names[index]
        assert text.startswith(own) and own in full, (full, text)
        if "." in full or full.startswith("<"):
            assert not text.startswith(full[:12]) or full.startswith(own), (full, text)
    assert told["Template.__init__"] == "__init__ · Template"
    methods = {name: text for name, text in told.items() if name.startswith("<method '")}
    assert methods, sorted(told)
    for name, text in methods.items():
        method, owner = re.fullmatch(r"<method '(.+)' of '(.+)' objects>", name).groups()
        assert text == f"{method} · {owner}", (name, text)
    # Hover: the full name and its figures, for a bar whose label is cut.
    cut = page.locator("#flame .frame[data-package]").evaluate_all(
        "bars => bars.findIndex(b => b.scrollWidth > b.clientWidth + 1 && b.clientWidth > 12)"
    )
    assert cut >= 0, "no bar's label is cut: the test needs a narrower one"
    bar = page.locator("#flame .frame[data-package]").nth(cut)
    bar.hover()
    tip = page.locator("#flame-tip")
    tip.wait_for(state="visible")
    lines = tip.inner_text().splitlines()
    own = bar.locator(".own").inner_text()
    assert own in lines[0] and len(lines[0]) >= len(own), lines
    assert re.search(r"[\d.]+ ms · [\d.]+% of the request · \d+×", tip.inner_text()), lines
    assert f"package: {bar.get_attribute('data-package')}" in lines
    tip_box, window = tip.bounding_box(), page.viewport_size
    assert tip_box["x"] >= 0 and tip_box["x"] + tip_box["width"] <= window["width"]
    screenshot(page, "reading-flame-hover")
    page.mouse.move(0, 0)
    tip.wait_for(state="hidden")
    # By keyboard too: the first bar, focused, says its figures.
    page.locator("#flame .frame").first.focus()
    tip.wait_for(state="visible")
    assert tip.inner_text().startswith("all")
    # The search box's hint fits it; a search dims the rest and keeps the colours.
    search = page.locator("#flame-search")
    room, needed = search.evaluate(
        """input => { const style = getComputedStyle(input);
            const context = document.createElement('canvas').getContext('2d');
            context.font = style.font;
            const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
            return [input.clientWidth - padding, context.measureText(input.placeholder).width]; }"""
    )
    assert needed <= room, (needed, room)
    search.fill("compile")
    assert page.locator("#flame .frame.match").count() >= 3
    dimmed = page.locator("#flame .frame:not(.match)").first.evaluate(
        "b => getComputedStyle(b).opacity"
    )
    assert float(dimmed) < 1
    match = page.locator("#flame .frame.match[data-package]").first
    assert (
        match.evaluate("b => getComputedStyle(b).backgroundColor")
        == palette[match.get_attribute("data-package")]
    )
    search.fill("")
    page.locator("#flame-section").screenshot(path=str(ARTIFACTS / "reading-flame.png"))
    assert axe_violations(page) == []


def chart_row(page, endpoint: str):
    return page.locator(
        "table.endpoints tbody tr",
        has=page.locator("th", has_text=re.compile(f"^{re.escape(endpoint)}$")),
    )


def milliseconds(text: str) -> float:
    return float(re.fullmatch(r"([\d.]+) ms", text.strip()).group(1))


def test_the_endpoint_charts_have_a_scale_and_values_on_hover(site, tab):
    page = tab
    page.goto(site["base"] + "/endpoints")
    page.wait_for_selector(".trend-chart canvas")
    assert page.locator(".trend-scale .trend-max").count() == page.locator(".trend-chart").count()
    for endpoint in ("GET /slow", "GET /json"):
        row = chart_row(page, endpoint)
        top = milliseconds(row.locator(".trend-max").inner_text())
        assert row.locator(".trend-zero").inner_text() == "0"
        slowest = milliseconds(row.locator("td.num").nth(3).inner_text())
        # /slow's three sessions fall in buckets of their own: its scale's top is
        # its slowest; /json's lone session is at the top of its scale.
        assert abs(top - slowest) <= max(0.11, slowest * 0.01), (endpoint, top, slowest)
    # Pointing at a lone session's chart says what it took and when.
    lone = chart_row(page, "GET /json")
    canvas = lone.locator(".u-over").bounding_box()
    page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    tip = page.locator("#trend-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert "1 request" in text and re.search(r"took [\d.]+ ms", text), text
    assert re.search(r"\d\d:\d\d:\d\d(\.\d{3})?–\d\d:\d\d:\d\d(\.\d{3})? UTC", text), text
    took = milliseconds(re.search(r"took ([\d.]+ ms)", text).group(1))
    assert abs(took - milliseconds(lone.locator("td.num").nth(1).inner_text())) <= 0.11
    screenshot(page, "reading-endpoints-hover")
    page.mouse.move(0, 0)
    tip.wait_for(state="hidden")
    # The dot of a lone session is large enough to see.
    assert axe_violations(page) == []


def test_list_placeholders_read_as_examples_and_error_rows_stand_out(site, tab):
    page = tab
    page.goto(site["base"] + "/")
    filters = page.locator("#filters input[placeholder]")
    assert filters.count() == 3
    for number in range(filters.count()):
        field = filters.nth(number)
        hint = field.get_attribute("placeholder")
        assert hint.startswith("e.g. ") or hint == "any", hint
        style = field.evaluate(
            "f => { const hint = getComputedStyle(f, '::placeholder');"
            " return [hint.fontStyle, hint.color, getComputedStyle(f).color]; }"
        )
        assert style[0] == "italic" and style[1] != style[2], (hint, style)
    # Error rows: a mark and words in the status cell, and a stripe, not colour alone.
    expected = {
        "/missing": ("client", "404 client error"),
        "/no-such-page": ("client", "404 client error"),
        "/busy": ("server", "503 server error"),
        "/boom": ("raised", "raised"),
    }
    for path, (kind, words) in expected.items():
        row = page.locator(
            "table.sessions tbody tr",
            has=page.locator("td.path a", has_text=re.compile(f"^{re.escape(path)}$")),
        )
        assert f"error-row {kind}" in row.get_attribute("class")
        assert " ".join(row.locator("td.status").inner_text().split()).endswith(words), row.locator(
            "td.status"
        ).inner_text()
        assert row.locator("td.status .mark").is_visible()
        stripe = row.locator("td").first.evaluate("c => getComputedStyle(c).boxShadow")
        assert "inset" in stripe, stripe
    fine = page.locator(
        "table.sessions tbody tr", has=page.locator("td.path a", has_text="/orders")
    )
    assert "error-row" not in (fine.get_attribute("class") or "")
    assert fine.locator("td.status").inner_text().strip() == "200"
    screenshot(page, "reading-list")
    assert axe_violations(page) == []
