"""Small hand-written WSGI apps for the tests, each doing one thing on purpose."""

from __future__ import annotations

import time


class Boom(Exception):
    """The app's own exception; it must reach the server unchanged."""


def spin(seconds: float) -> None:
    """Burn CPU for a while (sleep would not show as the app's own time)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def spin_cpu(seconds: float) -> None:
    """Burn this much of the thread's own CPU time, however busy the machine is."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def hello_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


class Tracker:
    """A body that records how it was iterated and closed."""

    def __init__(self, chunks, fail_at=None, close_error=False, on_next=None):
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.close_error = close_error
        self.on_next = on_next
        self.produced = 0
        self.closed = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.fail_at is not None and self.produced == self.fail_at:
            raise Boom(f"chunk {self.produced}")
        if self.produced >= len(self.chunks):
            raise StopIteration
        chunk = self.chunks[self.produced]
        self.produced += 1
        if self.on_next is not None:
            self.on_next(self.produced)
        return chunk

    def close(self):
        self.closed += 1
        if self.close_error:
            raise Boom("close")


class StreamingApp:
    """Answers with a Tracker body; remembers the last one for inspection."""

    def __init__(self, chunks=(b"one", b"two", b"three"), **tracker_options):
        self.chunks = chunks
        self.tracker_options = tracker_options
        self.bodies: list[Tracker] = []

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        body = Tracker(self.chunks, **self.tracker_options)
        self.bodies.append(body)
        return body


def raise_before_start(environ, start_response):
    raise Boom("before start_response")


def raise_after_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise Boom("after start_response")


def error_with_exc_info(environ, start_response):
    """The PEP 3333 error path: a second start_response with exc_info."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise Boom("handled")
    except Boom:
        import sys

        start_response(
            "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
        )
    return [b"error page"]


def legacy_write_app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"returned"]


def file_wrapper_app(environ, start_response):
    import io

    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    data = io.BytesIO(bytes(range(256)) * 40)
    return environ["wsgi.file_wrapper"](data, 1000)


def make_hello(global_conf, **options):
    """A ``call:`` app factory for the ini tests."""
    return hello_app
