"""The sampling engine and ``profiler = auto``: every request its own clean profile."""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import sys
import threading
import time

import pytest
from support import apps
from support.login import ui_client
from support.servers import free_port, get, running
from support.sessions import real_session, sampled_session

from linesman.analysis.compare import compare_sessions
from linesman.backends.sqlite import SqliteBackend
from linesman.config import ConfigError, parse_settings
from linesman.exporters.formats import from_pstats, read_prof, to_collapsed, to_prof, to_speedscope
from linesman.model.callgraph import profile_total
from linesman.model.merge import merge_sessions
from linesman.model.session import ProfilingSession
from linesman.model.tree import session_tree
from linesman.profiling.sampling import SampledProfile

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = 8
REQUESTS_EACH = 60
SLOW_EVERY = 10  # one request in ten is slow


def route_names(session) -> set[str]:
    return {f.name for f in session.functions if f.name.startswith(("fast_", "slow_"))}


def cpu_bound(seconds: float) -> int:
    end = time.thread_time() + seconds
    total = 0
    while time.thread_time() < end:
        total += sum(divmod(number, 7)[0] for number in range(100))
    return total


# -- the proof on a real threaded server ------------------------------------------------
@pytest.mark.server
def test_every_concurrent_request_gets_its_own_clean_profile(tmp_path):
    """waitress, 8 threads, 8 clients, 10% slow: with default settings every request
    is stored on every Python, none holds another request's function, and each slow
    one is mostly its own slow function."""
    store = str(tmp_path / "sessions.db")
    port = free_port()
    failures: list[str] = []
    slowest: list[float] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for request in range(REQUESTS_EACH):
            kind = "slow" if request % SLOW_EVERY == SLOW_EVERY - 1 else "fast"
            started = time.perf_counter()
            try:
                status, _, body = get(port, f"/{kind}/{number}")
            except OSError as exc:  # pragma: no cover - reported below
                status, body = 0, repr(exc).encode()
            with lock:
                slowest.append(time.perf_counter() - started)
                if status != 200 or body != f"/{kind}/{number}".encode():
                    failures.append(f"/{kind}/{number}: {status} {body[:80]!r}")

    script = os.path.join(HERE, "support", "slow_server.py")
    with running([script, str(port), store, "8"], port):
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        counts = json.loads(get(port, "/counts")[2])

    assert failures == []
    total = CLIENTS * REQUESTS_EACH
    slow_total = CLIENTS * (REQUESTS_EACH // SLOW_EVERY)
    backend = SqliteBackend(filename=store)
    sessions = list(backend.get_all().values())
    backend.close()
    slow = [s for s in sessions if s.path.startswith("/slow/")]
    assert len(sessions) >= 0.95 * total, counts
    assert len(slow) >= 0.95 * slow_total, counts
    expected_kind = "sampled" if sys.version_info >= (3, 12) else "deterministic"
    for session in sessions:
        _, kind, number = session.path.split("/")
        # Not cProfile where it would be one per process: that would drop most of them.
        assert session.kind == expected_kind, session
        assert route_names(session) == {f"{kind}_{number}"}, (
            f"{session.path} holds {route_names(session)}"
        )
    for session in slow:
        own = next(f for f in session.functions if f.name == session.path.replace("/", "_")[1:])
        assert own.totaltime >= 0.8 * profile_total(session), (
            f"{session.path}: {own.totaltime:.4f} of {profile_total(session):.4f}"
        )
        if session.kind == "sampled":
            assert session.samples >= 20, session.samples
    assert counts.get("stored", 0) == len(sessions)
    assert not any(name.startswith("skipped.") for name in counts), counts
    # No request waited on the profiler: the slowest is the work, not a stall.
    assert max(slowest) < 5.0


# -- the engine on its own -------------------------------------------------------------
def test_a_cpu_bound_40_ms_request_holds_at_least_20_samples(make_profiled):
    middleware = make_profiled(_app_running(cpu_bound, 0.040), profiler="sampling")
    response = ui_client(middleware).get("/busy")
    assert middleware.flush(10)
    session = middleware.backend.get(response.headers["X-Linesman-Session"].split(";")[0])
    assert session.kind == "sampled" and session.interval == 0.001
    assert session.samples >= 20
    busy = next(f for f in session.functions if f.name == "cpu_bound")
    assert busy.totaltime >= 0.8 * profile_total(session)
    assert session.stacks and all(
        stack.frames[0].endswith("<locals>.app)") for stack in session.stacks
    )


def _app_running(function, *args):
    def app(environ, start_response):
        function(*args)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    return app


def test_the_sampling_engine_records_only_its_own_thread():
    """Two threads sampled at once: each profile holds its own function only."""
    profiles = {}

    def first_function():
        return cpu_bound(0.03)

    def second_function():
        return cpu_bound(0.03)

    def run(name, function):
        profile = SampledProfile(0.0005)
        profile.call(function)
        profiles[name] = profile

    threads = [
        threading.Thread(target=run, args=("first", first_function)),
        threading.Thread(target=run, args=("second", second_function)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, profile in profiles.items():
        codes = {code.co_name for codes, _ in profile.stacks for code in codes}
        assert f"{name}_function" in codes
        assert {"first_function", "second_function"} - codes == {
            "second_function" if name == "first" else "first_function"
        }
        assert "run" not in codes and "call" not in codes, "linesman's frames are cut off"


def test_the_stacks_start_at_the_app_and_add_up_to_the_wall_time():
    profile = SampledProfile(0.0005)
    started = time.perf_counter()
    profile.call(apps.spin, 0.02)
    elapsed = time.perf_counter() - started
    total = sum(seconds for _, seconds in profile.stacks.values())
    assert 0.9 * elapsed <= total <= elapsed
    for codes, _ in profile.stacks:
        assert codes[-1].co_name == "spin"  # the entry, last from the leaf


def test_linesmans_clock_reads_never_appear_in_a_profile(make_profiled):
    """The CPU clock is read outside the profiler, for both engines."""
    for engine in ("cprofile", "sampling"):
        middleware = make_profiled(
            _app_running(apps.spin, 0.01),
            profiler=engine,
            filename=f"/tmp/linesman-clock-{os.getpid()}-{engine}.db",
        )
        try:
            uuid = ui_client(middleware).get("/").headers["X-Linesman-Session"].split(";")[0]
            assert middleware.flush(10)
            session = middleware.backend.get(uuid)
            assert session.cpu_time > 0
            assert not [f.name for f in session.functions if "thread_time" in f.name]
        finally:
            os.unlink(f"/tmp/linesman-clock-{os.getpid()}-{engine}.db")


def test_another_tools_hook_on_the_thread_is_left_alone():
    profile = SampledProfile()
    seen = []

    def tracer(frame, event, arg):
        seen.append(event)

    sys.setprofile(tracer)
    try:
        assert profile.call(apps.spin, 0.001) is None
        assert sys.getprofile() is tracer
    finally:
        sys.setprofile(None)
    assert profile.lost == "profiler_unavailable" and seen


# -- choosing the engine -----------------------------------------------------------
@pytest.mark.parametrize("multithread", [True, False])
def test_auto_samples_exactly_where_cprofile_cannot_be_the_requests_own(make_profiled, multithread):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware, **{"wsgi.multithread": multithread})
    uuid = client.get("/").headers["X-Linesman-Session"].split(";")[0]
    assert middleware.flush(10)
    session = middleware.backend.get(uuid)
    sampled = sys.version_info >= (3, 12) and multithread
    assert session.kind == ("sampled" if sampled else "deterministic")


def test_the_engine_options_are_checked_at_start_up():
    assert parse_settings({}).profiler == "auto"
    assert parse_settings({}).sample_interval == 0.001
    assert (
        parse_settings({"profiler": "Sampling", "sample_interval": "5ms"}).sample_interval == 0.005
    )
    with pytest.raises(ConfigError, match="profiler = 'yappi'"):
        parse_settings({"profiler": "yappi"})
    for wrong in ("0", "2s", "soon"):
        with pytest.raises(ConfigError, match="sample_interval"):
            parse_settings({"sample_interval": wrong})


# -- the model and its views -----------------------------------------------------------
def test_rows_and_pairs_are_derived_from_the_stacks():
    session = sampled_session()
    by_name = {f.name: f for f in session.functions}
    handle = by_name["handle"]
    # handle is the entry of every stack: it covers all the time and every sample.
    assert handle.totaltime == pytest.approx(profile_total(session))
    assert handle.callcount == session.samples
    assert sum(f.inlinetime for f in session.functions) == pytest.approx(profile_total(session))
    assert session.graph.has_edge(handle.key, by_name["spin"].key)


def test_a_version_1_document_still_loads():
    session = real_session()
    document = session.to_dict()
    document["version"] = 1
    for key in ("kind", "interval", "stacks"):
        document.pop(key)
    loaded = ProfilingSession.from_dict(document)
    assert loaded.kind == "deterministic" and loaded.functions == session.functions
    assert loaded.calls == session.calls


def test_the_sampled_tree_is_the_stacks_themselves():
    session = sampled_session()
    tree = session_tree(session)
    assert [root.key for root in tree] == [f.key for f in session.functions if f.name == "handle"]
    assert tree[0].time == pytest.approx(profile_total(session))
    assert tree[0].calls == session.samples
    # Every path in the tree is a prefix of a stack that was seen.
    prefixes = {
        stack.frames[:depth]
        for stack in session.stacks
        for depth in range(1, len(stack.frames) + 1)
    }
    todo = [(root, (root.key,)) for root in tree]
    while todo:
        node, path = todo.pop()
        assert path in prefixes
        todo.extend((child, path + (child.key,)) for child in node.children)


def test_sampled_exports_other_tools_read(tmp_path):
    session = sampled_session()
    prof = tmp_path / "sampled.prof"
    prof.write_bytes(to_prof(session))
    stats = pstats.Stats(str(prof))
    handle = next(figures for label, figures in stats.stats.items() if label[2] == "handle")
    assert handle[1] == session.samples  # calls are the samples
    document = to_speedscope(session)
    profile = document["profiles"][0]
    assert profile["type"] == "sampled"
    assert len(profile["samples"]) == len(profile["weights"]) == len(session.stacks)
    assert sum(profile["weights"]) == pytest.approx(profile_total(session))
    lines = to_collapsed(session).splitlines()
    assert lines and all(line.startswith("handle (") for line in lines)
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines) == pytest.approx(
        profile_total(session) * 1e6, abs=len(lines)
    )


def test_collapsed_stacks_of_a_cprofile_session_add_up_to_its_time():
    session = real_session()
    lines = to_collapsed(session).splitlines()
    assert any(line.startswith("handle (") and ";spin (" in line for line in lines)
    weights = [int(line.rsplit(" ", 1)[1]) for line in lines]
    assert sum(weights) == pytest.approx(profile_total(session) * 1e6, rel=0.01)


def test_sampled_sessions_merge_by_adding_their_stacks():
    first, second = sampled_session(), sampled_session()
    merged = merge_sessions([first, second], "GET", "/items")
    assert merged.kind == "sampled"
    assert merged.samples == first.samples + second.samples
    assert profile_total(merged) == pytest.approx(profile_total(first) + profile_total(second))


def test_a_cprofile_session_and_a_sampled_one_compare_by_time_shares():
    report = compare_sessions(real_session(), sampled_session())
    assert report["basis"] == "share"
    assert report["kinds"] == ["deterministic", "sampled"]
    handle = next(row for row in report["functions"] if row["name"] == "handle")
    assert handle["cumtime_before"] == pytest.approx(1.0)  # the entry: all of each side
    assert handle["cumtime_after"] == pytest.approx(1.0)
    assert handle["calls_before"] is None
    assert compare_sessions(real_session(), real_session())["basis"] == "time"


# -- trees from cProfile's pairs ---------------------------------------------------------
def test_a_cprofile_o_file_has_a_tree_with_the_scripts_functions_on_top(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import json\n\n\ndef crunch():\n    return sum(json.loads(json.dumps("
        "list(range(20000)))))\n\n\ndef main():\n    for _ in range(5):\n"
        "        crunch()\n\n\nmain()\n"
    )
    target = tmp_path / "x.prof"
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(target), str(script)], check=True, cwd=tmp_path
    )
    session = from_pstats(read_prof(target.read_bytes()))
    names = {f.name for f in session.functions}
    assert not any("_lsprof.Profiler" in name for name in names)
    tree = session_tree(session)
    assert tree and tree[0].time >= 0.9 * profile_total(session)
    # The script's own functions within the first three levels, with most of the time.
    near_top = {}
    todo = [(root, 0) for root in tree]
    while todo:
        node, depth = todo.pop()
        near_top.setdefault(session.graph.nodes[node.key]["name"], node.time)
        if depth < 3:
            todo.extend((child, depth + 1) for child in node.children)
    assert "<module>" in near_top and "main" in near_top
    assert near_top["main"] >= 0.5 * profile_total(session)


def test_the_response_header_link_says_why_a_profile_was_not_kept(make_profiled):
    middleware = make_profiled(apps.hello_app, min_duration="1s")
    client = ui_client(middleware)
    link = client.get("/").headers["X-Linesman-Session"].split("url=")[1]
    page = client.get(link, status=404)
    assert "not kept" in page.text and "min_duration" in page.text
    unknown = client.get("/__profiler__/profiles/00000000-0000-4000-8000-000000000000", status=404)
    assert "may have been dropped" in unknown.text


# -- a real Django admin page -----------------------------------------------------------
def django_admin_session(tmp_path, profiler: str) -> ProfilingSession:
    store = tmp_path / f"{profiler}.db"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "support", "django_admin_profile.py"),
            str(store),
            profiler,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=HERE,
        env=dict(os.environ, PYTHONPATH=HERE),
    )
    assert result.returncode == 0, result.stderr
    backend = SqliteBackend(filename=str(store))
    try:
        return backend.get(result.stdout.strip())
    finally:
        backend.close()


