"""What the SQLite store promises beyond the contract: many writers, bad files."""

from __future__ import annotations

import threading

import pytest
from support.processes import start_together
from support.sessions import real_session

from linesman.backends.base import BackendError
from linesman.backends.sqlite import SqliteBackend


def add_sessions(filename: str, count: int) -> None:
    backend = SqliteBackend(filename=filename)
    backend.setup()
    for _ in range(count):
        backend.add(real_session())
    backend.close()


def test_the_file_uses_wal_and_summary_indexes(tmp_path):
    backend = SqliteBackend(filename=str(tmp_path / "s.db"))
    backend.setup()
    assert backend.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[1] for row in backend.conn.execute("PRAGMA index_list(sessions)")}
    assert {
        "sessions_timestamp",
        "sessions_duration",
        "sessions_path",
        "sessions_status",
    } <= indexes
    backend.close()


def test_each_thread_has_its_own_connection(tmp_path):
    backend = SqliteBackend(filename=str(tmp_path / "s.db"))
    backend.setup()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(backend.conn))
    thread.start()
    thread.join()
    assert seen[0] is not backend.conn
    backend.close()


def test_eight_threads_lose_nothing(tmp_path):
    filename = str(tmp_path / "s.db")
    backend = SqliteBackend(filename=filename)
    backend.setup()
    errors = []

    def write():
        try:
            for _ in range(25):
                backend.add(real_session())
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert backend.count() == 200
    assert len(set(backend.get_all())) == 200
    assert backend.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backend.close()


def test_four_processes_lose_nothing(tmp_path):
    filename = str(tmp_path / "s.db")
    SqliteBackend(filename=filename).setup()
    workers = start_together(4, add_sessions, (filename, 50))
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    backend = SqliteBackend(filename=filename)
    assert backend.count() == 200
    assert backend.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backend.close()


def test_a_read_only_database_is_a_backend_error(tmp_path):
    filename = str(tmp_path / "s.db")
    add_sessions(filename, 1)
    backend = SqliteBackend(filename=f"file:{filename}?mode=ro")
    assert backend.count() == 1
    with pytest.raises(BackendError, match="readonly"):
        backend.add(real_session())
    backend.close()


def test_a_missing_folder_is_a_backend_error_naming_the_file(tmp_path):
    backend = SqliteBackend(filename=str(tmp_path / "nowhere" / "s.db"))
    with pytest.raises(BackendError, match="nowhere"):
        backend.setup()


def test_a_file_that_is_not_sqlite_is_a_backend_error_and_is_kept(tmp_path):
    filename = tmp_path / "s.db"
    filename.write_bytes(b"this is not a database" * 100)
    backend = SqliteBackend(filename=str(filename))
    with pytest.raises(BackendError, match="s.db"):
        backend.setup()
    assert filename.read_bytes() == b"this is not a database" * 100
