"""The pages people look at all day, in real headless Chromium, on a real Django
project served by waitress and on the demo: at 1400 and 390 pixels wide, with
screenshots in test-artifacts/, never wider than the window, and checked by
axe-core for serious and critical accessibility violations: the lists at both
widths (the narrow list is a layout of its own, its table turned into rows of
boxes), the other pages at the first (what axe checks there, names, roles,
contrast, is the same markup and styles at both widths, and axe takes a quarter
of these tests' time on a large page)."""

from __future__ import annotations

import cProfile
import re
from pathlib import Path

import pytest
from conftest import ARTIFACTS
from support.accessibility import axe_violations
from support.browser import shown_files, wheel_zoom, zoom_scale
from support.servers import demo_with_sessions, free_port, login_headers, running

pytestmark = pytest.mark.server

WIDTHS = (1400, 390)
DJANGO_SERVER = Path(__file__).resolve().parent / "support" / "django_server.py"


@pytest.fixture(scope="module")
def django_site(tmp_path_factory):
    store = tmp_path_factory.mktemp("django") / "sessions.db"
    port = free_port()
    with running([str(DJANGO_SERVER), str(store), str(port)], port):
        base = f"http://127.0.0.1:{port}/__profiler__"
        token = login_headers(store)["X-Linesman-Token"]
        yield {"base": base, "login": f"{base}/?token={token}", "store": store}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    store = tmp_path_factory.mktemp("demo-pages") / "sessions.db"
    routes = ("/slow", "/template", "/slow", "/json", "/no-such-page")
    with demo_with_sessions(store, routes) as (port, backend):
        base = f"http://127.0.0.1:{port}/__profiler__"
        token = login_headers(store)["X-Linesman-Token"]
        yield {"base": base, "login": f"{base}/?token={token}", "backend": backend}


class Tab:
    """A logged-in tab at one width, whose console errors fail the test."""

    def __init__(self, browser, site: dict, width: int) -> None:
        # The UI's CSP rightly refuses the script the accessibility check injects.
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=True
        )
        self.page = self.context.new_page()
        self.width = width
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda message: self.problems.append(message.text) if message.type == "error" else None,
        )
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.goto(site["login"])

    def close(self) -> None:
        self.context.close()
        assert self.problems == [], f"the page logged errors: {self.problems}"


@pytest.fixture
def tabs(browser):
    opened: list[Tab] = []

    def open_tab(site: dict, width: int) -> Tab:
        tab = Tab(browser, site, width)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()


def settle(page) -> None:
    """Wait until the page's drawings are done (graph, charts, tree)."""
    page.wait_for_load_state("networkidle")
    if page.locator("#graph").count():
        page.wait_for_selector("#graph svg", timeout=30000)
    if page.locator(".trend-chart").count():
        page.wait_for_selector(".trend-chart canvas")


def check_page(tab: Tab, url: str, name: str) -> None:
    """Open a page; screenshot it; it never scrolls sideways and passes axe (a
    list at every width, another page at the first)."""
    page = tab.page
    page.goto(url)
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{tab.width}.png"), full_page=True)
    wide, window = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert wide <= window, f"{name} at {tab.width} px is {wide} px wide: a sideways scroll bar"
    if tab.width == WIDTHS[0] or name.endswith("-list"):
        assert axe_violations(page) == [], f"{name} at {tab.width} px"


