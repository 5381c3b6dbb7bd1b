"""Who may open the profiler UI: one check before every route.

A profile exposes the app's source paths and timings, so the UI is closed
unless the configuration opens it. Addresses alone cannot close it: behind a
reverse proxy on the same host every client arrives from 127.0.0.1 with a
loopback Host, and servers such as waitress strip the forwarding headers that
would say otherwise. So, as Jupyter does, the UI also asks for an access token
derived from the store's secret (``linesman url STORE`` prints a link that logs
in); scripts send the token in a header.

The link gives the browser a login of its own, never the token, in a cookie
the app's own routes never receive (linesman.web.login).

On top of the token, only loopback clients asking for a loopback host name
(which stops DNS rebinding) get in by default. A request that came through a
proxy counts as coming from the client the proxy names, and only proxies listed
in ``trusted_proxies`` are believed; from any other address, forwarding headers
make the request remote.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import importlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from linesman.config import ConfigError, Settings
from linesman.signing import Login, Signer
from linesman.web.login import LOGIN_COOKIE, SESSION_HEADER_COOKIE, BrowserLogins, cookie_values

__all__ = [
    "AccessPolicy",
    "AccessDecision",
    "LOGIN_COOKIE",
    "SESSION_HEADER_COOKIE",
    "TOKEN_HEADER",
    "TOKEN_PARAMETER",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "cookie_values",
]

TOKEN_HEADER = "X-Linesman-Token"
TOKEN_PARAMETER = "token"
# A change from a browser carries a CSRF token signed with the store's secret, in
# the form field or the header; the cookie keeps it for the page's forms.
CSRF_COOKIE = "linesman_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-Linesman-CSRF"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

LOGIN_EXPIRED = (
    "This browser's login to the profiler has expired. Open the link that "
    "`linesman url STORE` prints again."
)
TOKEN_NEEDED = (
    "The profiler needs its access token. Open the link that "
    "`linesman url STORE` prints for this app's store (the app's log shows it "
    "at start-up too); scripts send the token in the X-Linesman-Token header."
)


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    status: int = 200  # 401 asks for credentials, 403 refuses
    reason: str = ""
    challenge: str = ""  # a 401's WWW-Authenticate value
    by_link: bool = False  # the token came in the query: set the cookie, drop it from the URL
    by_header: bool = False  # the token came in a header: a script, which needs no CSRF token
    login: Login | None = None  # a login to set in the cookies: new (the link) or renewed


def _networks(entries: tuple[str, ...], option: str) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                f"linesman option {option}: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _load_hook(spec: str) -> Callable[[dict], Any]:
    module_name, _, name = spec.partition(":")
    try:
        hook = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"linesman option authorize = {spec!r}: {exc}") from None
    if not callable(hook):
        raise ConfigError(f"linesman option authorize = {spec!r}: not callable")
    return hook


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def host_name(host_header: str) -> str:
    """The name part of a Host header: ``[::1]:8080`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def query_token(environ: dict) -> str:
    query = str(environ.get("QUERY_STRING", ""))
    if TOKEN_PARAMETER + "=" not in query:
        return ""
    return dict(parse_qsl(query, max_num_fields=100)).get(TOKEN_PARAMETER, "")


class AccessPolicy:
    """The UI's gate, built once from the settings."""

    def __init__(self, settings: Settings, signer: Callable[[bool], Signer]) -> None:
        self.signer = signer
        self.require_token = settings.require_token
        self.networks = _networks(settings.allowed_ips, "allowed_ips")
        self.proxies = _networks(settings.trusted_proxies, "trusted_proxies")
        self.any_host = "*" in settings.allowed_hosts
        self.hosts = {host.lower().strip("[]") for host in settings.allowed_hosts} or set(
            _LOOPBACK_HOSTS
        )
        self.credentials: tuple[str, str] | None = None
        if settings.auth_user or settings.auth_password:
            if not (settings.auth_user and settings.auth_password):
                raise ConfigError("linesman options auth_user and auth_password go together")
            self.credentials = (settings.auth_user, settings.auth_password)
        self.hook: Callable[[dict], Any] | None = (
            _load_hook(settings.authorize) if settings.authorize else None
        )
        self.logins = BrowserLogins(settings.login_lifetime)

    def _from_trusted_proxy(self, environ: dict) -> bool:
        peer = _address(str(environ.get("REMOTE_ADDR", "")))
        return peer is not None and any(peer in network for network in self.proxies)

    def is_https(self, environ: dict) -> bool:
        """Whether the client asked over https: the server's scheme, or the
        ``X-Forwarded-Proto`` of a proxy in ``trusted_proxies`` (as for
        ``X-Forwarded-For``, from anyone else it is not believed). Of several
        values, the last is the one the nearest proxy, the trusted one, added."""
        if str(environ.get("wsgi.url_scheme", "")).lower() == "https":
            return True
        forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO", ""))
        if not forwarded or not self._from_trusted_proxy(environ):
            return False
        return forwarded[-64:].rsplit(",", 1)[-1].strip().lower() == "https"

    def client_address(self, environ: dict):
        """The client's address, believing forwarding headers from trusted proxies only."""
        peer = _address(str(environ.get("REMOTE_ADDR", "")))
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if environ.get("HTTP_FORWARDED") and not forwarded:
            return None  # RFC 7239 from anyone is not parsed: treat as remote
        if not forwarded:
            return peer
        if peer is None or not any(peer in network for network in self.proxies):
            return None
        # The nearest address that is not one of our proxies is the client.
        for hop in reversed(forwarded.split(",")):
            address = _address(hop)
            if address is None:
                return None
            if not any(address in network for network in self.proxies):
                return address
        return None

    def check(self, environ: dict, refresh: bool = True) -> AccessDecision:
        """The decision for a request to the UI; ``refresh=False`` is an app's
        request, asking only whether its response may carry the session header:
        it never asks the store, and there the app-wide session-header cookie
        counts (it opens nothing under the profiler's path)."""
        address = self.client_address(environ)
        if address is None or not any(address in network for network in self.networks):
            return AccessDecision(False, 403, "This address may not open the profiler.")
        host = host_name(str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")))
        if not self.any_host and host not in self.hosts:
            return AccessDecision(False, 403, "The profiler does not answer under this host name.")
        token, login = None, None
        if self.require_token:
            token, login, why_not = self._token(environ, refresh)
            if token is None:
                return AccessDecision(False, 401, why_not, 'Bearer realm="linesman"')
        if self.credentials is not None and not self._credentials_match(environ):
            return AccessDecision(
                False,
                401,
                "The profiler needs a user name and password.",
                'Basic realm="linesman", charset="UTF-8"',
            )
        if self.hook is not None and not self._hook_allows(environ):
            return AccessDecision(False, 403, "The profiler is not open to you.")
        return AccessDecision(
            True,
            by_link=token == "link",
            by_header=token == "header",
            login=login,
        )

    def allows_session_header(self, environ: dict) -> bool:
        """``check(environ, refresh=False).allowed``, the question every profiled
        request asks, answered at once where the token is needed and the request
        carries it nowhere (no cookie, token header, authorization or token in the
        query): most requests, which the whole check took some 15 us to refuse."""
        if self.require_token and not (
            environ.get("HTTP_COOKIE")
            or environ.get("HTTP_X_LINESMAN_TOKEN")
            or environ.get("HTTP_AUTHORIZATION")
            or TOKEN_PARAMETER + "=" in str(environ.get("QUERY_STRING", ""))
        ):
            return False
        return self.check(environ, refresh=False).allowed

    def _token(self, environ: dict, refresh: bool) -> tuple[str | None, Login | None, str]:
        """How the request showed the token ("cookie", "header", "link") or None;
        the login to set in the cookies (new, or renewed); and why not."""
        signer = self.signer(refresh)
        now = time.time()
        login, expired = self.logins.read(environ, signer, now, app=not refresh)
        if login is not None:  # an app's response sets no cookie: renewed in the UI only
            return "cookie", self.logins.renewal(login, now) if refresh else None, ""
        header = str(environ.get("HTTP_X_LINESMAN_TOKEN", ""))
        scheme, _, bearer = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer":
            header = header or bearer.strip()
        if header and signer.is_login_token(header):
            return "header", None, ""
        given = query_token(environ)
        if given and signer.is_login_token(given):
            return "link", Login.new(now), ""
        return None, None, LOGIN_EXPIRED if expired else TOKEN_NEEDED

    def login_cookies(
        self, environ: dict, login: Login, ui_path: str, app_root: str
    ) -> list[dict[str, Any]]:
        """The cookies that keep ``login`` (see linesman.web.login), Secure over https."""
        return self.logins.cookies(
            self.signer(True), login, self.is_https(environ), ui_path, app_root
        )

    def _credentials_match(self, environ: dict) -> bool:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = (
                base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        assert self.credentials is not None  # checked by the caller
        expected_user, expected_password = self.credentials
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
        return user_ok and password_ok

    def _hook_allows(self, environ: dict) -> bool:
        try:
            return self.hook is not None and bool(self.hook(environ))
        except Exception:
            return False
