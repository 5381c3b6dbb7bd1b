"""Who may open the profiler UI: one check before every route.

A profile exposes the app's source paths and timings, so the UI is closed
unless the configuration opens it. Addresses alone cannot close it: behind a
reverse proxy on the same host every client arrives from 127.0.0.1 with a
loopback Host, and servers such as waitress strip the forwarding headers that
would say otherwise. So, as Jupyter does, the UI also asks for an access token
derived from the store's secret (``linesman url STORE`` prints a link that logs
in); the link sets a cookie, scripts send the token in a header.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from linesman.config import ConfigError, Settings
from linesman.signing import Signer

__all__ = [
    "AccessPolicy",
    "AccessDecision",
    "LOGIN_COOKIE",
    "TOKEN_HEADER",
    "TOKEN_PARAMETER",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
]

LOGIN_COOKIE = "linesman_login"
TOKEN_HEADER = "X-Linesman-Token"
TOKEN_PARAMETER = "token"
# A change from a browser carries a CSRF token signed with the store's secret, in
# the form field or the header; the cookie keeps it for the page's forms.
CSRF_COOKIE = "linesman_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-Linesman-CSRF"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


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


def cookie_value(environ: dict, name: str) -> str:
    """One cookie's value, without parsing (or failing on) the others."""
    for part in str(environ.get("HTTP_COOKIE", "")).split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip().strip('"')
    return ""


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
        """The decision; ``refresh=False`` (an app's request) never asks the store."""
        address = self.client_address(environ)
        if address is None or not any(address in network for network in self.networks):
            return AccessDecision(False, 403, "This address may not open the profiler.")
        host = host_name(str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")))
        if not self.any_host and host not in self.hosts:
            return AccessDecision(False, 403, "The profiler does not answer under this host name.")
        token = None
        if self.require_token:
            token = self._token(environ, refresh)
            if token is None:
                return AccessDecision(False, 401, TOKEN_NEEDED, 'Bearer realm="linesman"')
        if self.credentials is not None and not self._credentials_match(environ):
            return AccessDecision(
                False,
                401,
                "The profiler needs a user name and password.",
                'Basic realm="linesman", charset="UTF-8"',
            )
        if self.hook is not None and not self._hook_allows(environ):
            return AccessDecision(False, 403, "The profiler is not open to you.")
        return AccessDecision(True, by_link=token == "link", by_header=token == "header")

    def _token(self, environ: dict, refresh: bool) -> str | None:
        """How the request showed the token ("cookie", "header", "link"), or None."""
        signer = self.signer(refresh)
        cookie = cookie_value(environ, LOGIN_COOKIE)
        if cookie and signer.is_login_cookie(cookie):
            return "cookie"
        header = str(environ.get("HTTP_X_LINESMAN_TOKEN", ""))
        scheme, _, bearer = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() == "bearer":
            header = header or bearer.strip()
        if header and signer.is_login_token(header):
            return "header"
        given = query_token(environ)
        if given and signer.is_login_token(given):
            return "link"
        return None

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
