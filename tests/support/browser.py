"""What the browser tests read from the session page in Chromium: the file names
it shows, and the call graph's zoom (the transform svg-pan-zoom applies)."""

from __future__ import annotations

import re

VIEWPORT = "#graph svg .svg-pan-zoom_viewport"
_TRANSFORM = f"document.querySelector('{VIEWPORT}').getAttribute('transform')"


def shown_files(page) -> list[str]:
    """Every file name the tree rows, table cells and graph labels show."""
    return (
        page.locator("#tree .row .where").all_inner_texts()
        + page.locator("#stats tbody td.fn").all_inner_texts()
        + page.locator("#graph svg g.node text").evaluate_all("ts => ts.map(t => t.textContent)")
    )


def zoom_scale(transform: str) -> float:
    """The scale of an svg-pan-zoom ``matrix(...)`` transform."""
    return float(re.search(r"matrix\(([-\d.e]+)", transform).group(1))


def settled_transform(page) -> str:
    """The graph's transform once the library's fit is applied: it lands over the
    next animation frames, so wait until two reads a frame apart agree."""
    page.locator(VIEWPORT).wait_for(state="attached", timeout=30000)
    page.wait_for_function(
        f"""() => new Promise((done) => {{
            const read = () => {_TRANSFORM};
            const first = read();
            requestAnimationFrame(() => requestAnimationFrame(() => done(first === read())));
        }})"""
    )
    return page.locator(VIEWPORT).get_attribute("transform")


def changed_transform(page, before: str) -> str:
    """The graph's transform once it is no longer ``before`` (a zoom is applied on
    the next animation frame)."""
    page.wait_for_function(f"before => {_TRANSFORM} !== before", arg=before)
    return page.locator(VIEWPORT).get_attribute("transform")


def wheel_zoom(page) -> tuple[str, str]:
    """Turn the wheel over the middle of the call graph: its transform before and after."""
    before = settled_transform(page)
    page.locator("#graph svg").scroll_into_view_if_needed()
    box = page.locator("#graph svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    return before, changed_transform(page, before)
