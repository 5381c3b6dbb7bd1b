"""Every ``linesman`` command against a store the demo app wrote, run as users run it."""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import demo_ini, free_port, get, login_headers, running
from support.wsgi_client import call

from linesman.backends.pickle import PickleBackend
from linesman.backends.sqlite import SqliteBackend
from linesman.demo.app import DemoApp
from linesman.middleware import ProfilingMiddleware

ROUTES = ("/", "/template", "/json", "/slow", "/query", "/stream")


def linesman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "linesman", *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """A SQLite store written by the demo app behind linesman, one session per route."""
    store = tmp_path_factory.mktemp("commands") / "demo.db"
    middleware = ProfilingMiddleware(DemoApp(), filename=str(store))
    for route in ROUTES:
        call(middleware, route, validate=False)
        assert middleware.flush(10)
    middleware.close()
    return store


def uuids_of(store: Path) -> dict[str, str]:
    rows = json.loads(linesman("list", str(store), "--json").stdout)
    return {row["path"]: row["uuid"] for row in rows}


@pytest.mark.parametrize(
    "command", ["demo", "serve", "view", "list", "show", "export", "import", "compare", "prune"]
)
def test_every_command_has_help(command):
    result = linesman(command, "--help")
    assert result.stdout.startswith("usage: linesman " + command)


def test_list_shows_a_table_and_json(demo_store):
    table = linesman("list", str(demo_store)).stdout
    assert table.splitlines()[0].split()[:4] == ["when", "method", "status", "ms"]
    assert len(table.splitlines()) == len(ROUTES) + 1
    rows = json.loads(linesman("list", str(demo_store), "--json").stdout)
    assert sorted(row["path"] for row in rows) == sorted(ROUTES)
    slowest = json.loads(linesman("list", str(demo_store), "--json", "--slowest", "1").stdout)
    assert [row["path"] for row in slowest] == ["/slow"]
    only = json.loads(
        linesman("list", str(demo_store), "--json", "--path", "^/(json|query)$").stdout
    )
    assert sorted(row["path"] for row in only) == ["/json", "/query"]


def test_show_prints_the_tree_and_top_functions(demo_store):
    uuid = uuids_of(demo_store)["/slow"]
    output = linesman("show", str(demo_store), uuid, "--limit", "5", "--sort", "tottime").stdout
    assert output.startswith("GET /slow  status 200")
    tree = output.split("call tree")[1].split("top 5 functions")[0]
    assert re.search(r"^\s+\d+\.\d%\s+[\d.]+ ms\s+slow_lookup", tree, re.M)
    top = output.split("top 5 functions by tottime")[1].strip().splitlines()
    assert len(top) == 6 and "time.sleep" in top[1]


def test_show_says_files_short_and_whole_on_demand(demo_store):
    uuid = uuids_of(demo_store)["/slow"]
    short = linesman("show", str(demo_store), uuid, "--limit", "50").stdout
    full = linesman("show", str(demo_store), uuid, "--limit", "50", "--full-paths").stdout
    # From the wheel's site-packages, or (in a checkout) from above the app's folder.
    assert re.search(r"slow_lookup  [^/\s]\S*demo/app\.py:\d+$", short, re.M)
    assert re.search(r"  [^/\s]\S*demo/app\.py:\d+ slow_lookup$", short, re.M)
    assert not re.search(r" /\S+\.py:\d+", short), "an absolute path in show"
    assert re.search(r"slow_lookup  /\S+/demo/app\.py:\d+$", full, re.M)


@pytest.mark.parametrize(
    "kind, check",
    [
        ("prof", lambda path: pstats.Stats(str(path)).total_calls > 0),
        (
            "speedscope",
            lambda path: json.loads(path.read_text())["profiles"][0]["type"] == "evented",
        ),
        ("json", lambda path: json.loads(path.read_text())["path"] == "/slow"),
        ("dot", lambda path: path.read_text().startswith("digraph callgraph {")),
    ],
)
def test_export_writes_each_format(demo_store, tmp_path, kind, check):
    uuid = uuids_of(demo_store)["/slow"]
    target = tmp_path / f"out.{kind}"
    linesman("export", str(demo_store), uuid, "--format", kind, "-o", str(target))
    assert check(target)


