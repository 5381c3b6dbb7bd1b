"""Profiles held against ground truth, on real servers, with default settings.

The app (support/truth_app.py) times its own functions around each request and
answers with the truth: the wall and CPU time of ``part_a`` and ``part_b`` (a
70/30 CPU split), a function made for that request alone and called exactly
``TICKS`` times, and a 20 ms ``time.sleep`` with its share of the request.
Under waitress, gunicorn sync and gunicorn gthread, one client and then 8 at
once, every request must be stored, and each stored profile must agree with
its own request's truth: the split within 5 points, cProfile's call counts
exact, the wait at its share, and nothing in it of another request or thread
(another request's ``tick_`` function, linesman's writer, the server's loop).

The shares are compared with the request's wall time, not its CPU time: both
engines measure wall time (a thread waiting for the GIL inside ``part_a`` is in
``part_a``), and under 8 clients on 2 cores the two differ.
"""

from __future__ import annotations

import json
import os
import threading

import pytest
from support import truth_app
from support.servers import HERE, free_port, get, running
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend
from linesman.model.rows import is_thread_entry

SERVER = os.path.join(HERE, "support", "truth_app.py")
SHARE_POINTS = 0.05  # a profile's 70/30 split, and a sampled wait's share, against the truth
WALK_LOSS = 0.002  # seconds a sampled profile may fall short of the app's time (see WalkLoss)
CLOCK_SLACK = 0.0005  # seconds: the app's clock readings against the profiler's
SLEEP = "<built-in method time.sleep>"
# Files whose functions run only on a thread other than the request's: the server's
# loop, linesman's writer and its store.
FOREIGN_FILES = (
    "linesman/storage/", "linesman/backends/", "waitress/server.py", "waitress/wasyncore.py",
    "waitress/channel.py", "gunicorn/workers/", "gunicorn/arbiter.py", "selectors.py",
    "concurrent/futures/", "sqlite3",
)  # fmt: skip
FOREIGN_BUILTINS = ("poll", "select", "epoll", "accept", "recv", "send", "execute", "commit")


def waitress_server(port: int) -> tuple[list[str], dict[str, str]]:
    return [SERVER, "{store}", str(port)], {}


