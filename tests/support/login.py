"""Logging a test client in to the profiler UI, as a browser does with the link."""

from __future__ import annotations

from webtest import TestApp

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}


def log_in(client: TestApp, middleware) -> TestApp:
    """Open the login link, which sets the login cookie (and redirects)."""
    client.get(middleware.login_path(), status=303)
    return client


def ui_client(middleware, **environ) -> TestApp:
    """A loopback client logged in to the UI of ``middleware``."""
    return log_in(TestApp(middleware, extra_environ={**LOCAL, **environ}), middleware)


def token_environ(middleware) -> dict[str, str]:
    """What a script sends instead of the cookie: the token in a header."""
    return {"HTTP_X_LINESMAN_TOKEN": middleware.current_signer().login_token}


def cookie_environ(middleware) -> dict[str, str]:
    """The login cookie a browser holds after opening the link."""
    return {"HTTP_COOKIE": f"linesman_login={middleware.current_signer().login_cookie}"}
