"""Serve a small app behind linesman with a server that starts a thread per
request, as developers start one: werkzeug's (what ``flask run`` runs) or
Django's ``runserver``.

Run as a script: ``python thread_server.py KIND STORE PORT [MAX_FILES]``. With
MAX_FILES the process may hold at most that many open descriptors, as under
``ulimit -n``.
"""

from __future__ import annotations

import resource
import sys


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ.get("PATH_INFO", "").encode("latin-1")]


def build(store: str):
    from linesman.middleware import ProfilingMiddleware

    return ProfilingMiddleware(hello, filename=store)


application = None  # Django's runserver loads this (WSGI_APPLICATION) once built


def serve_werkzeug(store: str, port: int) -> None:
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, build(store), threaded=True, use_reloader=False)


def serve_django(store: str, port: int) -> None:
    global application
    import django
    from django.conf import settings
    from django.core.management import call_command

    application = build(store)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        WSGI_APPLICATION=f"{__name__}.application",
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
    )
    django.setup()
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True)


urlpatterns: list = []

if __name__ == "__main__":
    kind, store, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        limit = int(sys.argv[4])
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        )
    {"werkzeug": serve_werkzeug, "django": serve_django}[kind](store, port)
