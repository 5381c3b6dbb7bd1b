"""A small WSGI app with a few kinds of work, for trying linesman out.

Each route spends its time somewhere different, so the profiles differ: a
template page, JSON, a deliberately slow function, a SQLite query, and a body
streamed in chunks.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import sqlite3
import time
from collections.abc import Callable, Iterable

from mako.template import Template

__all__ = ["make_app", "DemoApp"]

_TABLE_SOURCE = (
    "<table>\n% for row in rows:\n<tr><td>${row['id']}</td><td>${row['name']}</td>"
    "<td>${'%.2f' % row['score']}</td></tr>\n% endfor\n</table>"
)

_INDEX = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>linesman demo</title></head>
<body><h1>linesman demo app</h1>
<p>Each link below is profiled. Then open <a href="{profiler}/">the profiler</a>.</p>
<ul>
<li><a href="{base}/template">/template</a>: a Mako page of 200 rows</li>
<li><a href="{base}/json">/json</a>: a JSON document</li>
<li><a href="{base}/slow">/slow</a>: one slow function among fast ones</li>
<li><a href="{base}/query">/query</a>: a SQLite query</li>
<li><a href="{base}/stream">/stream</a>: a body streamed in chunks</li>
</ul></body></html>"""


def make_rows(count: int) -> list[dict]:
    return [
        {"id": i, "name": f"item <{i}>", "score": (i * 7919) % 1000 / 10.0} for i in range(count)
    ]


@functools.cache
def table_template() -> Template:
    return Template(_TABLE_SOURCE, default_filters=["h"])


def render_table() -> bytes:
    return table_template().render_unicode(rows=make_rows(200)).encode("utf-8")


def build_document() -> bytes:
    return json.dumps({"items": make_rows(300), "generated": time.time()}).encode("utf-8")


def checksum(data: bytes, rounds: int) -> str:
    digest = data
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def slow_lookup() -> str:
    """The deliberate hot spot the demo's /slow route is about."""
    time.sleep(0.05)
    return checksum(b"linesman", 20000)


def quick_lookup() -> str:
    return checksum(b"fast", 100)


def run_query() -> list[tuple]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        connection.executemany("INSERT INTO items VALUES (:id, :name, :score)", make_rows(500))
        return connection.execute(
            "SELECT name, score FROM items WHERE score > 50 ORDER BY score DESC LIMIT 20"
        ).fetchall()
    finally:
        connection.close()


def stream_chunks() -> Iterable[bytes]:
    for number in range(10):
        yield f"<p>chunk {number}: {checksum(str(number).encode(), 500)}</p>\n".encode()


class DemoApp:
    """Routes by PATH_INFO; every answer is HTML or JSON."""

    def __init__(self, profiler_path: str = "/__profiler__") -> None:
        self.profiler_path = profiler_path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        base = html.escape(environ.get("SCRIPT_NAME", ""))
        if path == "/":
            body = _INDEX.format(base=base, profiler=base + self.profiler_path).encode()
            return self._answer(start_response, body)
        if path == "/template":
            return self._answer(start_response, render_table())
        if path == "/json":
            return self._answer(start_response, build_document(), "application/json")
        if path == "/slow":
            result = f"{quick_lookup()} {slow_lookup()} {quick_lookup()}"
            return self._answer(start_response, f"<p>{result}</p>".encode())
        if path == "/query":
            rows = "".join(f"<li>{html.escape(name)}: {score}</li>" for name, score in run_query())
            return self._answer(start_response, f"<ul>{rows}</ul>".encode())
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return stream_chunks()
        return self._answer(start_response, b"<p>Not found</p>", status="404 Not Found")

    @staticmethod
    def _answer(
        start_response: Callable,
        body: bytes,
        content_type: str = "text/html",
        status: str = "200 OK",
    ) -> list[bytes]:
        if content_type == "text/html":
            content_type = "text/html; charset=utf-8"
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


def make_app(global_conf: dict, **options: str) -> DemoApp:
    """PasteDeploy ``paste.app_factory`` for ``egg:linesman#demo``."""
    return DemoApp(**options)