def test_import_stores_a_prof_file_from_cprofile(tmp_path):
    target = tmp_path / "GET.api.orders.12ms.1700000000.prof"
    profile = cProfile.Profile()
    profile.enable()
    sorted(range(10000), key=lambda n: -n)
    profile.disable()
    profile.dump_stats(str(target))
    store = tmp_path / "imported.db"
    uuid = linesman("import", str(store), str(target)).stdout.strip()
    session = SqliteBackend(filename=str(store)).get(uuid)
    assert (session.method, session.path) == ("GET", "/api/orders")
    original = pstats.Stats(str(target))
    # The profiler's own disable() call, recorded in every such file, is not the app's.
    profiler_own = {
        label: figures
        for label, figures in original.stats.items()
        if label[0] == "~" and "_lsprof.Profiler" in label[2]
    }
    assert len(profiler_own) == 1
    assert sum(f.callcount for f in session.functions) == original.total_calls - 1
    back = tmp_path / "back.prof"
    linesman("export", str(store), uuid, "--format", "prof", "-o", str(back))
    assert pstats.Stats(str(back)).stats == {
        label: figures for label, figures in original.stats.items() if label not in profiler_own
    }


def test_import_refuses_what_is_not_a_profile(tmp_path):
    bogus = tmp_path / "notes.prof"
    bogus.write_text("hello")
    result = linesman("import", str(tmp_path / "s.db"), str(bogus), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("linesman import:")
    assert "not a .prof file" in result.stderr and len(result.stderr.splitlines()) == 1


def test_prune_keeps_the_newest_and_removes_the_old(tmp_path, demo_store):
    store = tmp_path / "copy.db"
    store.write_bytes(demo_store.read_bytes())
    for extra in ("-wal", "-shm"):
        if Path(f"{demo_store}{extra}").exists():
            Path(f"{store}{extra}").write_bytes(Path(f"{demo_store}{extra}").read_bytes())
    assert linesman("prune", str(store), "--keep", "2").stdout.startswith(
        f"{len(ROUTES) - 2} session(s) removed, 2 left"
    )
    assert linesman("prune", str(store), "--older-than", "0s").stdout.startswith(
        "2 session(s) removed, 0 left"
    )
    result = linesman("prune", str(store), check=False)
    assert result.returncode == 1 and "--keep N or --older-than" in result.stderr
    assert (
        "--older-than" in linesman("prune", str(store), "--older-than", "soon", check=False).stderr
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("list", "/nonexistent/s.db"), "no store at /nonexistent/s.db"),
        (("show", "{store}", "not-an-id"), "'not-an-id' is not a session id"),
        (("show", "{store}", "0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11"), "no session"),
        (("list", "{store}", "--path", "(unclosed"), "not a regular expression"),
        (("serve", "/nonexistent.ini"), "no ini file"),
    ],
)
def test_errors_are_one_line_and_a_failure_status(demo_store, args, message):
    args = tuple(arg.format(store=demo_store) for arg in args)
    result = linesman(*args, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_pickle_store_works_too(tmp_path):
    store = tmp_path / "sessions.dat"
    middleware = ProfilingMiddleware(
        DemoApp(), backend="linesman.backends.pickle:PickleBackend", filename=str(store)
    )
    call(middleware, "/json", validate=False)
    assert middleware.flush(10)
    middleware.close()
    rows = json.loads(linesman("list", str(store), "--json").stdout)
    assert [row["path"] for row in rows] == ["/json"]
    assert PickleBackend(str(store)).count() == 1


def test_progress_is_quiet_when_piped(tmp_path):
    files = []
    for number in range(3):
        target = tmp_path / f"p{number}.prof"
        profile = cProfile.Profile()
        profile.enable()
        sum(range(100))
        profile.disable()
        profile.dump_stats(str(target))
        files.append(str(target))
    result = linesman("import", str(tmp_path / "s.db"), *files)
    assert result.stderr == ""
    assert len(result.stdout.split()) == 3


@pytest.mark.server
def test_view_serves_the_ui_on_a_store_with_no_app(demo_store):
    port = free_port()
    with running(["-m", "linesman", "view", str(demo_store), "--port", str(port)], port):
        status, _, page = get(port, "/__profiler__/", headers=login_headers(demo_store))
        assert status == 200 and b"/slow" in page
        assert get(port, "/anything")[0] == 404
    assert SqliteBackend(filename=str(demo_store)).count() == len(ROUTES), "view stored nothing"


@pytest.mark.server
def test_view_opens_a_prof_file(tmp_path):
    target = tmp_path / "run.prof"
    cProfile.run("sorted(range(1000))", str(target))
    port = free_port()
    with running(["-m", "linesman", "view", str(target), "--port", str(port)], port) as process:
        link = process.stdout.readline().decode() + process.stdout.readline().decode()
        token = re.search(r"\?token=([\w-]+)", link).group(1)
        status, _, page = get(port, "/__profiler__/", headers={"X-Linesman-Token": token})
        # Named by the file, with no method or path it never had.
        assert status == 200 and b"run.prof" in page and b"/imported/" not in page
        assert b'<td class="method"></td>' in page and b'<td class="method">GET' not in page
        assert b"Turn off" not in page and b"capture-form" not in page  # read-only
        uuid = re.search(rb"/profiles/([0-9a-f-]{36})", page).group(1).decode()
        status, _, page = get(
            port, f"/__profiler__/profiles/{uuid}", headers={"X-Linesman-Token": token}
        )
        assert status == 200 and b"None" not in page and b"endpoint's median" not in page
        assert b"run.prof" in page and b"GET" not in page.split(b"</h1>")[0]


@pytest.mark.server
def test_serve_runs_an_ini(tmp_path):
    ini = demo_ini(tmp_path, tmp_path / "s.db")
    port = free_port()
    login = login_headers(tmp_path / "s.db")
    with running(["-m", "linesman", "serve", str(ini), "--port", str(port)], port):
        status, headers, _ = get(port, "/json", headers=login)
        assert status == 200 and "X-Linesman-Session" in headers


def test_progress_shows_a_bar_on_a_terminal(tmp_path):
    import pty

    files = []
    for number in range(3):
        target = tmp_path / f"t{number}.prof"
        cProfile.run("sum(range(100))", str(target))
        files.append(str(target))
    output = bytearray()

    def read(fd):
        data = os.read(fd, 1024)
        output.extend(data)
        return data

    argv = [sys.executable, "-m", "linesman", "import", str(tmp_path / "s.db"), *files]
    status = pty.spawn(argv, read)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "importing [" in text and "3/3" in text


@pytest.mark.server
@pytest.mark.parametrize("xdg", ["absolute", "relative", "unset"])
def test_the_demo_keeps_its_store_in_the_users_cache_folder(tmp_path, monkeypatch, xdg):
    import tempfile

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    expected = home / ".cache" / "linesman" / "demo.db"
    if xdg == "absolute":
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        expected = tmp_path / "cache" / "linesman" / "demo.db"
    elif xdg == "relative":  # the XDG spec: a relative one is ignored
        monkeypatch.setenv("XDG_CACHE_HOME", "cache")
    else:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    shared = Path(tempfile.gettempdir()) / "linesman-demo.db"
    shared_before = shared.stat().st_mtime_ns if shared.exists() else None
    port = free_port()
    with running(["-m", "linesman", "demo", "--port", str(port)], port) as process:
        assert get(port, "/")[0] == 200
        banner = b"".join(process.stdout.readline() for _ in range(4)).decode()
    assert f"sessions stored in {expected}" in banner, banner
    assert expected.is_file()
    assert expected.parent.stat().st_mode & 0o777 == 0o700, "only this user's"
    assert (shared.stat().st_mtime_ns if shared.exists() else None) == shared_before
    monkeypatch.setenv("COLUMNS", "1000")  # argparse would break the long path
    help_text = " ".join(linesman("demo", "--help").stdout.split())
    assert f"({expected}: yours, kept between runs)" in help_text, help_text