def gunicorn_server(kind: str, *extra: str):
    def command(port: int) -> tuple[list[str], dict[str, str]]:
        return [
            "-m", "gunicorn", "support.truth_app:application", "--worker-class", kind,
            *extra, "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ], {"LINESMAN_TEST_STORE": "{store}"}  # fmt: skip

    return command


SERVERS = {
    "waitress": waitress_server,
    "gunicorn-sync": gunicorn_server("sync", "--workers", "2"),
    "gunicorn-gthread": gunicorn_server("gthread", "--workers", "1", "--threads", "4"),
}
LOADS = {"alone": (1, 12), "8-clients": (8, 5)}  # clients, requests each


def make_requests(port: int, clients: int, each: int) -> dict[str, dict]:
    """Every client's requests, each to a path of its own; the truth by path."""
    truths: dict[str, dict] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for request in range(each):
            path = f"/truth/c{number}_r{request}"
            status, _, body = get(port, path)
            with lock:
                if status == 200:
                    truths[path] = json.loads(body)
                else:
                    failures.append(f"{path}: {status}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    return truths


def function(session, name: str):
    found = [f for f in session.functions if f.name == name]
    assert len(found) <= 1, (session.path, name, found)
    return found[0] if found else None


def foreign_functions(session, truth: dict) -> list[str]:
    """The functions in ``session`` that are another request's or another thread's."""
    foreign = []
    for f in session.functions:
        if f.name.startswith(("tick_", "request_")) and f.name not in (truth["tick"], truth["own"]):
            foreign.append(f.key)  # another request's own function
        elif is_thread_entry(f) or any(part in f.file for part in FOREIGN_FILES):
            foreign.append(f.key)
        elif f.file == "~" and any(f"{word}" in f.name for word in FOREIGN_BUILTINS):
            foreign.append(f.key)
    return foreign


class WalkLoss(AssertionError):
    """A sampled share off the truth in a profile that is short of the app's own
    time: the sampler once charged the wall time of its own stack walks to no
    stack, a wait for the GIL during a walk included (23-32 ms of a 200 ms
    request under 4 threads). Told apart from other misses in the report."""


def walk_loss(session, truth: dict) -> float:
    """Seconds of the app's own time the sampled profile of ``work`` is short."""
    app = function(session, "work")
    return truth["app_wall"] - app.totaltime if app is not None else 0.0


def near(session, truth: dict, what: str, ok: bool, figures: tuple) -> None:
    if ok:
        return
    where = f"{session.path} ({session.kind}): {what}"
    short = walk_loss(session, truth)
    if session.kind == "sampled" and short > WALK_LOSS:
        raise WalkLoss(f"{where} {figures}, profile {short * 1000:.1f} ms short of the app's")
    raise AssertionError(where, figures, truth)


def check_session(session, truth: dict) -> dict[str, float]:
    """Assert ``session`` agrees with its request's ``truth``; the deviations."""
    where = f"{session.path} ({session.kind})"
    assert foreign_functions(session, truth) == [], where
    a, b = function(session, "part_a"), function(session, "part_b")
    assert a is not None and b is not None, where
    sleep, app = function(session, SLEEP), function(session, "work")
    assert sleep is not None and app is not None, where
    own = function(session, truth["own"])
    assert own is not None, where
    if session.kind == "sampled":  # every stack of the app's work is this request's
        keys = {f.key for f in session.functions if f.name in ("work", "part_a", "part_b")}
        for stack in session.stacks:
            if keys & set(stack.frames):
                assert own.key in stack.frames, (where, stack)
    if session.kind == "deterministic":
        tick = function(session, truth["tick"])
        assert tick is not None and tick.callcount == truth_app.TICKS, (where, tick)
        for name in ("part_a", "part_b", "work", truth["own"], SLEEP):
            assert function(session, name).callcount == 1, (where, name)
        assert function(session, "burn").callcount == 2, where
    true_share = truth["a_wall"] / (truth["a_wall"] + truth["b_wall"])
    share = a.totaltime / (a.totaltime + b.totaltime)
    near(
        session, truth, "70/30 split", abs(share - true_share) <= SHARE_POINTS, (share, true_share)
    )
    deviations = {"split": abs(share - true_share)}
    if session.kind == "deterministic":
        # At least the 20 ms asked for, at most what the app saw around the call.
        low, high = truth_app.WAIT - CLOCK_SLACK, truth["sleep_wall"] + CLOCK_SLACK
        assert low <= sleep.totaltime <= high, (where, sleep.totaltime, truth["sleep_wall"])
        deviations["sleep_ms_over_20"] = (sleep.totaltime - truth_app.WAIT) * 1000
    else:
        assert session.kind == "sampled", where
        # The wait's share: between the 20 ms asked for and what the app saw
        # around the call (which holds any wait for the GIL after it), each of
        # the app's whole time.
        low = truth_app.WAIT / truth["app_wall"] - SHARE_POINTS
        high = truth["sleep_wall"] / truth["app_wall"] + SHARE_POINTS
        share = sleep.totaltime / app.totaltime
        near(session, truth, "wait's share", low <= share <= high, (share, low, high))
        deviations["sleep_share"] = abs(share - truth["sleep_wall"] / truth["app_wall"])
    return deviations


@pytest.mark.server
@pytest.mark.parametrize("load", LOADS)
@pytest.mark.parametrize("server", SERVERS)
def test_profiles_hold_their_own_requests_truth(tmp_path, monkeypatch, server, load):
    store = tmp_path / "sessions.db"
    port = free_port()
    args, env = SERVERS[server](port)
    args = [arg.replace("{store}", str(store)) for arg in args]
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("{store}", str(store)))
    clients, each = LOADS[load]
    backend = SqliteBackend(filename=str(store))
    try:
        with running(args, port):
            truths = make_requests(port, clients, each)
            wait_for(
                lambda: backend.count() >= len(truths), timeout=60, what="every request stored"
            )
        sessions = list(backend.get_all().values())
        counters = backend.read_counters()
    finally:
        backend.close()
    assert len(truths) == clients * each
    # Every request stored, once each.
    assert sorted(s.path for s in sessions) == sorted(truths)
    assert not {name for name in counters if name.startswith("skipped.")}, counters
    for truth in truths.values():  # the app did what it claims (its CPU split)
        # Roughly 70/30 (each session is held to its own request's measured split
        # below; under 8 clients the thread clock's share itself wanders a little).
        assert abs(truth["a_cpu"] / (truth["a_cpu"] + truth["b_cpu"]) - 0.7) < 0.1, truth
    worst: dict[str, float] = {}
    kinds: dict[str, int] = {}
    walk_losses: list[str] = []
    for session in sessions:
        kinds[session.kind] = kinds.get(session.kind, 0) + 1
        try:
            deviations = check_session(session, truths[session.path])
        except WalkLoss as loss:
            walk_losses.append(str(loss))
            continue
        for name, value in deviations.items():
            worst[name] = max(worst.get(name, 0.0), value)
    print(f"\n{server} {load}: {len(sessions)} sessions {kinds}, worst {worst}")
    assert walk_losses == [], f"{len(walk_losses)} of {len(sessions)} sampled sessions"


def test_the_checks_see_another_requests_function_and_a_lost_count():
    """The checks themselves: a profile holding another request's function, or a
    count off by one, does not pass."""
    from linesman.model.rows import FunctionStats
    from linesman.model.session import ProfilingSession

    truth = truth_app.truth_app("own")
    here = truth_app.__file__

    def session(tick: str, ticks: int) -> ProfilingSession:
        rows = [
            FunctionStats(f"<request {tick}>", 1, f"request_{tick}", 1, 0, 0.0, truth["app_wall"]),
            FunctionStats(here, 1, "work", 1, 0, 0.0, truth["app_wall"]),
            FunctionStats(here, 2, "part_a", 1, 0, 0.0, truth["a_wall"]),
            FunctionStats(here, 3, "part_b", 1, 0, 0.0, truth["b_wall"]),
            FunctionStats(here, 4, "burn", 2, 0, 0.0, truth["a_wall"] + truth["b_wall"]),
            FunctionStats("~", 0, SLEEP, 1, 0, truth["sleep_wall"], truth["sleep_wall"]),
            FunctionStats(f"<request {tick}>", 1, f"tick_{tick}", ticks, 0, 1e-6, 1e-6),
        ]
        return ProfilingSession.from_rows(functions=rows, calls=[], path="/truth/own")

    check_session(session("own", truth_app.TICKS), truth)
    with pytest.raises(AssertionError):
        check_session(session("own", truth_app.TICKS - 1), truth)
    foreign = session("own", truth_app.TICKS)
    foreign = foreign.replace(
        functions=[
            *foreign.functions,
            FunctionStats("<request c1_r0>", 1, "tick_c1_r0", 37, 0, 0, 0),
        ]
    )
    with pytest.raises(AssertionError):
        check_session(foreign, truth)
