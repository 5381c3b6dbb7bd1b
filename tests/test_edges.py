"""The edges a user hits: crafted files, hostile paths in a terminal, commands
given nonsense, a store file deleted under the app, old call signatures."""

from __future__ import annotations

import marshal
import os
import sqlite3
import subprocess
import sys
import zlib
from datetime import datetime
from pathlib import Path

import pytest
from support import apps
from support.login import ui_client
from support.sessions import real_session
from support.wsgi_client import call

from linesman.backends.sqlite import SqliteBackend
from linesman.model.session import ProfilingSession


def linesman(*args: str, memory_limit: int | None = None) -> tuple[int, str, str]:
    """Run the command; its exit status, output and errors. ``memory_limit`` caps
    its address space (a peak RSS measure would count the forked test process)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    result = subprocess.run(
        [sys.executable, "-m", "linesman", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit if memory_limit is not None else None,
    )
    return result.returncode, result.stdout, result.stderr


def store_with(tmp_path: Path, *sessions: ProfilingSession) -> Path:
    store = tmp_path / "s.db"
    backend = SqliteBackend(filename=str(store))
    backend.setup()
    for session in sessions:
        backend.add(session)
    backend.close()
    return store


def one_line_error(result) -> str:
    status, _, err = result
    assert status == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# -- crafted input ------------------------------------------------------------------
def test_a_six_byte_prof_claiming_a_huge_tuple_is_refused_at_once(tmp_path):
    """``{(`` and a count of 2**31-1 once made import take 16.8 GB for 75 s."""
    bomb = tmp_path / "bomb.prof"
    bomb.write_bytes(b"{(\xff\xff\xff\x7f")
    # Within 1 GB of address space: marshal asked for 16 GB before anything was checked.
    result = linesman("import", str(tmp_path / "s.db"), str(bomb), memory_limit=1 << 30)
    assert "not a .prof file (it claims more than the file holds)" in one_line_error(result)


@pytest.mark.parametrize(
    "content",
    [
        {("a.py", 1, "f"): (1, 1, "x", 0.1, {})},  # a string where a time goes
        {("a.py", "1", "f"): (1, 1, 0.1, 0.1, {})},  # a string line number
        {("a.py", 1, "f"): (1, 1, 0.1, 0.1, {"x": 1})},  # callers of the wrong shape
        {("a.py", 1, "f"): (1, 1, 0.1, 1e300, {})},  # a number too large
        [1, 2, 3],
    ],
)
def test_a_type_confused_prof_is_one_line(tmp_path, content):
    crafted = tmp_path / "crafted.prof"
    crafted.write_bytes(marshal.dumps(content))
    assert "not a .prof file" in one_line_error(
        linesman("import", str(tmp_path / "s.db"), str(crafted))
    )


def test_a_zlib_bomb_row_is_refused_quickly_in_show_and_the_ui(tmp_path, make_profiled):
    session = real_session()
    store = store_with(tmp_path, session)
    bomb = zlib.compress(b" " * (300 << 20), 9)
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE sessions SET document = ? WHERE uuid = ?", (bomb, session.uuid))
    err = one_line_error(linesman("show", str(store), session.uuid))
    assert "larger than" in err
    middleware = make_profiled(apps.hello_app, filename=str(store))
    page = ui_client(middleware).get(f"/__profiler__/profiles/{session.uuid}", status=410)
    assert "cannot be read" in page.text


@pytest.mark.parametrize(
    "document",
    [
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json
        b'{"schema": "linesman.session", "version": 2, "uuid": 1e999}',  # OverflowError-ish
        b"not json at all",
    ],
)
def test_show_on_a_damaged_row_is_one_line(tmp_path, document):
    session = real_session()
    store = store_with(tmp_path, session)
    with sqlite3.connect(store) as connection:
        connection.execute(
            "UPDATE sessions SET document = ? WHERE uuid = ?",
            (zlib.compress(document), session.uuid),
        )
    err = one_line_error(linesman("show", str(store), session.uuid))
    assert "cannot be read" in err or "cannot go on" in err


def deep_chain_session(depth: int = 5000) -> ProfilingSession:
    import cProfile

    source = "".join(f"def f{n}():\n    return f{n + 1}()\n" for n in range(depth))
    source += f"def f{depth}():\n    return 0\n"
    namespace: dict = {}
    exec(compile(source, "/srv/app/chain.py", "exec"), namespace)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 1000)
    try:
        profile = cProfile.Profile()
        profile.enable()
        namespace["f0"]()
        profile.disable()
    finally:
        sys.setrecursionlimit(limit)
    return ProfilingSession(profile.getstats(), {"PATH_INFO": "/deep"})


def test_a_5000_deep_call_chain_shows_and_exports(tmp_path, make_profiled):
    session = deep_chain_session()
    store = store_with(tmp_path, session)
    status, out, err = linesman("show", str(store), session.uuid, "--cutoff", "0")
    assert status == 0, err
    assert " f1500  app/chain.py:" in out  # deep in the chain, in the node budget
    status, out, err = linesman("export", str(store), session.uuid, "--format", "speedscope")
    assert status == 0, err
    assert '"f4999"' in out
    middleware = make_profiled(apps.hello_app, filename=str(store))
    client = ui_client(middleware)
    assert client.get(f"/__profiler__/profiles/{session.uuid}.speedscope.json").json
    assert client.get(f"/__profiler__/profiles/{session.uuid}?cutoff=0").status_int == 200


# -- the command line ----------------------------------------------------------------
def test_control_characters_in_paths_are_escaped_on_the_terminal(tmp_path):
    evil = real_session(path="/evil/\x1b[31mred\x1b]0;PWNED\x07")
    store = store_with(tmp_path, evil)
    for args in (("list", str(store)), ("show", str(store), evil.uuid)):
        status, out, err = linesman(*args)
        assert status == 0, err
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b[31mred" in out


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_prune_refuses_to_keep_nothing(tmp_path, keep):
    store = store_with(tmp_path, real_session(), real_session())
    err = one_line_error(linesman("prune", str(store), "--keep", keep))
    assert "at least 1" in err
    assert SqliteBackend(filename=str(store)).count() == 2


@pytest.mark.parametrize("value", ["nope", "", "0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11"])
def test_stopping_no_such_window_fails(tmp_path, value):
    store = store_with(tmp_path)
    one_line_error(linesman("capture", str(store), "--stop", value))


def test_compare_piped_into_head_says_nothing_of_a_broken_pipe(tmp_path):
    store = store_with(tmp_path, real_session(), real_session())
    uuids = [row["uuid"] for row in SqliteBackend(filename=str(store)).summaries()]
    result = subprocess.run(
        f"{sys.executable} -m linesman compare {store} {uuids[0]} {uuids[1]} --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "{" and "Broken pipe" not in result.stderr
    assert result.stderr == ""


def test_list_of_a_prof_file_points_to_view_and_import(tmp_path):
    target = tmp_path / "run.prof"
    import cProfile

    cProfile.run("sum(range(10))", str(target))
    err = one_line_error(linesman("list", str(target)))
    assert "linesman view" in err and "linesman import" in err


@pytest.mark.parametrize("ref", ["GET /items@yesterday", "GET /items@2026-01-02..2026-01-01"])
def test_a_bad_time_range_says_what_is_wrong(tmp_path, ref):
    store = store_with(tmp_path, real_session())
    err = one_line_error(linesman("compare", str(store), ref, "GET /items"))
    assert "FROM..TO" in err and "nothing stored" not in err


def test_exporting_prof_to_a_terminal_is_refused(tmp_path):
    import pty

    session = real_session()
    store = store_with(tmp_path, session)
    output = bytearray()

    def read(fd):
        data = os.read(fd, 1024)
        output.extend(data)
        return data

    status = pty.spawn(
        [sys.executable, "-m", "linesman", "export", str(store), session.uuid, "--format", "prof"],
        read,
    )
    assert os.waitstatus_to_exitcode(status) == 1
    assert b"-o FILE" in output and b"\x00" not in output


@pytest.mark.parametrize("command", ["list", "show", "export", "compare"])
def test_read_only_commands_never_change_a_store(tmp_path, command):
    crafted = tmp_path / "crafted.dat"
    crafted.write_bytes(b"\x80\x05garbage")
    session = real_session()
    store = store_with(tmp_path, session)
    before = {path.name: path.read_bytes() for path in (crafted, store)}
    extra = {
        "list": [],
        "show": [session.uuid],
        "export": [session.uuid, "--format", "json"],
        "compare": [session.uuid, session.uuid],
    }[command]
    status, _, err = linesman(command, str(crafted), *extra)
    assert status == 1 and "left untouched" in err
    linesman(command, str(store), *extra)
    assert {path.name: path.read_bytes() for path in (crafted, store)} == before
    assert sorted(
        path.name for path in tmp_path.iterdir() if not path.name.startswith("s.db-")
    ) == ["crafted.dat", "s.db"]


# -- the middleware and the model -------------------------------------------------------
def test_a_deleted_sqlite_file_is_noticed_and_reopened(make_profiled, tmp_path, caplog):
    store = tmp_path / "gone.db"
    middleware = make_profiled(apps.hello_app, filename=str(store))
    call(middleware, "/before")
    assert middleware.flush(10)
    store.unlink()
    call(middleware, "/after")
    assert middleware.flush(10)
    assert "deleted or replaced" in caplog.text
    assert [row["path"] for row in SqliteBackend(filename=str(store)).summaries()] == ["/after"]


def test_a_file_wrapper_response_records_what_was_sent(make_profiled, tmp_path):
    payload = tmp_path / "download.bin"
    payload.write_bytes(os.urandom(123_456))

    def download(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(payload, "rb"), 8192)

    middleware = make_profiled(download)
    outcome = call(middleware, "/files/download.bin")
    assert sum(map(len, outcome.chunks)) == 123_456
    assert middleware.flush(10)
    assert middleware.backend.get_all().popitem()[1].response_size == 123_456


def test_the_original_call_with_a_datetime_still_works():
    naive = datetime(2026, 11, 30, 12, 0, 0)
    session = ProfilingSession([], {"PATH_INFO": "/x"}, naive)
    assert session.timestamp is naive and session.started == naive.timestamp()
    aware = datetime.fromisoformat("2026-11-30T12:00:00+00:00")
    assert ProfilingSession([], {}, aware).started == aware.timestamp()


def test_export_of_a_non_latin1_path_names_the_file_in_rfc_6266_form(make_profiled):
    middleware = make_profiled(apps.hello_app)
    session = real_session(path="/日本")
    middleware.backend.add(session)
    answer = ui_client(middleware).get(f"/__profiler__/profiles/{session.uuid}.prof")
    disposition = answer.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition and "%E6%97%A5" in disposition
    assert disposition.isascii()


def test_error_pages_and_api_errors_do_not_repeat_the_input(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    marker = "ECHO-ME-4242"
    for url in (
        f"/__profiler__/compare?a=GET+/{marker}&b=GET+/{marker}",
        f"/__profiler__/api/compare?a=GET+/{marker}&b=GET+/x",
        f"/__profiler__/endpoints/merged?endpoint=GET+/{marker}&since={marker}",
        f"/__profiler__/compare?a=GET+/x@{marker}..&b=GET+/x",
    ):
        answer = client.get(url, expect_errors=True)
        assert 400 <= answer.status_int < 500, url
        assert marker not in answer.text, url


def test_url_prints_the_login_link_of_the_store(tmp_path):
    from linesman.signing import Signer

    store = store_with(tmp_path)
    status, out, err = linesman("url", str(store), "--base", "http://127.0.0.1:6543/")
    assert status == 0, err
    token = Signer(SqliteBackend(filename=str(store)).get_secret()).login_token
    assert out == f"http://127.0.0.1:6543/__profiler__/?token={token}\n"
    assert linesman("url", str(store), "--path", "/prof")[1] == f"/prof/?token={token}\n"
    one_line_error(linesman("url", str(store), "--base", "javascript:alert(1)"))
