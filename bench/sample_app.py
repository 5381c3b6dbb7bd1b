"""The sample app the benchmarks profile: five routes of 2 to 6 ms of ordinary work."""

from __future__ import annotations

import json
import sqlite3

from mako.template import Template

ROUTES = ("/template", "/json", "/strings", "/query", "/stream")

_PAGE = Template(
    "<html><body><table>\n% for row in rows:\n<tr><td>${row['id']}</td>"
    "<td>${row['name']}</td><td>${'%.2f' % row['score']}</td></tr>\n% endfor\n"
    "</table></body></html>",
    default_filters=["h"],
)


def rows(count: int) -> list[dict]:
    return [
        {"id": n, "name": f"item <{n}>", "score": (n * 7919) % 1000 / 10.0} for n in range(count)
    ]


def template_page() -> bytes:
    return _PAGE.render_unicode(rows=rows(200) * 5).encode()


def json_document() -> bytes:
    return json.dumps({"items": rows(4000)}).encode()


def string_work() -> bytes:
    words = [f"word{n % 97}" for n in range(10000)]
    counts: dict[str, int] = {}
    for word in words:
        key = word.upper().replace("WORD", "w")
        counts[key] = counts.get(key, 0) + 1
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items())).encode()


def query() -> bytes:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
        connection.executemany("INSERT INTO items VALUES (:id, :name, :score)", rows(800))
        found = connection.execute(
            "SELECT name, score FROM items WHERE score > 50 ORDER BY score DESC LIMIT 50"
        ).fetchall()
    finally:
        connection.close()
    return "\n".join(f"{name}: {score}" for name, score in found).encode()


def stream():
    for number in range(40):
        yield (f"<p>{number}</p>" + "".join(str(n) for n in range(900))).encode()


def sample_app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/html")])
        return stream()
    body = {
        "/template": template_page,
        "/json": json_document,
        "/strings": string_work,
        "/query": query,
    }.get(path, lambda: b"not found")()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def hello_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
