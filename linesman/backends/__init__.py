"""Finding and building the backend named in the configuration.

``backend = module.path:ClassName`` (or ``module.path:function``, a factory
that returns a backend, as the original allowed) is imported here, and the
options that are not linesman's own are checked against the class's
constructor or the factory's signature, so an option the backend does not take
is a start-up error that names it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from linesman.backends.base import Backend, BackendError
from linesman.options import ConfigError

__all__ = [
    "Backend",
    "BackendError",
    "load_backend_class",
    "load_backend_factory",
    "create_backend",
    "open_store",
    "store_options",
]


def load_backend_factory(spec: str) -> Callable[..., Any]:
    """The class or function ``module.path:name`` names."""
    module_name, _, name = spec.rpartition(":")
    if not module_name or not name:
        raise ConfigError(
            f"linesman option backend = {spec!r}: give module.path:ClassName "
            "(or module.path:function)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"linesman option backend = {spec!r}: cannot import {module_name}: {exc}"
        ) from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ConfigError(
            f"linesman option backend = {spec!r}: {module_name} has no class or function {name}"
        )
    return factory


def load_backend_class(spec: str) -> type:
    """The class ``module.path:ClassName`` names (a factory function is refused)."""
    backend_class = load_backend_factory(spec)
    if not isinstance(backend_class, type):
        module_name, _, name = spec.rpartition(":")
        raise ConfigError(f"linesman option backend = {spec!r}: {module_name} has no class {name}")
    return backend_class


def _check_options(factory: Callable[..., Any], options: dict[str, Any]) -> None:
    if getattr(factory, "__init__", None) is Backend.__init__:
        # A subclass that keeps the base's catch-all (*args, **kwargs), as the
        # original's did, takes no option: one given is a mistake worth naming.
        parameters: Any = ()
    else:
        parameters = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    for name in sorted(options):
        if name not in accepted:
            raise ConfigError(
                f"unknown linesman option {name!r}: it is not one of "
                f"linesman's and {_name(factory)} does not take it "
                f"(it takes: {', '.join(sorted(accepted)) or 'nothing'})"
            )


def _name(factory: Callable[..., Any]) -> str:
    return getattr(factory, "__qualname__", None) or repr(factory)


def create_backend(spec: str, options: dict[str, Any]) -> Backend:
    """The backend instance, not yet set up (setup may touch a broken store)."""
    factory = load_backend_factory(spec)
    _check_options(factory, options)
    try:
        backend = factory(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"linesman backend {_name(factory)}: {exc}") from None
    if not isinstance(backend, Backend):
        raise ConfigError(
            f"linesman option backend = {spec!r}: {_name(factory)} returned "
            f"{type(backend).__name__}, not a linesman.backends.base.Backend"
        )
    return backend


PICKLE_EXTENSIONS = (".dat", ".pickle", ".pkl")


def store_options(spec: str, read_only: bool = False) -> dict[str, str]:
    """The ``backend`` option and the backend's own for what a user types: a SQLite
    or pickle file, or a database URL. ``read_only`` opens a SQLite file
    read-only (SQLite's ``mode=ro``), so a command that only reads never changes it."""
    import os
    from urllib.parse import quote

    if "://" in spec:
        return {"backend": "linesman.backends.sqlalchemy:SQLAlchemyBackend", "url": spec}
    if os.path.splitext(spec)[1].lower() in PICKLE_EXTENSIONS:
        return {"backend": "linesman.backends.pickle:PickleBackend", "filename": spec}
    if read_only:
        spec = "file:" + quote(os.path.abspath(spec)) + "?mode=ro"
    return {"backend": "linesman.backends.sqlite:SqliteBackend", "filename": spec}


def open_store(spec: str, read_only: bool = False) -> Backend:
    """The backend for what a user types (see ``store_options``), not yet set up."""
    options = store_options(spec, read_only)
    return create_backend(options.pop("backend"), options)
