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
