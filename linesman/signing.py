"""The store's secret and what is derived from it: the UI's access token, the
browsers' logins, and the CSRF tokens of its forms.

One random secret lives in the store (see ``ControlStore.get_secret``), so every
worker and every host that shares the store accepts the same token, logins and
forms, and a restart does not log anyone out; ``linesman rotate STORE`` replaces
it, and with it everything signed before. Nothing a browser holds can be made
up by another page: each value is an HMAC of the secret.

The access token is the one credential a person copies (the link, a script's
header); it never goes into a cookie. Opening the link gives the browser a
login of its own instead: a random id and the time it was issued, signed. Its
expiry (``login_lifetime``) is the access policy's (linesman.web.access) to
judge; here a login is only signed and read back.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["Login", "Signer", "new_secret", "LOGIN_COOKIE_PURPOSE", "SESSION_HEADER_PURPOSE"]

_CSRF_NONCE_BYTES = 18
_LOGIN_ID_BYTES = 12  # 16 characters of URL-safe base64
# The two things a login is signed for, never interchangeable: the cookie that
# opens the UI, and the app-wide one that only lets the app's responses carry
# the X-Linesman-Session header (see linesman.web.access).
LOGIN_COOKIE_PURPOSE = "browser login"
SESSION_HEADER_PURPOSE = "session header"
_LOGIN_VALUE = re.compile(r"([A-Za-z0-9_-]{16})\.([0-9]{1,12})\.([A-Za-z0-9_=-]{32})")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def _mac(secret: bytes, purpose: str, text: str = "") -> str:
    digest = hmac.digest(secret, f"linesman {purpose}\0{text}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class Login:
    """One browser's login: a random id, and when it was issued (renewed)."""

    id: str
    issued: int  # Unix time, whole seconds

    @classmethod
    def new(cls, now: float) -> Login:
        return cls(secrets.token_urlsafe(_LOGIN_ID_BYTES), int(now))

    def renewed(self, now: float) -> Login:
        """The same login, issued again now: the browser keeps its id."""
        return Login(self.id, int(now))


class Signer:
    """Everything the UI signs, from one secret."""

    def __init__(self, secret: bytes, shared: bool = True) -> None:
        self.secret = secret
        self.shared = shared  # False: a process-local stand-in while the store is down
        self.login_token = _mac(secret, "login token")

    def is_login_token(self, given: str) -> bool:
        return _same(given, self.login_token)

    def login_value(self, login: Login, purpose: str = LOGIN_COOKIE_PURPOSE) -> str:
        """What a cookie carries for ``login``: ``id.issued.mac``."""
        text = f"{login.id}.{login.issued}"
        return f"{text}.{_mac(self.secret, purpose, text)}"

    def read_login(self, given: str, purpose: str = LOGIN_COOKIE_PURPOSE) -> Login | None:
        """The login a cookie carries, if this secret signed it for ``purpose``
        (whether it is still valid is the access policy's to say)."""
        match = _LOGIN_VALUE.fullmatch(given) if len(given) <= 64 else None
        if match is None:
            return None
        login_id, issued, mac = match.groups()
        if not _same(mac, _mac(self.secret, purpose, f"{login_id}.{issued}")):
            return None
        return Login(login_id, int(issued))

    def csrf_token(self) -> str:
        nonce = secrets.token_urlsafe(_CSRF_NONCE_BYTES)
        return f"{nonce}.{_mac(self.secret, 'csrf', nonce)}"

    def is_csrf_token(self, given: str) -> bool:
        nonce, dot, mac = given.partition(".")
        if not dot or not nonce or len(given) > 128:
            return False
        return _same(mac, _mac(self.secret, "csrf", nonce))
