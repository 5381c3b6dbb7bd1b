"""Reading the UI's HTML in tests that do not drive a browser."""

from __future__ import annotations

import re


def listed_paths(html: str) -> list[str]:
    """The request paths the session list shows, in order (it marks places a path
    may wrap with ``<wbr>``)."""
    paths = re.findall(r'<td class="path"><a href="[^"]+">(.*?)</a>', html)
    return [path.replace("<wbr>", "") for path in paths]


def visible_text(html: str) -> str:
    """The page's text without its tags, spaces collapsed, as a reader sees it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def endpoint_rows(html: str) -> list[tuple[str, str]]:
    """``(endpoint, sessions)`` of each row of the endpoints page, in order."""
    return re.findall(
        r'<th scope="row" class="path">([^<]+)</th>.*?<td class="num">(\d+)</td>', html, re.S
    )


def endpoint_errors(html: str) -> dict[str, tuple[str, str]]:
    """Each endpoint's 4xx and 5xx cells (blank where none)."""
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    found = {}
    for row in rows:
        name = re.search(r'<th scope="row" class="path">([^<]+)</th>', row)
        cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)
        if name and len(cells) == 6:
            found[name.group(1)] = (cells[4], cells[5])
    return found


def summary_items(html: str) -> dict[str, str]:
    """The page's summary list (``<dl class="summary">``) as term: visible text."""
    block = re.search(r'<dl class="summary">(.*?)</dl>', html, re.S)
    assert block is not None, "the page has no summary"
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", block.group(1), re.S)
    return {visible_text(term).strip(): visible_text(value).strip() for term, value in pairs}
