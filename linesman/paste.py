"""The PasteDeploy factories behind ``egg:linesman#profiler``: a filter
(``filter-with``, pipelines) and a filter-app. Options arrive as the ini file's
strings and are checked before any app is built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from linesman.config import parse_settings
from linesman.middleware import ProfilingMiddleware

__all__ = ["profiler_filter_factory", "profiler_filter_app_factory"]


def profiler_filter_factory(global_conf: dict, **options: Any) -> Callable:
    """PasteDeploy ``paste.filter_factory`` for ``egg:linesman#profiler``."""
    parse_settings(options)  # a wrong option fails here, before any app is built

    def linesman_filter(app: Callable) -> ProfilingMiddleware:
        return ProfilingMiddleware(app, **options)

    return linesman_filter


def profiler_filter_app_factory(
    app: Callable, global_conf: dict, **options: Any
) -> ProfilingMiddleware:
    """PasteDeploy ``paste.filter_app_factory`` for ``egg:linesman#profiler``."""
    return ProfilingMiddleware(app, **options)
