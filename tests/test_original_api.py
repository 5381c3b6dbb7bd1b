"""The original linesman's documented API, whole: every public name of the
modules it documented (``linesman``, ``linesman.middleware`` and
``linesman.backends.base``, ``.pickle``, ``.sqlite``) imported and used as a
user of the original would, so that no later move can drop one again."""

from __future__ import annotations

import cProfile
import os
import pickle
import shutil
import textwrap
import time
from collections import OrderedDict
from datetime import datetime

import networkx as nx
import pytest
from paste.deploy import loadapp
from support import apps
from support.login import token_environ
from support.original_backend import OriginalStyleBackend
from support.require import require
from support.wsgi_client import call

import linesman
import linesman.backends.base
import linesman.backends.pickle
import linesman.backends.sqlite
import linesman.middleware
from linesman.backends import create_backend
from linesman.config import ConfigError

# What the original documented, module by module (its Sphinx automodule pages).
ORIGINAL_NAMES = {
    linesman: ["ProfilingSession", "create_graph", "draw_graph"],
    linesman.middleware: [
        "ProfilingMiddleware",
        "make_linesman_middleware",
        "profiler_filter_factory",
        "profiler_filter_app_factory",
        "prepare_graph",
        "time_per_field",
        "GRAPH_DIR",
        "MEDIA_DIR",
        "TEMPLATES_DIR",
        "ENABLED_FLAG_FILE",
        "CUTOFF_TIME_UNITS",
    ],
    linesman.backends.base: ["Backend"],
    linesman.backends.pickle: ["PickleBackend"],
    linesman.backends.sqlite: ["SqliteBackend"],
}
SEVEN = ["setup", "add", "delete", "delete_all", "get", "get_all"]  # and __init__


def work():
    return sorted(str(number) for number in range(300))


def profiled_stats():
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    return profile.getstats()


@pytest.mark.parametrize(
    "module, name", [(m, n) for m, names in ORIGINAL_NAMES.items() for n in names]
)
def test_every_documented_name_is_importable_and_public(module, name):
    assert hasattr(module, name)
    assert name in module.__all__


def test_the_middleware_constants_say_what_the_original_said():
    assert linesman.middleware.CUTOFF_TIME_UNITS == 1e9
    assert linesman.middleware.ENABLED_FLAG_FILE == "linesman-enabled"
    assert os.path.basename(linesman.middleware.GRAPH_DIR) == "linesman-graph"
    assert os.path.isfile(os.path.join(linesman.middleware.MEDIA_DIR, "linesman.css"))
    assert os.path.isfile(os.path.join(linesman.middleware.TEMPLATES_DIR, "base.mako"))


# -- linesman ------------------------------------------------------------------------
def test_a_session_keeps_its_timestamp_as_given_in_any_format():
    stats = profiled_stats()
    moment = datetime(2026, 11, 30, 12, 0, 0)
    session = linesman.ProfilingSession(stats, {"PATH_INFO": "/orders"}, moment)
    assert session.timestamp is moment
    assert session.started == time.mktime(moment.timetuple())
    assert session.path == "/orders" and session.duration > 0
    assert len(session.uuid) == 36
    own = object()  # "any format": kept, never refused
    assert linesman.ProfilingSession(stats, {}, own).timestamp is own
    assert linesman.ProfilingSession(stats, {}, "yesterday").timestamp == "yesterday"
    assert linesman.ProfilingSession(stats).timestamp is None


def test_create_graph_gives_the_original_attributes():
    graph = linesman.create_graph(profiled_stats())
    assert isinstance(graph, nx.DiGraph)
    (key,) = [node for node in graph if node.endswith("(work)")]
    node = graph.nodes[key]
    assert {"callcount", "inlinetime", "reccallcount", "totaltime"} <= set(node)
    assert node["callcount"] == 1
    caller, callee, edge = next(iter(graph.out_edges(key, data=True)))
    assert edge["weight"] == edge["label"] == edge["totaltime"]
    assert {"callcount", "inlinetime", "reccallcount"} <= set(edge)


