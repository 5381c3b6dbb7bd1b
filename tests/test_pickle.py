"""What the pickle store promises beyond the contract: no code runs, no torn file."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from support.processes import start_together
from support.sessions import real_session

from linesman.backends.base import BackendError
from linesman.backends.pickle import PickleBackend


class Planted:
    """Unpickling this runs a command: what a crafted store file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def add_sessions(filename: str, count: int) -> None:
    backend = PickleBackend(filename=filename)
    backend.setup()
    for _ in range(count):
        backend.add(real_session())


def test_a_crafted_file_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    filename = tmp_path / "sessions.dat"
    filename.write_bytes(
        pickle.dumps(
            {"format": "linesman-pickle", "version": 1, "sessions": {"x": Planted(marker)}}
        )
    )
    planted = filename.read_bytes()
    backend = PickleBackend(filename=str(filename))
    with pytest.raises(BackendError, match="left untouched"):
        backend.setup()
    assert not marker.exists()
    assert filename.read_bytes() == planted
    assert not any(p.name.startswith("sessions.dat.damaged-") for p in tmp_path.iterdir())
    assert not marker.exists(), "reading the store never ran the planted code"


@pytest.mark.parametrize("content", [b"", b"\x80\x05garbage", None])
def test_a_damaged_file_is_refused_and_left_untouched(tmp_path, content):
    filename = tmp_path / "sessions.dat"
    if content is None:  # a real store, cut short as a crash mid-write would leave it
        add_sessions(str(filename), 3)
        content = filename.read_bytes()[:-40]
        filename.write_bytes(content)
    else:
        filename.write_bytes(content)
    backend = PickleBackend(filename=str(filename))
    with pytest.raises(BackendError, match=f"{filename}.*left untouched"):
        backend.setup()
    with pytest.raises(BackendError):
        backend.add(real_session())  # nothing is written over it
    assert filename.read_bytes() == content, "the damaged file was changed"
    assert not any(p.name.startswith("sessions.dat.damaged-") for p in tmp_path.iterdir())


def test_another_programs_pickle_is_refused(tmp_path):
    filename = tmp_path / "sessions.dat"
    filename.write_bytes(pickle.dumps({"some": "dict"}))
    backend = PickleBackend(filename=str(filename))
    with pytest.raises(BackendError, match="not a linesman pickle store"):
        backend.count()  # reading it is refused...
    with pytest.raises(BackendError, match="left untouched"):
        backend.setup()  # ...and so is setting up: the file stays as it was
    assert filename.read_bytes() == pickle.dumps({"some": "dict"})


def test_each_change_replaces_the_file_and_leaves_no_temporary(tmp_path):
    filename = tmp_path / "sessions.dat"
    backend = PickleBackend(filename=str(filename))
    backend.setup()
    backend.add(real_session())
    first_inode = filename.stat().st_ino
    backend.add(real_session())
    assert filename.stat().st_ino != first_inode, "the file was rewritten in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.dat", "sessions.dat.lock"]


def test_a_failed_write_keeps_the_previous_file_whole(tmp_path):
    """A write cut off by a file-size limit (a full disk) leaves the old store intact."""
    filename = tmp_path / "sessions.dat"
    add_sessions(str(filename), 2)
    before = filename.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from linesman.backends.pickle import PickleBackend
        from linesman.backends.base import BackendError
        from support.sessions import real_session
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)}, {len(before)}))
        backend = PickleBackend(filename={str(filename)!r})
        try:
            backend.add(real_session())
        except BackendError as exc:
            print("refused:", exc)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "refused: cannot write" in result.stdout, result.stderr
    assert filename.read_bytes() == before
    assert PickleBackend(filename=str(filename)).count() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.dat", "sessions.dat.lock"]


def test_two_processes_on_one_file_lose_nothing(tmp_path):
    filename = str(tmp_path / "sessions.dat")
    workers = start_together(3, add_sessions, (filename, 15))
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert PickleBackend(filename=filename).count() == 45


def test_a_second_instance_sees_what_the_first_wrote(tmp_path):
    filename = str(tmp_path / "sessions.dat")
    first, second = PickleBackend(filename), PickleBackend(filename)
    first.setup()
    second.setup()
    session = real_session()
    first.add(session)
    assert second.get(session.uuid).to_dict() == session.to_dict()
    assert second.delete(session.uuid) == 1
    assert first.get(session.uuid) is None