@pytest.fixture(scope="module")
def django_admin():
    """The Django admin page's session for an engine, profiled once for the module:
    the tests only read it (a session is frozen), and each costs a Django start-up."""
    made: dict[str, ProfilingSession] = {}

    def session_of(profiler: str, folder) -> ProfilingSession:
        if profiler not in made:
            made[profiler] = django_admin_session(folder, profiler)
        return made[profiler]

    return session_of


def tree_nodes(tree):
    todo = list(tree)
    while todo:
        node = todo.pop()
        yield node
        todo.extend(node.children)


@pytest.mark.parametrize("profiler", ["cprofile", "sampling"])
def test_the_django_admin_tree_shows_get_response_at_its_real_width(
    django_admin, tmp_path, profiler
):
    """Django's middleware chain re-enters ``inner``: the tree (and the flame graph
    drawn from it) must still give ``BaseHandler._get_response`` its real time."""
    session = django_admin(profiler, tmp_path)
    assert session.kind == ("sampled" if profiler == "sampling" else "deterministic")
    total = profile_total(session)
    response = next(f for f in session.functions if f.name == "BaseHandler._get_response")
    assert response.totaltime >= 0.5 * total  # the view's work is most of the request
    nodes = [node for node in tree_nodes(session_tree(session)) if node.key == response.key]
    widest = max(node.time for node in nodes)
    # Before the fix it was missing or a sliver. The estimate's share moves with
    # cProfile's timing of Django's re-entered ``inner`` from run to run (0.76 to
    # 0.96 over seven runs, the low one on a busy machine).
    assert widest >= 0.7 * response.totaltime, (widest, response.totaltime)
    # No node is wider than its parent: nothing squeezes its siblings out of the box.
    for node in tree_nodes(session_tree(session)):
        assert sum(child.time for child in node.children) <= node.time * 1.0001 + 1e-9


