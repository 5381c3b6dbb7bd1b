"""A browser's login to the profiler UI, kept in two cookies, and the bounded
search of the Cookie header that finds them.

Opening the login link (linesman.web.access) gives the browser a login of its
own, never the access token: a random id and when it was issued, signed with
the store's secret (linesman.signing), valid for ``login_lifetime`` and
renewed, same id, when it is used past half of it. It goes in two cookies:

* ``linesman_login``, under the profiler's path only: the one that opens the
  UI. The app's own routes never receive it, so neither the app nor the error
  reporters that record its requests' cookies ever hold a credential;
* ``linesman_header``, for the whole app, signed for another purpose: it lets
  the app's responses carry the ``X-Linesman-Session`` header to this browser
  (see linesman.wrappers) and opens nothing. Leaked from an app's logs, it
  says that a profiler is mounted, and where; nothing more.

Both are HttpOnly, SameSite=Lax, expire with the login, and are Secure when
the request came over https. ``linesman rotate STORE`` replaces the secret,
which ends every login at once.
"""

from __future__ import annotations

from typing import Any

from linesman.signing import LOGIN_COOKIE_PURPOSE, SESSION_HEADER_PURPOSE, Login, Signer

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_HEADER_COOKIE",
    "BrowserLogins",
    "cookie_values",
    "cookie_value",
]

LOGIN_COOKIE = "linesman_login"  # opens the UI; sent under the profiler's path only
SESSION_HEADER_COOKIE = "linesman_header"  # app-wide: the session header, nothing more
# The Cookie header is searched, never parsed: only so much of it, at only so
# many places, and a value longer than any linesman sets is none of its own.
MAX_COOKIE_HEADER = 64 * 1024
MAX_COOKIE_VALUE = 256
MAX_COOKIE_LOOKS = 8  # places where the name appears that are looked at
CLOCK_SKEW = 300.0  # seconds a login may seem issued in the future (hosts' clocks differ)


def cookie_values(environ: dict, name: str) -> list[str]:
    """The values of the cookies called ``name``, found without parsing the others.

    A browser sends every cookie of the site, and a client may send a megabyte of
    them: this looks at the first MAX_COOKIE_HEADER characters only, at no more
    than MAX_COOKIE_LOOKS places where the name appears, with ``str.find`` (C:
    microseconds, where parsing a megabyte took 60-300 ms). A name can come more
    than once (the same name under two paths, or one planted by a page on another
    port): every value is returned, in order, for the caller to try."""
    header = environ.get("HTTP_COOKIE")
    if not header:
        return []
    header = str(header)[:MAX_COOKIE_HEADER]
    key = name + "="
    values: list[str] = []
    at = header.find(key)
    for _ in range(MAX_COOKIE_LOOKS):
        if at < 0:
            break
        start = at + len(key)
        # A cookie's name starts the header or follows a ";" (and blanks).
        separator = header.rfind(";", 0, at)
        if not header[separator + 1 : at].strip(" \t"):
            end = header.find(";", start, start + MAX_COOKIE_VALUE + 1)
            if end < 0 and len(header) - start <= MAX_COOKIE_VALUE:
                end = len(header)
            if end >= 0:
                values.append(header[start:end].strip(" \t").strip('"'))
        at = header.find(key, start)
    return values


def cookie_value(environ: dict, name: str) -> str:
    """The first cookie called ``name`` (see cookie_values), or ""."""
    values = cookie_values(environ, name)
    return values[0] if values else ""


class BrowserLogins:
    """Reading, renewing and setting browsers' logins, for one ``login_lifetime``."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime

    def valid(self, login: Login, now: float) -> bool:
        return -CLOCK_SKEW <= now - login.issued < self.lifetime

    def read(
        self, environ: dict, signer: Signer, now: float, app: bool
    ) -> tuple[Login | None, bool]:
        """The request's valid login, if any, and whether an expired one came.
        ``app``: an app's request, for which the session-header cookie counts too."""
        expired = False
        for value in cookie_values(environ, LOGIN_COOKIE):
            login = signer.read_login(value, LOGIN_COOKIE_PURPOSE)
            if login is not None:
                if self.valid(login, now):
                    return login, False
                expired = True
        if app:
            for value in cookie_values(environ, SESSION_HEADER_COOKIE):
                login = signer.read_login(value, SESSION_HEADER_PURPOSE)
                if login is not None and self.valid(login, now):
                    return login, False
        return None, expired

    def renewal(self, login: Login, now: float) -> Login | None:
        """The login issued again, once it is used past half its life; else None."""
        return login.renewed(now) if now - login.issued > self.lifetime / 2 else None

    def cookies(
        self, signer: Signer, login: Login, secure: bool, ui_path: str, app_root: str
    ) -> list[dict[str, Any]]:
        """The login's two cookies, as ``webob.Response.set_cookie`` arguments.
        Lax: a link to a profile from a chat or a ticket opens it (a GET, which
        changes nothing); every change still needs the signed CSRF token."""
        common = {
            "max_age": int(self.lifetime),
            "httponly": True,
            "samesite": "Lax",
            "secure": secure,
        }
        return [
            {
                "name": LOGIN_COOKIE,
                "value": signer.login_value(login, LOGIN_COOKIE_PURPOSE),
                "path": ui_path,
                **common,
            },
            {
                "name": SESSION_HEADER_COOKIE,
                "value": signer.login_value(login, SESSION_HEADER_PURPOSE),
                "path": app_root,
                **common,
            },
        ]