@pytest.mark.parametrize("extension, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_draw_graph_renders_to_the_files_format(tmp_path, extension, magic):
    require(shutil.which("dot") is not None, "Graphviz's dot (Debian package graphviz)")
    output = tmp_path / f"graph.{extension}"
    linesman.draw_graph(linesman.create_graph(profiled_stats()), str(output))
    assert output.read_bytes().startswith(magic)


# -- linesman.middleware ---------------------------------------------------------------
def test_prepare_graph_cuts_breaks_cycles_and_finds_roots():
    graph = nx.DiGraph()
    graph.add_edges_from([("a", "b"), ("b", "c"), ("c", "a"), ("a", "tiny")])
    for node, seconds in {"a": 1.0, "b": 0.5, "c": 0.4, "tiny": 1e-6}.items():
        graph.nodes[node]["totaltime"] = seconds
    cutoff = int(0.01 * linesman.middleware.CUTOFF_TIME_UNITS)  # 10 ms
    shown, roots, removed = linesman.middleware.prepare_graph(graph, cutoff, True)
    assert "tiny" not in shown and "tiny" in graph  # a copy is cut, never the source
    assert removed == [("c", "a")] and nx.is_directed_acyclic_graph(shown)
    assert roots == ["a"]
    assert shown.nodes["a"]["style"] == "filled"


def test_time_per_field_splits_own_time_by_package():
    graph = nx.DiGraph()
    graph.add_node("app.views.index", inlinetime=0.25)
    graph.add_node("json.dumps", inlinetime=0.5)
    graph.add_node("helper", inlinetime=0.125)
    graph.add_edges_from([("app.views.index", "json.dumps"), ("app.views.index", "helper")])
    values = linesman.middleware.time_per_field(graph, ["app.views.index"], ["app", "json"])
    assert values == {"app": 0.375, "json": 0.5, "Other": 0.0}
    assert linesman.middleware.time_per_field(graph, ["app.views.index"], []) is None


def test_the_middleware_takes_the_original_arguments(tmp_path):
    store = str(tmp_path / "s.db")
    middleware = linesman.middleware.ProfilingMiddleware(
        apps.hello_app,
        profiler_path="/__profiler__",
        backend="linesman.backends.sqlite:SqliteBackend",
        chart_packages="json",
        filename=store,
    )
    assert call(middleware, "/hello", **token_environ(middleware)).chunks == [b"hello"]
    assert middleware.flush(10)
    assert [s.path for s in middleware._backend.get_all().values()] == ["/hello"]
    middleware.close()
    wrapped = linesman.middleware.make_linesman_middleware(apps.hello_app, filename=store)
    assert isinstance(wrapped, linesman.middleware.ProfilingMiddleware)
    wrapped.close()


def test_the_factories_work_when_called_directly(tmp_path):
    store = str(tmp_path / "s.db")
    make = linesman.middleware.profiler_filter_factory({}, filename=store)
    filtered = make(apps.hello_app)
    filter_app = linesman.middleware.profiler_filter_app_factory(apps.hello_app, {}, filename=store)
    for middleware in (filtered, filter_app):
        assert isinstance(middleware, linesman.middleware.ProfilingMiddleware)
        assert call(middleware, "/x", **token_environ(middleware)).chunks == [b"hello"]
        middleware.close()


@pytest.mark.parametrize(
    "sections",
    [
        # The original's documented filter: the factory named by its module path.
        """
        [filter:linesman]
        paste.filter_factory = linesman.middleware:profiler_filter_factory
        filename = %(here)s/s.db

        [app:main]
        use = call:support.apps:make_hello
        filter-with = linesman
        """,
        # The same through call: (PasteDeploy's own shorthand).
        """
        [filter:linesman]
        use = call:linesman.middleware:profiler_filter_factory
        filename = %(here)s/s.db

        [app:main]
        use = call:support.apps:make_hello
        filter-with = linesman
        """,
        # And as a filter-app (PasteDeploy's call: knows no filter-apps).
        """
        [filter-app:main]
        paste.filter_app_factory = linesman.middleware:profiler_filter_app_factory
        filename = %(here)s/s.db
        next = hello

        [app:hello]
        use = call:support.apps:make_hello
        """,
    ],
    ids=["filter_factory", "call_filter_factory", "filter_app_factory"],
)
def test_an_ini_naming_linesman_middleware_loads(tmp_path, sections):
    ini = tmp_path / "app.ini"
    ini.write_text(textwrap.dedent(sections))
    app = loadapp(f"config:{ini}")
    assert isinstance(app, linesman.middleware.ProfilingMiddleware)
    assert app.backend.filename == str(tmp_path / "s.db")
    assert call(app, "/hello", **token_environ(app)).chunks == [b"hello"]
    assert app.flush(10)
    assert len(app.backend.get_all()) == 1
    app.close()


# -- linesman.backends -------------------------------------------------------------------
def test_the_base_backend_takes_any_arguments_and_asks_for_the_seven():
    backend = linesman.backends.base.Backend("positional", filename="x.db", other=1)
    session = linesman.ProfilingSession(profiled_stats())
    for name, arguments in [
        ("setup", ()),
        ("add", (session,)),
        ("delete", (session.uuid,)),
        ("delete_all", ()),
        ("get", (session.uuid,)),
        ("get_all", ()),
    ]:
        with pytest.raises(NotImplementedError):
            getattr(backend, name)(*arguments)
    assert [name for name in SEVEN if callable(getattr(backend, name))] == SEVEN


def test_a_backend_written_for_the_original_works_under_the_middleware(tmp_path):
    """Options passed up through super().__init__, the timestamp's timetuple()
    and whole sessions pickled: the original's own SQLite backend did all three."""
    middleware = linesman.middleware.ProfilingMiddleware(
        apps.hello_app,
        backend="support.original_backend:OriginalStyleBackend",
        filename=str(tmp_path / "s.db"),
    )
    before = time.time()
    for number in range(3):
        call(middleware, f"/page/{number}", **token_environ(middleware))
    assert middleware.flush(10)
    stored = middleware.backend.get_all()
    assert [s.path for s in stored.values()] == ["/page/0", "/page/1", "/page/2"]
    session = next(iter(stored.values()))
    assert isinstance(session.timestamp, datetime)
    assert before - 1 <= session.started <= time.time()
    middleware.close()


def test_a_backend_factory_function_is_taken(tmp_path):
    middleware = linesman.middleware.ProfilingMiddleware(
        apps.hello_app,
        backend="support.original_backend:make_backend",
        filename=str(tmp_path / "s.db"),
    )
    assert isinstance(middleware.backend, OriginalStyleBackend)
    call(middleware, "/made", **token_environ(middleware))
    assert middleware.flush(10)
    assert [s.path for s in middleware.backend.get_all().values()] == ["/made"]
    middleware.close()


@pytest.mark.parametrize(
    "spec, options, message",
    [
        ("support.original_backend:make_backend", {"colour": "red"}, "'colour'"),
        ("support.original_backend:not_a_backend", {}, "returned dict, not a"),
        ("support.original_backend:nothing_here", {}, "has no class or function"),
        ("support.original_backend", {}, "module.path:Name"),
    ],
)
def test_a_wrong_backend_factory_is_a_start_up_error_naming_it(spec, options, message):
    with pytest.raises(ConfigError, match=message):
        linesman.middleware.ProfilingMiddleware(apps.hello_app, backend=spec, **options)


class Quiet(linesman.backends.base.Backend):
    """A subclass that keeps the base's catch-all constructor."""


def test_a_subclass_keeping_the_base_init_takes_no_option():
    Quiet("anything", filename="x")  # the original's catch-all
    with pytest.raises(ConfigError, match="'filename'"):
        create_backend(f"{__name__}:Quiet", {"filename": "x"})


@pytest.mark.parametrize("kind", ["sqlite", "pickle"])
def test_the_bundled_backends_answer_the_seven_as_the_original(tmp_path, kind):
    if kind == "sqlite":
        backend = linesman.backends.sqlite.SqliteBackend(filename=str(tmp_path / "s.db"))
    else:
        backend = linesman.backends.pickle.PickleBackend(filename=str(tmp_path / "s.dat"))
    backend.setup()
    first = linesman.ProfilingSession(profiled_stats(), {"PATH_INFO": "/a"}, 1000.0)
    second = linesman.ProfilingSession(profiled_stats(), {"PATH_INFO": "/b"}, 2000.0)
    backend.add(first)
    backend.add(second)
    every = backend.get_all()
    assert isinstance(every, OrderedDict) and list(every) == [first.uuid, second.uuid]
    assert backend.get(first.uuid).path == "/a"
    assert backend.get("no-such-session") is None
    assert backend.delete(first.uuid) == 1 and backend.delete(first.uuid) == 0
    assert backend.delete_all() == 1 and backend.get_all() == OrderedDict()
    pickle.dumps(second)  # sessions still pickle, as the original's did
    if kind == "sqlite":
        backend.close()
