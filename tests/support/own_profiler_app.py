"""An app that runs profilers of its own, as apps do (a ``?profile=1`` debugging
route, a tracer set for one request): what it answers says whether its profiler
worked. Served by gunicorn as ``support.own_profiler_app:application`` behind
linesman on the store named by LINESMAN_TEST_STORE (and LINESMAN_TEST_PROFILER)."""

from __future__ import annotations

import cProfile
import os
import sys


def measured_work() -> int:
    return sum(n * n for n in range(2000))


def own_cprofile(environ, start_response):
    """Profiles its own work with cProfile and answers with what it saw."""
    profile = cProfile.Profile()
    profile.enable()
    measured_work()
    profile.disable()
    seen = sorted(
        entry.code.co_name
        for entry in profile.getstats()
        if not isinstance(entry.code, str) and entry.code.co_name == "measured_work"
    )
    body = ("saw " + ",".join(seen)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class OwnHookBody:
    """A body that sets a profile hook of its own in the app call and checks, at
    each chunk and at close, that it is still set."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.checks: list[bool] = []
        sys.setprofile(self.hook)

    def hook(self, frame, event, arg) -> None:
        self.events.append(event)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self.checks.append(sys.getprofile() == self.hook)
        if len(self.checks) > 2:
            raise StopIteration
        return b"chunk "

    def close(self) -> None:
        self.checks.append(sys.getprofile() == self.hook)
        sys.setprofile(None)


BODIES: list[OwnHookBody] = []  # the bodies made, newest last, for the test to read


def own_hook(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    body = OwnHookBody()
    BODIES.append(body)
    return body


def routes(environ, start_response):
    if environ["PATH_INFO"] == "/own-cprofile":
        return own_cprofile(environ, start_response)
    return own_hook(environ, start_response)


def build():
    from linesman.middleware import ProfilingMiddleware

    store = os.environ.get("LINESMAN_TEST_STORE")
    if not store:
        return routes
    return ProfilingMiddleware(
        routes, filename=store, profiler=os.environ.get("LINESMAN_TEST_PROFILER", "auto")
    )


application = build()
