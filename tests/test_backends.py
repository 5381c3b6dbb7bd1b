"""The backend contract, run against every backend linesman ships."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from support.backend_factories import FACTORIES, PERSISTENT
from support.sessions import real_session, sampled_session

from linesman.backends.base import Backend, SessionQuery
from linesman.model.capture import parse_capture


@pytest.fixture(params=sorted(FACTORIES), ids=sorted(FACTORIES))
def kind(request):
    return request.param


@pytest.fixture
def backend(kind, tmp_path):
    store = FACTORIES[kind](tmp_path)
    store.setup()
    yield store
    if hasattr(store, "drop_tables"):
        store.drop_tables()
    store.close()


def test_a_sampled_session_keeps_its_stacks(backend):
    session = sampled_session()
    assert session.kind == "sampled" and session.samples >= 5
    backend.add(session)
    loaded = backend.get(session.uuid)
    assert loaded.kind == "sampled"
    assert loaded.interval == session.interval
    assert loaded.stacks == session.stacks
    assert loaded.functions == session.functions
    assert loaded.to_dict() == session.to_dict()


def test_setup_twice_is_harmless(backend):
    backend.add(real_session())
    backend.setup()
    assert backend.count() == 1


def test_a_session_comes_back_with_every_figure_equal(backend):
    session = real_session(query="a=1")
    backend.add(session)
    loaded = backend.get(session.uuid)
    assert loaded is not None
    assert loaded.to_dict() == session.to_dict()
    assert loaded.functions == session.functions
    assert loaded.calls == session.calls
    assert loaded.graph.number_of_nodes() == session.graph.number_of_nodes()


@pytest.mark.parametrize(
    "unknown",
    ["0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11", "", "'; DROP TABLE sessions; --", "../../etc/passwd"],
)
def test_get_of_an_unknown_id_is_none(backend, unknown):
    backend.add(real_session())
    assert backend.get(unknown) is None
    assert backend.count() == 1


def test_get_all_is_ordered_oldest_first(backend):
    newer = real_session(timestamp=2000.0)
    older = real_session(timestamp=1000.0)
    newest = real_session(timestamp=3000.0)
    for session in (newer, older, newest):
        backend.add(session)
    everything = backend.get_all()
    assert list(everything) == [older.uuid, newer.uuid, newest.uuid]
    assert all(everything[s.uuid].to_dict() == s.to_dict() for s in (older, newer, newest))


def test_delete_answers_one_then_zero(backend):
    session = real_session()
    backend.add(session)
    assert backend.delete(session.uuid) == 1
    assert backend.delete(session.uuid) == 0
    assert backend.get(session.uuid) is None


def test_delete_many_counts_what_it_removed(backend):
    sessions = [real_session(timestamp=float(i)) for i in range(4)]
    for session in sessions:
        backend.add(session)
    removed = backend.delete_many(
        [sessions[0].uuid, sessions[2].uuid, "0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11"]
    )
    assert removed == 2
    assert list(backend.get_all()) == [sessions[1].uuid, sessions[3].uuid]
    assert backend.delete_many([]) == 0


def test_delete_all_counts_and_empties(backend):
    for i in range(3):
        backend.add(real_session(timestamp=float(i)))
    assert backend.delete_all() == 3
    assert backend.delete_all() == 0
    assert backend.get_all() == OrderedDict()
    assert backend.count() == 0


def test_adding_the_same_session_twice_keeps_one(backend):
    session = real_session()
    backend.add(session)
    backend.add(session)
    assert backend.count() == 1


def test_summaries_are_paged_newest_first(backend):
    sessions = [real_session(path=f"/p{i}", timestamp=float(i), status=200 + i) for i in range(5)]
    for session in sessions:
        backend.add(session)
    page = backend.list_summaries(offset=1, limit=2)
    assert [s["uuid"] for s in page] == [sessions[3].uuid, sessions[2].uuid]
    first = backend.list_summaries(limit=1)[0]
    assert first == {**sessions[4].summary()}
    oldest = backend.list_summaries(limit=1, query=SessionQuery(descending=False))[0]
    assert oldest["path"] == "/p0" and oldest["status"] == 200
    assert backend.count() == 5


def test_prune_keeps_the_newest(backend):
    sessions = [real_session(timestamp=float(i)) for i in range(6)]
    for session in sessions:
        backend.add(session)
    assert backend.prune(4) == 2
    assert list(backend.get_all()) == [s.uuid for s in sessions[2:]]
    assert backend.prune(10) == 0


def test_the_switch_starts_unset_and_remembers(backend):
    assert backend.get_enabled() is None
    backend.set_enabled(False)
    assert backend.get_enabled() is False
    backend.set_enabled(True)
    assert backend.get_enabled() is True


@pytest.mark.parametrize("kind", sorted(PERSISTENT))
def test_sessions_and_switch_survive_a_new_instance(kind, tmp_path):
    first = FACTORIES[kind](tmp_path)
    first.setup()
    session = real_session()
    first.add(session)
    first.set_enabled(False)
    first.close()
    second = FACTORIES[kind](tmp_path)
    second.setup()
    assert second.get(session.uuid).to_dict() == session.to_dict()
    assert second.get_enabled() is False
    second.close()


@pytest.mark.parametrize(
    "method, args",
    [
        ("setup", ()),
        ("add", (None,)),
        ("get", ("x",)),
        ("get_all", ()),
        ("delete", ("x",)),
        ("delete_many", (["x"],)),
        ("delete_all", ()),
    ],
)
def test_the_base_class_leaves_the_seven_to_subclasses(method, args):
    with pytest.raises(NotImplementedError):
        getattr(Backend(), method)(*args)


@pytest.fixture
def varied(backend):
    """Six sessions differing in path, method, status and duration."""
    rows = [
        ("/api/users", "GET", 200, 0.010),
        ("/api/orders", "POST", 201, 0.300),
        ("/static/site.css", "GET", 304, 0.001),
        ("/api/users/7", "DELETE", 500, 0.050),
        ("/100%_done", "GET", 200, 0.020),
        ("/1000_done", "GET", 404, 0.002),
    ]
    sessions = []
    for number, (path, method, status, duration) in enumerate(rows):
        session = real_session(
            path=path, method=method, status=status, timestamp=1000.0 + number
        ).replace(duration=duration)
        backend.add(session)
        sessions.append(session)
    return sessions


@pytest.mark.parametrize(
    "query, paths",
    [
        (SessionQuery(path_contains="api"), ["/api/users/7", "/api/orders", "/api/users"]),
        (SessionQuery(path_contains="API/USERS"), ["/api/users/7", "/api/users"]),
        (SessionQuery(path_contains="%_"), ["/100%_done"]),
        (SessionQuery(path_contains="0_d"), ["/1000_done"]),
        (SessionQuery(method="GET", status=200), ["/100%_done", "/api/users"]),
        (SessionQuery(min_duration=0.02), ["/100%_done", "/api/users/7", "/api/orders"]),
        (
            SessionQuery(sort="duration"),
            [
                "/api/orders",
                "/api/users/7",
                "/100%_done",
                "/api/users",
                "/1000_done",
                "/static/site.css",
            ],
        ),
        (
            SessionQuery(sort="path", descending=False),
            [
                "/100%_done",
                "/1000_done",
                "/api/orders",
                "/api/users",
                "/api/users/7",
                "/static/site.css",
            ],
        ),
        (
            SessionQuery(sort="status", descending=False, path_contains="api"),
            ["/api/users", "/api/orders", "/api/users/7"],
        ),
        (SessionQuery(path_contains="'; DROP TABLE sessions; --"), []),
    ],
)
def test_queries_filter_and_sort(backend, varied, query, paths):
    assert [s["path"] for s in backend.list_summaries(0, 50, query)] == paths
    assert backend.count(query) == len(paths)
    assert backend.count() == 6


def test_delete_matching_removes_only_what_the_filter_shows(backend, varied):
    assert backend.delete_matching(SessionQuery(path_contains="/api/")) == 3
    assert sorted(s["path"] for s in backend.list_summaries()) == [
        "/100%_done",
        "/1000_done",
        "/static/site.css",
    ]
    assert backend.delete_matching(SessionQuery()) == 3
    assert backend.count() == 0


def test_an_unknown_sort_is_refused():
    with pytest.raises(ValueError):
        SessionQuery(sort="document")


def test_add_many_stores_each_once(backend):
    sessions = [real_session(path=f"/m{i}", timestamp=float(i)) for i in range(3)]
    backend.add_many(sessions)
    backend.add_many(sessions[1:])
    assert [s.path for s in backend.get_all().values()] == ["/m0", "/m1", "/m2"]


def test_count_can_stop_early(backend, varied):
    assert backend.count(limit=4) == 4
    assert backend.count(limit=100) == 6
    assert backend.count(SessionQuery(path_contains="api"), limit=2) == 2
    assert backend.count(SessionQuery(path_contains="api"), limit=10) == 3


# -- capture windows --------------------------------------------------------------
def test_a_store_keeps_windows_and_counts_exactly(backend):
    armed = parse_capture({"requests": "2", "pattern": "^/items"})
    backend.start_capture(armed)
    assert [w.id for w in backend.open_captures()] == [armed.id]
    sessions = [real_session(timestamp=1000.0 + n) for n in range(3)]
    assert backend.add_captured(sessions[0], armed.id) is True
    assert backend.add_captured(sessions[0], armed.id) is True, "a retry is not counted twice"
    assert backend.add_captured(sessions[1], armed.id) is True
    assert backend.add_captured(sessions[2], armed.id) is False, "the window is full"
    assert backend.get(sessions[2].uuid) is None
    assert backend.open_captures() == []
    (stored,) = backend.captures()
    assert (stored.caught, stored.ended is not None) == (2, True)
    assert sorted(backend.captured_uuids(armed.id)) == sorted(s.uuid for s in sessions[:2])
    backend.add(real_session())  # not caught
    caught = SessionQuery(capture=armed.id)
    assert backend.count(caught) == 2
    assert {s["uuid"] for s in backend.list_summaries(0, 50, caught)} == {
        s.uuid for s in sessions[:2]
    }
    assert backend.count() == 3


def test_a_stopped_window_catches_nothing_more(backend):
    armed = parse_capture({"requests": "5"})
    backend.start_capture(armed)
    assert backend.stop_capture(armed.id) is True
    assert backend.stop_capture(armed.id) is False, "already ended"
    assert backend.stop_capture("no-such-window") is False
    assert backend.add_captured(real_session(), armed.id) is False
    assert backend.add_captured(real_session(), "no-such-window") is False
    assert backend.count() == 0 and backend.open_captures() == []
