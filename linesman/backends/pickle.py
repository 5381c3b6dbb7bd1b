"""The compatibility store: the whole history in one pickle file.

As the original documented, every change rewrites the file. Here the rewrite
goes to a temporary file that atomically replaces the old one, so a crash
never leaves it torn; processes sharing the file take a lock around each
read-modify-write and reload what another wrote, so none loses another's
sessions. The pickle holds only plain dicts, lists, strings and numbers, and
is read with an unpickler that refuses every class, so a crafted or damaged
file is a clear error naming the file, never code that runs.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pickle
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from linesman.backends.base import SUMMARY_FIELDS, Backend, BackendError
from linesman.model.session import ProfilingSession
from linesman.signing import new_secret

__all__ = ["PickleBackend", "DamagedStore"]

log = logging.getLogger("linesman")

FORMAT = "linesman-pickle"
FORMAT_VERSION = 1


class DamagedStore(BackendError):
    """The file is there but is not a readable linesman pickle store."""


class _PlainUnpickler(pickle.Unpickler):
    """Builds dicts, lists and scalars only; any class or callable is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_plain(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


class PickleBackend(Backend):
    """Sessions in one pickle file (``filename``), rewritten on each change."""

    def __init__(self, filename: str = "sessions.dat") -> None:
        self.filename = os.path.abspath(os.fspath(filename))
        self._documents: dict[str, dict] = {}
        self._settings: dict[str, object] = {}
        self._loaded_stamp: tuple | None = None
        self._lock = threading.RLock()

    def describe(self) -> str:
        return f"pickle file {self.filename}"

    # -- file handling ---------------------------------------------------------
    def _stamp(self) -> tuple | None:
        try:
            info = os.stat(self.filename)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _read_file(self) -> tuple[dict[str, dict], dict[str, object]]:
        try:
            with open(self.filename, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return {}, {}
        except OSError as exc:
            raise BackendError(f"cannot read {self.filename}: {exc}") from exc
        try:
            content = _load_plain(data)
        except Exception as exc:  # any damage: truncation, garbage, a refused class
            raise DamagedStore(
                f"{self.filename} is not a readable linesman pickle "
                f"store ({type(exc).__name__}: {exc})"
            ) from None
        if (
            not isinstance(content, dict)
            or content.get("format") != FORMAT
            or not isinstance(content.get("sessions"), dict)
            or not isinstance(content.get("settings", {}), dict)
        ):
            raise DamagedStore(f"{self.filename} is not a linesman pickle store")
        if content.get("version", 0) > FORMAT_VERSION:
            raise BackendError(f"{self.filename} was written by a newer linesman")
        return content["sessions"], content.get("settings", {})

    def _refresh(self) -> None:
        stamp = self._stamp()
        if stamp != self._loaded_stamp:
            self._documents, self._settings = self._read_file()
            self._loaded_stamp = stamp

    def _write_file(self) -> None:
        content = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sessions": self._documents,
            "settings": self._settings,
        }
        folder = os.path.dirname(self.filename)
        try:
            handle, temporary = tempfile.mkstemp(prefix=".linesman-", dir=folder)
            try:
                with os.fdopen(handle, "wb") as stream:
                    pickle.dump(content, stream, protocol=pickle.HIGHEST_PROTOCOL)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.filename)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise BackendError(f"cannot write {self.filename}: {exc}") from exc
        self._loaded_stamp = self._stamp()

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Lock against threads and processes, reload, change, write back."""
        with self._lock:
            try:
                lock_file = open(self.filename + ".lock", "a")
            except OSError as exc:
                raise BackendError(f"cannot lock {self.filename}: {exc}") from exc
            with lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                self._refresh()
                yield
                self._write_file()

    def _reading(self) -> dict[str, dict]:
        with self._lock:
            self._refresh()
            return self._documents

    @staticmethod
    def _session(document: dict) -> ProfilingSession:
        return ProfilingSession.from_dict(document)

    # -- the documented seven ------------------------------------------------
    def setup(self) -> None:
        """Open the store. A damaged file is refused and left untouched, as a damaged
        SQLite file is: the app serves on and reports it; only a person moves it."""
        folder = os.path.dirname(self.filename)
        if not os.path.isdir(folder):
            raise BackendError(f"cannot use {self.filename}: folder {folder} does not exist")
        try:
            self._reading()
        except DamagedStore as damage:
            raise DamagedStore(
                f"{damage}; it is left untouched: move it away to start a new store"
            ) from None

    def add(self, session: ProfilingSession) -> None:
        document = session.to_dict()
        with self._changing():
            self._documents.pop(session.uuid, None)
            self._documents[session.uuid] = document

    def get(self, session_uuid: str) -> ProfilingSession | None:
        document = self._reading().get(str(session_uuid))
        return None if document is None else self._session(document)

    def get_all(self) -> OrderedDict[str, ProfilingSession]:
        documents = list(self._reading().values())
        documents.sort(key=lambda document: document.get("timestamp", 0.0))  # stable
        return OrderedDict((document["uuid"], self._session(document)) for document in documents)

    def delete(self, session_uuid: str) -> int:
        return self.delete_many([session_uuid])

    def delete_many(self, session_uuids: Iterable[str]) -> int:
        wanted = {str(uuid) for uuid in session_uuids}
        if not wanted & set(self._reading()):
            return 0
        with self._changing():
            removed = [uuid for uuid in wanted if self._documents.pop(uuid, None) is not None]
        return len(removed)

    def delete_all(self) -> int:
        if not self._reading():
            return 0
        with self._changing():
            removed = len(self._documents)
            self._documents = {}
        return removed

    # -- richer calls ---------------------------------------------------------
    def get_enabled(self) -> bool | None:
        with self._lock:
            self._refresh()
            value = self._settings.get("enabled")
        return None if value is None else bool(value)

    def set_enabled(self, enabled: bool) -> None:
        with self._changing():
            self._settings["enabled"] = bool(enabled)

    def get_secret(self) -> bytes:
        with self._lock:
            self._refresh()
            value = self._settings.get("secret")
        if not isinstance(value, str):
            with self._changing():
                value = self._settings.setdefault("secret", new_secret().hex())
        return bytes.fromhex(str(value))

    def set_secret(self, secret: bytes) -> None:
        with self._changing():
            self._settings["secret"] = bytes(secret).hex()

    def summaries(self) -> list[dict]:
        documents = sorted(
            self._reading().values(), key=lambda document: document.get("timestamp", 0.0)
        )
        return [{key: document.get(key) for key in SUMMARY_FIELDS} for document in documents]
