"""A PostgreSQL server of the test's own, in a temporary folder on a free port,
for tests that need a server to stop and start again: the machine's own server
is never touched."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.require import require
from support.servers import free_port


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run it (and the server) as postgres then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivateServer:
    """A running private cluster: its URL, and stop/start to make an outage."""

    def __init__(self, bindir: str, data: Path, port: int) -> None:
        self.bindir, self.data, self.port = bindir, data, port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            timeout=120,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-w", "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")


@contextmanager
def private_postgresql() -> Iterator[PrivateServer]:
    """A fresh cluster in a folder of its own under the temporary directory (the
    tests' own folders are closed to the postgres user), removed afterwards."""
    bindir = _bindir()
    require(
        bindir is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None),
        "PostgreSQL's initdb and pg_ctl (Debian package postgresql)",
    )
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix="linesman-pg-"))
    data = folder / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(
            [os.path.join(bindir, "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        ),
        check=True,
        timeout=120,
        capture_output=True,
    )
    server = PrivateServer(bindir, data, free_port())
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # stopped already
        shutil.rmtree(folder, ignore_errors=True)