@pytest.mark.parametrize("engine", ["cprofile", "sampling"])
def test_linesmans_start_response_never_appears_in_a_profile(make_profiled, engine):
    """The app calls linesman's start_response; its callers call the server's instead."""

    def app(environ, start_response):
        apps.spin(0.003)
        start_response("200 OK", [("Content-Type", "text/plain")])
        apps.spin(0.003)
        return [b"ok"]

    middleware = make_profiled(app, profiler=engine, sample_interval="0.1ms")
    uuid = ui_client(middleware).get("/").headers["X-Linesman-Session"].split(";")[0]
    assert middleware.flush(10)
    session = middleware.backend.get(uuid)
    names = {f.name for f in session.functions}
    assert "ProfiledRequest.start_response" not in names
    assert not any("linesman" in f.file for f in session.functions)
    if engine == "cprofile":  # exact: the server's start_response, called by the app
        server = next(
            f for f in session.functions if f.name.rsplit(".", 1)[-1].startswith("start_response")
        )
        app_key = next(f.key for f in session.functions if f.name.endswith("<locals>.app"))
        assert session.graph.has_edge(app_key, server.key)


def test_the_django_admin_page_groups_its_own_time_by_package(django_admin, tmp_path):
    """Without chart_packages the chart groups by where each file lives: Django's
    admin page is mostly django, the standard library and the built-ins, and
    its largest slice is never "other"."""
    from linesman.web.figures import package_chart

    session = django_admin("cprofile", tmp_path)
    chart = package_chart(session, ())
    names = [slice_["name"] for slice_ in chart]
    assert names[0] != "other" and "other" not in names, names
    assert "django" in names and "standard library" in names and "built-ins" in names
    assert sum(slice_["share"] for slice_ in chart) == pytest.approx(1.0)
