"""The compatibility store: the whole history in one pickle file.

As the original documented, every change rewrites the file. Here the rewrite
goes to a temporary file that atomically replaces the old one, so a crash
never leaves it torn; processes sharing the file take a lock around each
read-modify-write and reload what another wrote, so none loses another's
sessions. The pickle holds only plain dicts, lists, strings and numbers, and
is read with an unpickler that refuses every class, so a crafted or damaged
file is a clear error naming the file, never code that runs. Each document is
checked as it is read (``row_check``): one of wrong types is a damaged row. A
change that cannot be written (a session pickle cannot write, such as one
100,000 lists deep) is undone and refused alone; a stored document that cannot
be written back is kept as a damaged row, the file as it was set aside.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from linesman.backends.base import Backend, BackendError, SessionRefused, SessionSummary
from linesman.backends.row_check import (
    readable_sessions,
    session_of_document,
    session_problem,
    summary_of_document,
)
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


class _Unpicklable(Exception):
    """pickle.dump failed on the content itself (not on the disk)."""


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # RecursionError, PicklingError, MemoryError, TypeError...
        return False
    return True


class PickleBackend(Backend):
    """Sessions in one pickle file (``filename``), rewritten on each change."""

    def __init__(self, filename: str = "sessions.dat") -> None:
        self.filename = os.path.abspath(os.fspath(filename))
        self._documents: dict[str, Any] = {}  # as stored: checked when read
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

    def _write_file(self, incoming: Collection[str] = ()) -> None:
        """Write the store; ``incoming`` are the ids this change adds. A failure of
        pickle itself is the content's: an incoming session is refused (the change
        is undone by ``_changing``), a stored document is kept as a damaged row."""
        try:
            self._dump()
        except _Unpicklable as exc:
            self._set_aside_unpicklable(exc, incoming)
            try:
                self._dump()
            except _Unpicklable as again:  # the whole, not one document (MemoryError?)
                raise BackendError(f"cannot write {self.filename}: {again}") from None
        self._loaded_stamp = self._stamp()

    def _dump(self) -> None:
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
                    try:
                        pickle.dump(content, stream, protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception as exc:  # RecursionError, PicklingError, MemoryError...
                        raise _Unpicklable(f"{type(exc).__name__}: {exc}") from None
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.filename)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise BackendError(f"cannot write {self.filename}: {exc}") from exc

    def _set_aside_unpicklable(self, exc: _Unpicklable, incoming: Collection[str]) -> None:
        bad = [uuid for uuid, document in self._documents.items() if not _picklable(document)]
        refused = [uuid for uuid in bad if uuid in incoming]
        if refused:
            raise SessionRefused(
                f"{self.filename}: session {refused[0]!r} cannot be pickled ({exc})"
            )
        settings = [name for name, value in self._settings.items() if not _picklable(value)]
        if not bad and not settings:
            raise BackendError(f"cannot write {self.filename}: {exc}")
        aside = f"{self.filename}.unwritable-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            shutil.copy2(self.filename, aside)
        except OSError as error:
            raise BackendError(
                f"cannot write {self.filename}: it holds {len(bad) + len(settings)} "
                f"value(s) pickle cannot write back ({exc}), and cannot be copied aside: {error}"
            ) from None
        reason = f"its document cannot be written back ({exc}); the file as it was is {aside}"
        for uuid in bad:
            self._documents[uuid] = {"uuid": uuid, "damaged": reason}
        for name in settings:
            del self._settings[name]
        log.warning(
            "linesman: %s holds %d session(s) and %d setting(s) that cannot be written back "
            "(%s); they are kept as damaged rows, and the file as it was is %s",
            self.filename,
            len(bad),
            len(settings),
            exc,
            aside,
        )

    @contextmanager
    def _changing(self, incoming: Collection[str] = ()) -> Iterator[None]:
        """Lock against threads and processes, reload, change, write back. The change
        is made to copies, so a reader goes on with what it had, and a change that
        cannot be written is undone (never left to poison every later write)."""
        with self._lock:
            try:
                lock_file = open(self.filename + ".lock", "a")
            except OSError as exc:
                raise BackendError(f"cannot lock {self.filename}: {exc}") from exc
            with lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                self._refresh()
                before = self._documents, self._settings
                self._documents, self._settings = dict(before[0]), dict(before[1])
                try:
                    yield
                    self._write_file(incoming)
                except BaseException:
                    self._documents, self._settings = before
                    raise

    def _reading(self) -> dict[str, Any]:
        with self._lock:
            self._refresh()
            return self._documents

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
        problem = session_problem(session)
        if problem is not None:
            raise SessionRefused(f"session {session.uuid!r} cannot be stored: {problem}")
        document = session.to_dict()
        with self._changing(incoming=(session.uuid,)):
            self._documents.pop(session.uuid, None)
            self._documents[session.uuid] = document

    def get(self, session_uuid: str) -> ProfilingSession | None:
        """The session, or SessionFormatError if its document is damaged."""
        uuid = str(session_uuid)
        documents = self._reading()
        return session_of_document(uuid, documents[uuid]) if uuid in documents else None

    def get_all(self) -> OrderedDict[str, ProfilingSession]:
        """Every session that reads, oldest first (a damaged one is left out, and logged)."""
        documents = self._reading()
        pairs = [
            (row["uuid"], documents[row["uuid"]])
            for row in self._summaries(documents)
            if not row.get("damaged")
        ]
        return OrderedDict(readable_sessions(self.filename, pairs, session_of_document))

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

    def summaries(self) -> list[SessionSummary]:
        return self._summaries(self._reading())

    @staticmethod
    def _summaries(documents: dict[str, Any]) -> list[SessionSummary]:
        """Oldest first; a damaged document's row (its time is 0) comes first."""
        rows = [summary_of_document(uuid, document) for uuid, document in documents.items()]
        rows.sort(key=lambda row: row["timestamp"])  # stable
        return rows
