"""What the UI may change in a running middleware, and nothing more: the on/off
switch and the capture windows (both kept in the store, so every process that
shares it follows), and the signer of the UI's tokens. The web layer gets this
object, never the middleware.

The writer thread reads the switch, the windows and the store's secret every
``switch_interval`` and hands them here (``apply_*``): after ``linesman rotate
STORE`` every process signs with, and accepts only, the new secret within a
second or so. An app's request never asks the store for it; a UI request does
only in a process whose writer has not read it lately (see current_signer)."""

from __future__ import annotations

import logging
import threading
import time

from linesman.backends.base import Backend
from linesman.config import Settings
from linesman.model.capture import CaptureWindow
from linesman.signing import Signer, new_secret
from linesman.storage.health import Health
from linesman.web.access import TOKEN_PARAMETER

__all__ = ["Controls"]

log = logging.getLogger("linesman")

SECRET_RETRY = 30.0  # seconds between tries for the store's secret while it is down
# A UI request is judged with a secret read at most this long ago; the writer
# thread reads it every half second, so only an idle process's UI reads it itself.
SECRET_FRESH = 5.0


class Controls:
    """The switch, the open capture windows and the signer, as this process
    last read them from the store; the writer thread refreshes them."""

    def __init__(self, settings: Settings, backend: Backend, health: Health) -> None:
        self.settings = settings
        self.backend = backend
        self.health = health
        self.profiler_path = settings.profiler_path
        self.enabled = settings.enabled
        self.captures: tuple[CaptureWindow, ...] = ()  # the open windows
        self.signer = Signer(new_secret(), shared=False)  # the store's, once it answers
        self.secret_fresh = SECRET_FRESH
        self._secret_read = self._secret_tried = float("-inf")
        self._secret_failed = False

    def read_store(self, wait: float) -> bool:
        """Prepare the store and read the switch, windows and secret from it, waiting
        ``wait`` seconds at most: a locked or unreachable store must not keep the
        app from starting. The read goes on in its thread past that; the writer
        sets the store up again when it starts. Trouble is reported, never raised."""
        done: list[bool] = []
        reader = threading.Thread(
            target=lambda: done.append(self._read_store()), name="linesman-start", daemon=True
        )
        reader.start()
        reader.join(wait)
        if not done:
            self.health.problem(
                "store",
                "linesman: %s did not answer within %g s at start-up; the app serves "
                "and storage will retry",
                self.backend.describe(),
                wait,
            )
        return bool(done and done[0])

    def _read_store(self) -> bool:
        try:
            self.backend.setup()
            self.apply_switch(self.backend.get_enabled())
            self.apply_captures(self.backend.open_captures())
            self.apply_secret(self.backend.get_secret())
        except Exception as exc:
            message = f"{self.backend.describe()}: {exc}"
            self.health.store_failed(message)
            self.health.problem(
                "store",
                "linesman: store unavailable at start-up, "
                "the app serves and storage will retry: %s",
                message,
            )
            return False
        return True

    def store_ready(self) -> None:
        """The writer set up a store that was not ready at start-up: read its secret
        and say where the UI opens."""
        self.apply_secret(self.backend.get_secret())
        self.announce_login()

    def announce_login(self) -> None:
        if self.settings.require_token:
            log.info(
                "linesman: the profiler UI opens with %s (`linesman url STORE` prints it too)",
                self.login_path(),
            )

    def current_signer(self, refresh: bool = True) -> Signer:
        """The store's signer; while the store has not answered, a stand-in of this
        process. ``refresh`` (a UI request, never an app's) reads the secret here
        when nobody has for ``secret_fresh`` seconds (a process idle since before a
        rotation, whose writer has just started) or the stand-in is in use; after
        a failure, at most every SECRET_RETRY seconds."""
        if refresh:
            now = time.monotonic()
            due = not self.signer.shared or now - self._secret_read > self.secret_fresh
            wait = SECRET_RETRY if self._secret_failed else 0.0
            if due and now - self._secret_tried > wait:
                self._secret_tried = now
                try:
                    self.apply_secret(self.backend.get_secret())
                    self._secret_failed = False
                except Exception as exc:
                    self._secret_failed = True
                    log.warning(
                        "linesman: the store's secret cannot be read (%s); this "
                        "process signs with %s until it can",
                        exc,
                        "the one it read last" if self.signer.shared else "its own",
                    )
        return self.signer

    def apply_secret(self, secret: bytes) -> None:
        """The store's secret as just read (by the writer thread, every half
        second): a new one (``linesman rotate``) replaces the signer, and with it
        every token, login and form token signed before."""
        self._secret_read = time.monotonic()
        signer = self.signer
        if signer.shared and secret == signer.secret:
            return
        if signer.shared:
            log.warning(
                "linesman: the store's secret was changed (linesman rotate): "
                "earlier tokens, logins and forms no longer work"
            )
        self.signer = Signer(secret)

    def login_path(self, script_name: str = "") -> str:
        """The UI's address with the access token, which logs a browser in."""
        token = self.current_signer().login_token
        return f"{script_name}{self.profiler_path}/?{TOKEN_PARAMETER}={token}"

    def apply_switch(self, stored: bool | None) -> None:
        """The switch as read from the store (None: never set, keep ours)."""
        if stored is not None:
            self.enabled = stored

    def apply_captures(self, windows: list[CaptureWindow]) -> None:
        """The open capture windows as read from the store."""
        self.captures = tuple(windows)

    def set_enabled(self, enabled: bool) -> None:
        """Turn profiling on or off for every process that shares the store."""
        self.backend.set_enabled(enabled)
        self.enabled = bool(enabled)

    def start_capture(self, window: CaptureWindow) -> None:
        """Arm a capture window for every process that shares the store."""
        self.backend.start_capture(window)
        self.apply_captures(self.backend.open_captures())

    def stop_capture(self, window_id: str) -> bool:
        stopped = self.backend.stop_capture(window_id)
        self.apply_captures(self.backend.open_captures())
        return stopped
