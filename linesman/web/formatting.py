"""How figures read on the pages: times, counts, durations, JSON inside a
page, a download's file name."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

COUNT_CAP = 2_000  # the list counts this far exactly; past it, "2,000+"


def script_json(value: Any) -> str:
    """JSON safe to place inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def fmt_time(timestamp: float) -> str:
    """Local time to the millisecond: requests a few ms apart still read apart."""
    moment = datetime.fromtimestamp(timestamp, UTC).astimezone()
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} {moment:%Z}"


def fmt_ago(timestamp: float, now: float) -> str:
    """How long ago, in the largest unit that fits: "3 s ago", "5 min ago"."""
    seconds = now - timestamp
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def breakable_path(path: str) -> str:
    """The path as HTML that wraps after a slash, ``?``, ``&`` or ``=`` rather than
    mid-word on a narrow screen."""
    text = html.escape(path, quote=True)
    for mark in ("/", "?", "&amp;", "="):
        text = text.replace(mark, mark + "<wbr>")
    return text


def fmt_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def fmt_count(number: int, cap: int) -> str:
    """A count from ``count(limit=cap + 1)``: exact, or "10,000+" past the cap."""
    return f"{cap:,}+" if number > cap else f"{number:,}"


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    milliseconds = seconds * 1000
    return f"{milliseconds:.0f} ms" if milliseconds >= 100 else f"{milliseconds:.1f} ms"


def fmt_bytes(size: float) -> str:
    """A response size: ``402 bytes``, ``1 byte``, ``12.5 kB``, ``3.1 MB``."""
    if size < 1000:
        number = f"{size:g}"
        return f"{number} byte" if number == "1" else f"{number} bytes"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def fmt_calls(calls: float | None) -> str:
    """A call count, per request where sides are merged: ``1``, ``0.5``, ``1,187.5``."""
    if calls is None:
        return "—"
    text = f"{calls:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def attachment(name: str) -> str:
    """A Content-Disposition for any file name (RFC 6266): an ASCII fallback, and the
    real name percent-encoded in ``filename*``; headers cannot carry ``/日本`` raw."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
