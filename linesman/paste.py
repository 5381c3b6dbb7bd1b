"""The PasteDeploy factories behind ``egg:linesman#profiler``: a filter
(``filter-with``, pipelines) and a filter-app. Options arrive as the ini file's
strings and are checked before any app is built.

They are defined in :mod:`linesman.middleware`, where the original linesman
had them; this module is the name the entry points have always used."""

from __future__ import annotations

from linesman.middleware import profiler_filter_app_factory, profiler_filter_factory

__all__ = ["profiler_filter_factory", "profiler_filter_app_factory"]
