"""A real wheel carries the templates, static files and demo ini inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import linesman
from linesman.web.ui import asset_folder

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_asset(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("linesman-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"linesman/templates/{p.name}" for p in (ROOT / "templates").glob("*.mako")}
    expected |= {
        f"linesman/static/{p.relative_to(ROOT / 'static')}"
        for p in (ROOT / "static").rglob("*")
        if p.is_file()
    }
    expected |= {"linesman/demo/demo.ini", "linesman/backends/sqlite.py"}
    assert expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "profiler = linesman.paste:profiler_filter_factory" in text


def test_the_ui_finds_its_assets_where_linesman_was_imported_from():
    package = Path(linesman.__file__).parent
    if os.environ.get("LINESMAN_TEST_INSTALLED") == "1":
        assert ROOT not in package.parents, f"tests ran on the checkout, not the wheel: {package}"
        assert asset_folder("templates") == package / "templates"
    assert (asset_folder("templates") / "list.mako").is_file()
    assert (asset_folder("static") / "linesman.css").is_file()


def test_the_benchmark_does_not_depend_on_the_test_suite():
    """`pip install '.[bench]' && python -m bench` has no pytest and no tests folder."""
    import ast

    bench = Path(__file__).resolve().parent.parent / "bench"
    for source in bench.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top not in {"pytest", "tests", "conftest"} and not top.startswith("test_"), (
                    f"{source.name} imports {name}"
                )
        assert '"tests"' not in source.read_text(), f"{source.name} reaches into tests/"


def test_a_noisy_benchmark_figure_says_so_instead_of_a_verdict(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    from bench.run import ratio_line

    ratio_line("steady", [1.00, 1.01, 1.00, 0.99, 1.00], [1.0, 1.0, 1.0, 1.0, 1.0], 1.05)
    ratio_line("noisy", [1.0, 1.7, 1.6, 0.9, 2.0], [1.0, 0.9, 1.1, 1.0, 1.0], 1.05)
    ratio_line("slower", [2.0, 2.1, 2.0, 1.9, 2.0], [1.0, 1.0, 1.0, 1.0, 1.0], 1.05)
    steady, noisy, slower = capsys.readouterr().out.splitlines()
    assert steady.endswith("ok") and "(" in steady
    assert "too noisy to judge" in noisy and "MISSED" not in noisy
    assert slower.endswith("MISSED")
