"""One app answering with every kind of WSGI body a real app returns, and a
script serving it twice (bare and behind linesman) with a real server, so the
tests can compare what goes out on the wire byte for byte.

Run as a script: ``python response_kinds.py SERVER STORE BARE_PORT PROFILED_PORT``,
with SERVER ``waitress`` or ``wsgiref``.
"""

from __future__ import annotations

import io
import sys
import threading

BODY = b"the body of the response\n"


class ListBody(list):
    """A list subclass, as some frameworks return."""


class TupleBody(tuple):
    __slots__ = ()


class SizedBody:
    """An iterable that knows its length and has a close(), as a framework's response."""

    def __init__(self, chunks):
        self.chunks = list(chunks)

    def __len__(self):
        return len(self.chunks)

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        pass


def generate(chunks):
    yield from chunks


def _headers(length: int | None = None) -> list[tuple[str, str]]:
    headers = [("Content-Type", "text/plain")]
    if length is not None:
        headers.append(("Content-Length", str(length)))
    return headers


def _body(kind: str, environ, start_response):
    one, three = [BODY], [b"one ", b"two ", b"three\n"]
    status = "200 OK"
    if kind == "list":
        start_response(status, _headers())
        return list(one)
    if kind == "tuple":
        start_response(status, _headers())
        return tuple(one)
    if kind == "list-subclass":
        start_response(status, _headers())
        return ListBody(one)
    if kind == "list-subclass-three":
        start_response(status, _headers())
        return ListBody(three)
    if kind == "tuple-subclass":
        start_response(status, _headers())
        return TupleBody(one)
    if kind == "sized-one":
        start_response(status, _headers())
        return SizedBody(one)
    if kind == "sized-three":
        start_response(status, _headers())
        return SizedBody(three)
    if kind == "generator":
        start_response(status, _headers())
        return generate(three)
    if kind == "generator-with-length":
        start_response(status, _headers(sum(map(len, three))))
        return generate(three)
    if kind == "empty-list":
        start_response(status, _headers())
        return []
    if kind == "empty-chunk":
        start_response(status, _headers())
        return [b""]
    if kind == "write":
        write = start_response(status, _headers(len(BODY)))
        write(BODY)
        return []
    if kind == "file-wrapper":
        start_response(status, _headers(len(BODY)))
        return environ["wsgi.file_wrapper"](io.BytesIO(BODY))
    if kind == "not-modified":
        start_response("304 Not Modified", [])
        return []
    if kind == "map":
        start_response(status, _headers())
        return map(bytes, three)
    raise LookupError(kind)


KINDS = (
    "list",
    "tuple",
    "list-subclass",
    "list-subclass-three",
    "tuple-subclass",
    "sized-one",
    "sized-three",
    "generator",
    "generator-with-length",
    "empty-list",
    "empty-chunk",
    "write",
    "file-wrapper",
    "not-modified",
    "map",
)


def app(environ, start_response):
    return _body(environ["PATH_INFO"].strip("/"), environ, start_response)


def _serve(server: str, wsgi_app, port: int) -> None:
    if server == "waitress":
        import waitress

        waitress.serve(wsgi_app, host="127.0.0.1", port=port, threads=2, _quiet=True)
    else:
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        make_server("127.0.0.1", port, wsgi_app, handler_class=Quiet).serve_forever()


def main(server: str, store: str, bare_port: int, profiled_port: int) -> None:
    from linesman.middleware import ProfilingMiddleware

    profiled = ProfilingMiddleware(app, filename=store, response_header="false")
    threading.Thread(target=_serve, args=(server, app, bare_port), daemon=True).start()
    _serve(server, profiled, profiled_port)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
