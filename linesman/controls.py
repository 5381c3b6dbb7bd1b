"""What the UI may change in a running middleware, and nothing more: the on/off
switch and the capture windows (both kept in the store, so every process that
shares it follows), and the signer of the UI's tokens. The web layer gets this
object, never the middleware."""

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
        self._secret_tried = 0.0

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
            self.signer = Signer(self.backend.get_secret())
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
        self.signer = Signer(self.backend.get_secret())
        self.announce_login()

    def announce_login(self) -> None:
        if self.settings.require_token:
            log.info(
                "linesman: the profiler UI opens with %s (`linesman url STORE` prints it too)",
                self.login_path(),
            )

    def current_signer(self, refresh: bool = True) -> Signer:
        """The store's signer; while the store has not answered, a stand-in of this
        process, and (``refresh``, never on an app's request) another try for the
        store's at most every SECRET_RETRY seconds."""
        if (
            refresh
            and not self.signer.shared
            and (time.monotonic() - self._secret_tried > SECRET_RETRY)
        ):
            self._secret_tried = time.monotonic()
            try:
                self.signer = Signer(self.backend.get_secret())
            except Exception as exc:
                log.warning(
                    "linesman: the store's secret cannot be read (%s); this "
                    "process signs with its own until it can",
                    exc,
                )
        return self.signer

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