def uuid_of(page, path: str) -> str:
    """The id of the newest listed session whose path is ``path``."""
    link = page.locator("td.path a", has_text=re.compile(f"^{re.escape(path)}$")).first
    return link.get_attribute("href").rsplit("/", 1)[1]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_django_admin_pages_read_well(django_site, tabs, width):
    tab = tabs(django_site, width)
    page = tab.page
    base = django_site["base"]
    check_page(tab, base + "/", "django-list")
    listed = page.locator("td.path a").all_inner_texts()
    assert "/admin/auth/user/" in listed and "/admin/nothing-here/" in listed, listed
    admin, users = uuid_of(page, "/admin/"), uuid_of(page, "/admin/auth/user/")

    check_page(tab, f"{base}/profiles/{admin}", "django-session")
    files = shown_files(page)
    assert files and not [text for text in files if text.startswith("/")], files[:5]
    assert not [text for text in files if "site-packages" in text or "dist-packages" in text]
    assert any(text.startswith("django/") for text in files), files[:10]
    legend = page.locator("#packages-section table.legend tr td:first-child").all_inner_texts()
    assert legend and legend[0].strip() not in ("other", "built-ins"), legend
    assert page.locator("#graph svg g.node").count() >= 20  # a real app's graph
    before, zoomed = wheel_zoom(page)
    assert zoom_scale(zoomed) > zoom_scale(before), "the Django call graph cannot be zoomed"

    check_page(tab, base + "/endpoints", "django-endpoints")
    assert page.locator(".trend-chart canvas").count() >= 3, "the endpoints page has no chart"
    row = page.locator("tr", has=page.locator("th", has_text="GET /admin/nothing-here/"))
    assert row.locator("td.num").nth(4).inner_text() == "1", "a 404 is counted as 4xx"

    check_page(tab, f"{base}/endpoints/merged?endpoint=GET+/admin/", "django-merged")
    check_page(tab, f"{base}/compare?a={admin}&b={users}", "django-compare")
    assert page.locator("#flame .frame.compared").count() >= 10


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_pages_read_well(demo_site, tabs, width):
    tab = tabs(demo_site, width)
    page = tab.page
    base = demo_site["base"]
    check_page(tab, base + "/", "demo-list")
    slow, template = uuid_of(page, "/slow"), uuid_of(page, "/template")
    # The list: times to the millisecond with how long ago, the capture form folded.
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3}", page.locator("td.when time").first.inner_text())
    assert re.fullmatch(
        r"(just now|\d+ (s|min) ago)", page.locator("td.when .ago").first.inner_text()
    )
    assert not page.is_visible("#capture-form")
    row_delete = page.locator("td.act button").first
    assert row_delete.evaluate("b => getComputedStyle(b).color") == "rgb(91, 102, 112)"  # muted
    check_page(tab, f"{base}/profiles/{slow}", "demo-session")
    check_page(tab, base + "/endpoints", "demo-endpoints")
    check_page(tab, f"{base}/endpoints/merged?endpoint=GET+/slow", "demo-merged")
    check_page(tab, f"{base}/compare?a={template}&b={slow}", "demo-compare")


def test_every_list_action_is_reachable_by_keyboard_with_visible_focus(demo_site, tabs):
    page = tabs(demo_site, 1400).page
    page.goto(demo_site["base"] + "/")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; const style = getComputedStyle(e);
                return [e.tagName + ':' + (e.innerText || e.getAttribute('aria-label') || ''),
                        style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0]; }"""
        )
        if focused[0].startswith("BODY:"):
            break  # past the last control
        reached.append(focused[0])
        assert focused[1], f"no visible focus on {focused[0]}"
    text = " ".join(reached)
    for action in ("Turn off", "Start a capture window", "Filter", "Delete", "When"):
        assert action in text, (action, reached)
    # The folded form opens from the keyboard too.
    page.focus("summary")
    page.keyboard.press("Enter")
    assert page.is_visible("#capture-form")


def test_view_of_a_prof_file_shows_no_switch_and_no_none(tmp_path, tabs):
    target = tmp_path / "run.prof"
    cProfile.run("sorted(range(1000))", str(target))
    port = free_port()
    command = ["-m", "linesman", "view", str(target), "--port", str(port)]
    with running(command, port) as process:
        link = process.stdout.readline().decode() + process.stdout.readline().decode()
        login = re.search(r"http://\S+\?token=[\w-]+", link).group(0)
        base = login.split("/?token=")[0]
        for width in WIDTHS:
            tab = tabs({"login": login}, width)
            check_page(tab, base + "/", "view-prof-list")
            words = tab.page.inner_text("body")
            assert "Turn off" not in words and "Turn on" not in words
            assert not re.search(r"\bNone\b", words)
            tab.page.click("td.path a")
            tab.page.wait_for_selector("#tree .node")
            check_page(tab, tab.page.url, "view-prof-session")
            words = tab.page.inner_text("body")
            assert not re.search(r"\bNone\b", words) and "median" not in words


def test_the_call_tree_and_flame_graph_work_by_keyboard(demo_site, tabs):
    page = tabs(demo_site, 1400).page
    page.goto(demo_site["base"] + "/")
    slow = uuid_of(page, "/slow")
    page.goto(f"{demo_site['base']}/profiles/{slow}")
    page.wait_for_selector("#tree .node")
    # The tree is one tab stop; arrows move through its rows and open and close them.
    first = page.locator("#tree > .node").first
    first.focus()
    assert first.get_attribute("aria-expanded") == "true"  # the hottest path is open
    page.keyboard.press("ArrowLeft")
    assert first.get_attribute("aria-expanded") == "false"
    page.keyboard.press("ArrowRight")
    assert first.get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowRight")  # into its first child
    child = page.evaluate("document.activeElement.querySelector('.name').textContent")
    page.keyboard.press("ArrowLeft")  # a child that is open closes; one that is not goes up
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.querySelector('.name').textContent") in (
        child,
        first.locator(".name").first.inner_text(),
    )
    # The flame graph: the first bar is a tab stop, arrows go down a call path, Enter zooms.
    top = page.locator("#flame .frame").first
    top.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused and page.evaluate("document.activeElement.classList.contains('frame')")
    page.keyboard.press("Enter")
    assert page.locator("#flame .frame").first.inner_text() == focused
    assert page.evaluate("document.activeElement.classList.contains('frame')")
