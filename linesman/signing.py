"""The store's secret and what is derived from it: the UI's login token and cookie,
and the CSRF tokens of its forms.

One random secret lives in the store (see ``Backend.get_secret``), so every
worker and every host that shares the store accepts the same login and the same
forms, and a restart does not log anyone out. Nothing a browser holds can be
made up by another page: each value is an HMAC of the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["Signer", "new_secret"]

_CSRF_NONCE_BYTES = 18


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def _mac(secret: bytes, purpose: str, text: str = "") -> str:
    digest = hmac.new(secret, f"linesman {purpose}\0{text}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


class Signer:
    """Everything the UI signs, from one secret."""

    def __init__(self, secret: bytes, shared: bool = True) -> None:
        self.secret = secret
        self.shared = shared  # False: a process-local stand-in while the store is down
        self.login_token = _mac(secret, "login token")
        self.login_cookie = _mac(secret, "login cookie")

    def is_login_token(self, given: str) -> bool:
        return _same(given, self.login_token)

    def is_login_cookie(self, given: str) -> bool:
        return _same(given, self.login_cookie)

    def csrf_token(self) -> str:
        nonce = secrets.token_urlsafe(_CSRF_NONCE_BYTES)
        return f"{nonce}.{_mac(self.secret, 'csrf', nonce)}"

    def is_csrf_token(self, given: str) -> bool:
        nonce, dot, mac = given.partition(".")
        if not dot or not nonce or len(given) > 128:
            return False
        return _same(mac, _mac(self.secret, "csrf", nonce))
