"""The package's layout is its architecture: imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

import linesman

PACKAGE = Path(linesman.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """Every linesman module this code imports at run time, however late (an
    import inside a function counts); ``if TYPE_CHECKING:`` blocks do not."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if child in modules:
                    found.add(child)
                elif node.module in modules:
                    found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {
        name: _imports(ast.parse(path.read_text()), modules) - {name}
        for name, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return path[path.index(imported) :] + [imported]
            if imported not in state:
                cycle = walk(imported)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = walk(module)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_circle_through_a_late_import():
    tree = ast.parse("import os\ndef f():\n    from pkg.b import thing\n")
    assert _imports(tree, {"pkg.a", "pkg.b"}) == {"pkg.b"}
    assert find_cycle({"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}) == [
        "pkg.a",
        "pkg.b",
        "pkg.c",
        "pkg.a",
    ]
    typing_only = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import thing\n"
    )
    assert _imports(typing_only, {"pkg.b"}) == set()


def test_no_module_imports_itself_back_through_others():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


# The one-way flow: a layer never imports those that come after it.
FORBIDDEN = {
    "linesman.model": (
        "linesman.web",
        "linesman.middleware",
        "linesman.storage",
        "linesman.backends",
        "linesman.analysis",
        "linesman.profiling",
        "linesman.cli",
        "linesman.exporters",
        "linesman.paste",
    ),
    "linesman.profiling": (
        "linesman.web",
        "linesman.middleware",
        "linesman.storage",
        "linesman.backends",
        "linesman.cli",
    ),
    "linesman.analysis": (
        "linesman.web",
        "linesman.middleware",
        "linesman.storage",
        "linesman.cli",
    ),
    "linesman.backends": (
        "linesman.web",
        "linesman.middleware",
        "linesman.storage",
        "linesman.analysis",
        "linesman.cli",
        "linesman.config",
    ),
    "linesman.storage": (
        "linesman.web",
        "linesman.middleware",
        "linesman.cli",
        "linesman.analysis",
    ),
    "linesman.exporters": (
        "linesman.web",
        "linesman.middleware",
        "linesman.storage",
        "linesman.cli",
    ),
    "linesman.web": ("linesman.middleware", "linesman.cli", "linesman.profiling"),
}


def test_each_layer_imports_only_the_layers_before_it():
    wrong = []
    for module, imported in import_graph().items():
        for layer, banned in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                wrong += [
                    f"{module} imports {name}"
                    for name in sorted(imported)
                    if any(name == b or name.startswith(b + ".") for b in banned)
                ]
    assert not wrong, "\n".join(wrong)


def test_every_bundled_backend_is_both_stores(tmp_path):
    """A seven-method backend gets the rest from Backend; the bundled ones keep
    their controls in the store itself (their own methods, not the process's)."""
    from linesman.backends.base import Backend
    from linesman.backends.pickle import PickleBackend
    from linesman.backends.process_controls import ProcessControls
    from linesman.backends.protocols import ControlStore, SessionStore
    from linesman.backends.sqlite import SqliteBackend

    class SevenMethods(Backend):
        def setup(self): ...
        def add(self, session): ...
        def get(self, session_uuid): ...
        def get_all(self): ...
        def delete(self, session_uuid): ...
        def delete_many(self, session_uuids): ...
        def delete_all(self): ...

    for backend in (
        SevenMethods(),
        SqliteBackend(str(tmp_path / "s.db")),
        PickleBackend(str(tmp_path / "s.dat")),
    ):
        assert isinstance(backend, SessionStore) and isinstance(backend, ControlStore)
    assert SqliteBackend.get_enabled is not ProcessControls.get_enabled
    assert SevenMethods.get_enabled is ProcessControls.get_enabled
