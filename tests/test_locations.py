"""Files said short: from their site-packages, the standard library, or the app's folder."""

from __future__ import annotations

import pytest

from linesman.model.locations import short_path, short_paths

DJANGO = "/home/u/proj/.venv/lib/python3.11/site-packages/django/core/handlers/base.py"
FILES = [
    DJANGO,
    "/usr/lib/python3.12/json/decoder.py",
    "/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py",
    "/usr/lib/python3/dist-packages/six.py",
    "/home/u/proj/mysite/views.py",
    "/home/u/proj/mysite/admin/site.py",
    "~",
    "<frozen importlib._bootstrap>",
]


def test_each_file_is_said_from_where_it_comes():
    short = short_paths(FILES)
    assert short[DJANGO] == "django/core/handlers/base.py"
    assert short["/usr/lib/python3.12/json/decoder.py"] == "json/decoder.py"
    assert short["/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py"] == "threading.py"
    assert short["/usr/lib/python3/dist-packages/six.py"] == "six.py"
    # The app's own files, from the folder above the one they share: its name stays.
    assert short["/home/u/proj/mysite/views.py"] == "mysite/views.py"
    assert short["/home/u/proj/mysite/admin/site.py"] == "mysite/admin/site.py"
    assert "~" not in short and "<frozen importlib._bootstrap>" not in short
    assert not any(value.startswith("/") for value in short.values())


def test_a_lone_app_file_keeps_its_folder_and_a_root_file_its_path():
    assert short_paths(["/srv/app/main.py"]) == {"/srv/app/main.py": "app/main.py"}
    assert short_paths(["/main.py", "/x.py"]) == {"/main.py": "/main.py", "/x.py": "/x.py"}
    assert short_path("<string>") == "<string>" and short_path("~") == "~"


def test_a_nested_environment_is_cut_at_its_last_site_packages():
    nested = "/opt/site-packages/tool/venv/lib/python3.11/site-packages/pkg/mod.py"
    assert short_paths([nested])[nested] == "pkg/mod.py"


def test_relative_names_beside_absolute_ones_are_said_as_they_are():
    """A Mako template's code is named "memory:0x7f..." beside the app's files; the
    two kinds once made the comparison page answer 500."""
    short = short_paths(["memory:0x7f3a", "/srv/app/views.py", "/srv/app/urls.py", "x.py"])
    assert short == {
        "memory:0x7f3a": "memory:0x7f3a",
        "x.py": "x.py",
        "/srv/app/views.py": "app/views.py",
        "/srv/app/urls.py": "app/urls.py",
    }


def test_own_time_groups_by_where_files_live_unless_narrowed():
    from linesman.model.callgraph import package_times
    from linesman.model.rows import FunctionStats

    rows = [
        FunctionStats(DJANGO, 1, "get_response", 1, 0, 0.004, 0.010),
        FunctionStats("/usr/lib/python3.12/json/decoder.py", 1, "decode", 1, 0, 0.002, 0.002),
        FunctionStats("~", 0, "<built-in method time.sleep>", 1, 0, 0.003, 0.003),
        FunctionStats("/home/u/proj/mysite/views.py", 1, "index", 1, 0, 0.001, 0.011),
        FunctionStats("/home/u/proj/mysite/models.py", 1, "load", 1, 0, 0.0005, 0.0005),
    ]
    grouped = dict(package_times(rows))
    assert grouped == pytest.approx(
        {"django": 0.004, "built-ins": 0.003, "standard library": 0.002, "mysite": 0.0015}
    )
    assert package_times(rows)[0][0] == "django"
    narrowed = dict(package_times(rows, ("mysite",)))
    assert narrowed == pytest.approx({"mysite": 0.0015, "other": 0.009})
