"""Logging a test client in to the profiler UI, as a browser does with the link."""

from __future__ import annotations

import time

from webtest import TestApp

from linesman.signing import LOGIN_COOKIE_PURPOSE, SESSION_HEADER_PURPOSE, Login

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


def login_cookies(middleware, issued: float | None = None) -> dict[str, str]:
    """The two cookies a browser holds after opening the link (``issued``: when)."""
    signer = middleware.current_signer()
    login = Login.new(time.time() if issued is None else issued)
    return {
        "linesman_login": signer.login_value(login, LOGIN_COOKIE_PURPOSE),
        "linesman_header": signer.login_value(login, SESSION_HEADER_PURPOSE),
    }


def cookie_environ(middleware, under_ui: bool = True) -> dict[str, str]:
    """What a logged-in browser sends: both cookies under the profiler's path,
    only the app-wide session-header cookie to the app's own routes."""
    cookies = login_cookies(middleware)
    if not under_ui:
        del cookies["linesman_login"]
    return {"HTTP_COOKIE": "; ".join(f"{name}={value}" for name, value in cookies.items())}
