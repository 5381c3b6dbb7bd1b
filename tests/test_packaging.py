"""A real wheel carries the templates, static files and demo ini inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import linesman
from linesman.ui import asset_folder

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_asset(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300,
                   cwd=tmp_path)
    wheel = next(tmp_path.glob("linesman-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"linesman/templates/{p.name}" for p in (ROOT / "templates").glob("*.mako")}
    expected |= {f"linesman/static/{p.relative_to(ROOT / 'static')}"
                 for p in (ROOT / "static").rglob("*") if p.is_file()}
    expected |= {"linesman/demo/demo.ini", "linesman/backends/sqlite.py"}
    assert expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "profiler = linesman.middleware:profiler_filter_factory" in text


def test_the_ui_finds_its_assets_where_linesman_was_imported_from():
    package = Path(linesman.__file__).parent
    if os.environ.get("LINESMAN_TEST_INSTALLED") == "1":
        assert ROOT not in package.parents, f"tests ran on the checkout, not the wheel: {package}"
        assert asset_folder("templates") == package / "templates"
    assert (asset_folder("templates") / "list.mako").is_file()
    assert (asset_folder("static") / "linesman.css").is_file()
