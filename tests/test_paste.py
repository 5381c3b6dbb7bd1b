"""The PasteDeploy wiring users write in their ini files."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest
from paste.deploy import loadapp
from support import apps
from support.login import token_environ
from support.wsgi_client import SESSION_HEADER, call

from linesman.config import ConfigError
from linesman.middleware import ProfilingMiddleware
from linesman.paste import profiler_filter_app_factory, profiler_filter_factory


def write_ini(folder, filter_lines):
    ini = folder / "app.ini"
    ini.write_text(
        textwrap.dedent("""
        [filter:linesman]
        use = egg:linesman#profiler
        {filter_lines}

        [app:main]
        use = call:support.apps:make_hello
        filter-with = linesman
    """).format(filter_lines=filter_lines)
    )
    return ini


def test_the_entry_points_are_registered():
    filters = {ep.name: ep.value for ep in entry_points(group="paste.filter_factory")}
    filter_apps = {ep.name: ep.value for ep in entry_points(group="paste.filter_app_factory")}
    assert filters["profiler"] == "linesman.paste:profiler_filter_factory"
    assert filter_apps["profiler"] == "linesman.paste:profiler_filter_app_factory"


def test_loadapp_builds_a_profiled_app_from_an_ini(tmp_path):
    ini = write_ini(
        tmp_path,
        "backend = linesman.backends.sqlite:SqliteBackend\n"
        "filename = %(here)s/sessions.db\nmax_sessions = 10",
    )
    app = loadapp(f"config:{ini}")
    assert isinstance(app, ProfilingMiddleware)
    assert app.settings.max_sessions == 10
    assert app.backend.filename == str(tmp_path / "sessions.db")
    outcome = call(app, "/hello", **token_environ(app))
    assert outcome.chunks == [b"hello"]
    assert outcome.header(SESSION_HEADER)
    assert app.flush(10)
    assert [s.path for s in app.backend.get_all().values()] == ["/hello"]
    app.close()


def test_a_wrong_option_in_the_ini_fails_at_load_naming_it(tmp_path):
    ini = write_ini(tmp_path, "filename = %(here)s/s.db\nsample_rate = lots")
    with pytest.raises(ConfigError, match="sample_rate = 'lots'"):
        loadapp(f"config:{ini}")


def test_an_option_no_one_takes_fails_at_load_naming_it(tmp_path):
    ini = write_ini(tmp_path, "filename = %(here)s/s.db\nfile_name = oops")
    with pytest.raises(ConfigError, match="'file_name'"):
        loadapp(f"config:{ini}")


def test_the_factories_can_be_called_directly(tmp_path):
    options = {"filename": str(tmp_path / "s.db")}
    wrapped = profiler_filter_factory({"here": str(tmp_path)}, **options)(apps.hello_app)
    direct = profiler_filter_app_factory(apps.hello_app, {}, **options)
    for middleware in (wrapped, direct):
        assert isinstance(middleware, ProfilingMiddleware)
        assert middleware.app is apps.hello_app
        middleware.close()
    with pytest.raises(ConfigError, match="enabled"):
        profiler_filter_factory({}, enabled="sometimes")
