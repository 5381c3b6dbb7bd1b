"""The README's examples, run: they cannot go stale."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import django  # noqa: F401 - the recipes need the real frameworks
import flask  # noqa: F401
import pyramid  # noqa: F401
from paste.deploy import loadapp
from support.login import token_environ
from webtest import TestApp

from linesman.backends.sqlite import SqliteBackend
from linesman.middleware import ProfilingMiddleware

README = Path(__file__).resolve().parent.parent / "README.rst"
STORE = "/var/tmp/myapp-sessions.db"


def recipe(name: str) -> str:
    """The literal block after ``.. recipe: NAME`` in the README."""
    text = README.read_text()
    start = text.index(f".. recipe: {name}\n")
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", text[start:]).group(1)
    return textwrap.dedent(block).strip() + "\n"


def stored_functions(store: Path) -> set[str]:
    backend = SqliteBackend(filename=str(store))
    names = {f.name for s in backend.get_all().values() for f in s.functions}
    backend.close()
    return names


def test_the_python_recipe(tmp_path):
    namespace: dict = {}
    exec(recipe("python").replace(STORE, str(tmp_path / "s.db")), namespace)
    app = namespace["app"]
    assert isinstance(app, ProfilingMiddleware)
    assert TestApp(app).get("/").body == b"hello"
    assert app.flush(10)
    assert "app" in stored_functions(tmp_path / "s.db")
    app.close()


def test_the_flask_recipe(tmp_path):
    namespace = {"__name__": "recipe_app"}
    exec(recipe("flask").replace(STORE, str(tmp_path / "s.db")), namespace)
    app = namespace["app"]
    response = TestApp(app).get(
        "/orders", extra_environ={"REMOTE_ADDR": "127.0.0.1", **token_environ(app.wsgi_app)}
    )
    assert response.text.startswith("0,1,4,9")
    assert "X-Linesman-Session" in response.headers
    assert app.wsgi_app.flush(10)
    assert "orders" in stored_functions(tmp_path / "s.db")
    app.wsgi_app.close()


def test_the_pyramid_recipe(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text(
        recipe("pyramid").replace("use = egg:myapp", "use = call:support.pyramid_app:main")
    )
    app = loadapp(f"config:{ini}")
    response = TestApp(app).get("/orders")
    assert response.text.startswith("orders: 0,1,4")
    assert app.flush(10)
    assert "orders_view" in stored_functions(tmp_path / "myapp-sessions.db")
    app.close()


def test_the_django_recipe(tmp_path):
    store = tmp_path / "s.db"
    source = (
        recipe("django")
        .replace(STORE, str(store))
        .replace("mysite.settings", "django_site.settings")
    )
    script = source + textwrap.dedent("""
        from webtest import TestApp
        response = TestApp(application).get("/invoice", extra_environ={
            "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_LINESMAN_TOKEN": application.current_signer().login_token})
        assert response.text.startswith("invoice "), response.text
        assert "X-Linesman-Session" in response.headers
        assert application.flush(10)
        print("ok")
    """)
    tests = str(Path(__file__).resolve().parent)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tests,
        env={"PYTHONPATH": tests, "PATH": ""},
    )
    assert result.stdout.strip() == "ok", result.stderr
    assert "invoice_view" in stored_functions(store)


def test_the_readme_names_every_option():
    from linesman.config import OPTIONS

    text = README.read_text()
    missing = [name for name in OPTIONS if not re.search(rf"^{name}\s", text, re.M)]
    assert missing == []
